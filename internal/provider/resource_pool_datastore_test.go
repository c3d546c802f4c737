package provider_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/instantclone/terraform-provider-instantclone/internal/acctest"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

func attachHCL(label, ds, rebalance string) string {
	r := ""
	if rebalance != "" {
		r = fmt.Sprintf("rebalance = %q", rebalance)
	}
	return fmt.Sprintf(`
resource "instantclone_pool_datastore" %q {
  pool_id      = instantclone_pool.test.id
  datastore_id = %q
  %s
}
`, label, ds, r)
}

// expectNoInternalOn checks no replica or parent is left on a datastore.
func expectNoInternalOn(t *testing.T, env *acctest.Env, ds string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		inv := readInventory(t, env, "")
		for _, vm := range append(inv.replicas, inv.parents...) {
			if vm.Datastore == ds {
				return fmt.Errorf("internal VM %s is still on detached datastore %s", vm.Name, ds)
			}
		}
		return nil
	}
}

func TestAccPoolDatastore_attachImmediate(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	two := []string{env.Datastore(0), env.Datastore(1)}
	three := append(append([]string{}, two...), env.Datastore(2))
	pool := poolConfig(env, poolArgs{label: "test", name: "att", datastores: two, size: 12})
	before := cloneIDs{}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: pool,
				Check: resource.ComposeAggregateTestCheckFunc(
					expectClones(t, env, "att", "att", 12, []int{6, 6}, two),
					func(*terraform.State) error { before.snapshot(t, env, "att"); return nil },
				),
			},
			{
				Config: pool + attachHCL("third", env.Datastore(2), "immediate"),
				Check: resource.ComposeAggregateTestCheckFunc(
					expectClones(t, env, "att", "att", 12, []int{4, 4, 4}, three),
					expectInternal(t, env, three),
					func(*terraform.State) error {
						if n := before.recreated(t, env, "att"); n != 4 {
							return fmt.Errorf("attaching a third datastore recreated %d clones, want exactly 4", n)
						}
						return nil
					},
				),
			},
			{
				// The pool does not fight the attachment: its next plan is empty.
				Config:           pool + attachHCL("third", env.Datastore(2), "immediate"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("instantclone_pool.test", tfjsonpath.New("all_datastore_ids"), knownvalue.SetSizeExact(3)),
					statecheck.ExpectKnownValue("instantclone_pool.test", tfjsonpath.New("datastore_ids"), knownvalue.SetSizeExact(2)),
				},
			},
			{
				Config:                  pool + attachHCL("third", env.Datastore(2), "immediate"),
				ResourceName:            "instantclone_pool_datastore.third",
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"rebalance"},
			},
			{
				// Detaching evacuates the datastore and removes its internal VMs.
				Config: pool,
				Check: resource.ComposeAggregateTestCheckFunc(
					expectClones(t, env, "att", "att", 12, []int{6, 6}, two),
					expectNoInternalOn(t, env, env.Datastore(2)),
					expectInternal(t, env, two),
				),
			},
		},
	})
}

func TestAccPoolDatastore_onProvision(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	two := []string{env.Datastore(0), env.Datastore(1)}
	three := append(append([]string{}, two...), env.Datastore(2))
	pool := func(size int) string {
		return poolConfig(env, poolArgs{label: "test", name: "lazy", datastores: two, size: size, rebalance: "on_provision"})
	}
	before := cloneIDs{}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: pool(12),
				Check: resource.ComposeAggregateTestCheckFunc(
					expectClones(t, env, "lazy", "lazy", 12, []int{6, 6}, two),
					func(*terraform.State) error { before.snapshot(t, env, "lazy"); return nil },
				),
			},
			{
				Config: pool(12) + attachHCL("third", env.Datastore(2), ""),
				Check: resource.ComposeAggregateTestCheckFunc(
					expectClones(t, env, "lazy", "lazy", 12, []int{6, 6, 0}, three),
					func(*terraform.State) error {
						if n := before.recreated(t, env, "lazy"); n != 0 {
							return fmt.Errorf("on_provision moved %d clones on attach", n)
						}
						return nil
					},
				),
			},
			{
				// Growth goes to the least-loaded datastore.
				Config: pool(15) + attachHCL("third", env.Datastore(2), ""),
				Check: resource.ComposeAggregateTestCheckFunc(
					expectClones(t, env, "lazy", "lazy", 15, []int{6, 6, 3}, three),
					func(*terraform.State) error {
						if n := before.recreated(t, env, "lazy"); n != 0 {
							return fmt.Errorf("growth recreated %d existing clones", n)
						}
						return nil
					},
				),
			},
		},
	})
}

func TestAccPoolDatastore_drift(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	two := []string{env.Datastore(0), env.Datastore(1)}
	cfg := poolConfig(env, poolArgs{label: "test", name: "drift", datastores: two, size: 6})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg, Check: expectClones(t, env, "drift", "drift", 6, []int{3, 3}, two)},
			{
				// Storage vMotion of a clone to a datastore the pool does not use.
				PreConfig: func() {
					vm := readInventory(t, env, "drift").clones["drift-2"]
					if err := env.Client.RelocateVM(context.Background(), vm.ID, env.Datastore(3)); err != nil {
						t.Fatal(err)
					}
				},
				Config:             cfg,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					acctest.ExpectDrift("instantclone_pool.test", "drift-2"),
					acctest.ExpectDrift("instantclone_pool.test", "not attached"),
				}},
				Check: expectClones(t, env, "drift", "drift", 6, []int{3, 3}, two),
			},
			{Config: cfg, PlanOnly: true},
			{
				// The pool's replica on a datastore removed out of band.
				PreConfig: func() {
					for _, vm := range readInventory(t, env, "").replicas {
						if vm.Datastore == env.Datastore(1) {
							if err := env.Client.DestroyVM(context.Background(), vm.ID); err != nil {
								t.Fatal(err)
							}
						}
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("instantclone_pool.test", plancheck.ResourceActionUpdate),
					acctest.ExpectDrift("instantclone_pool.test", "cp-replica-"),
				}},
				Check: expectInternal(t, env, two),
			},
			{Config: cfg, PlanOnly: true},
			{
				// Detaching the last datastore of a pool with clones is refused, changing nothing.
				Config:      strings.Replace(cfg, hclList(two), "[]", 1),
				ExpectError: regexp.MustCompile(`(?s)No datastores.*detaching the last one`),
			},
			{Config: cfg, Check: expectClones(t, env, "drift", "drift", 6, []int{3, 3}, two)},
			{
				// Another team attaches a datastore behind this configuration's back with
				// on_provision: this pool is immediate, so the uneven spread is drift.
				PreConfig: func() {
					folders, err := env.Client.Folders(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					for _, f := range folders {
						if f.Name == "drift" {
							if _, err := engine.New(env.Client, 4, nil).Attach(context.Background(), f.ID, env.Datastore(2), engine.RebalanceOnProvision); err != nil {
								t.Fatal(err)
							}
						}
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("instantclone_pool.test", plancheck.ResourceActionUpdate),
					acctest.ExpectDrift("instantclone_pool.test", "unbalanced"),
				}},
				Check: expectClones(t, env, "drift", "drift", 6, []int{2, 2, 2}, []string{env.Datastore(0), env.Datastore(1), env.Datastore(2)}),
			},
			{Config: cfg, PlanOnly: true},
		},
	})
}

func TestAccPoolDatastore_badInput(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	two := []string{env.Datastore(0), env.Datastore(1)}
	pool := poolConfig(env, poolArgs{label: "test", name: "badatt", datastores: two, size: 2})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{Config: pool},
			{
				Config:      pool + attachHCL("dup", env.Datastore(0), ""),
				ExpectError: regexp.MustCompile(`(?s)Datastore already attached`),
			},
			{
				Config: pool + `
resource "instantclone_pool_datastore" "nopool" {
  pool_id      = "group-v99999"
  datastore_id = "` + env.Datastore(2) + `"
}
`,
				ExpectError: regexp.MustCompile(`(?s)Pool not found.*group-v99999`),
			},
			{
				Config:      pool + attachHCL("missing", "datastore-99999", ""),
				ExpectError: regexp.MustCompile(`(?s)Datastore not found.*datastore-99999`),
			},
			{
				Config:        pool + attachHCL("third", env.Datastore(2), ""),
				ResourceName:  "instantclone_pool_datastore.third",
				ImportState:   true,
				ImportStateId: "no-slash",
				ExpectError:   regexp.MustCompile(`Expected POOL_ID/DATASTORE_ID`),
			},
			{Config: pool, Check: expectClones(t, env, "badatt", "badatt", 2, []int{1, 1}, two)},
		},
	})
}
