package provider_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/acctest"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// Tests of what a real vCenter does that a lenient simulator would not: the simulator refuses
// what vCenter refuses (internal/vcsim/rules.go), and these show the provider within it.

// noRefusals checks the simulator refused no call the provider made.
func noRefusals(env *acctest.Env) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if r := env.Server.Refused(); len(r) > 0 {
			return fmt.Errorf("the simulator refused %d call(s) vCenter refuses: %v", len(r), r)
		}
		return nil
	}
}

// TestAccPool_parentsOutlast255: 300 clones on one host and one datastore, with parents that
// are not frozen: vCenter refuses the 256th instant clone of one parent, so the provider
// replaces parents before that.
func TestAccPool_parentsOutlast255(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{HostsPerCluster: 1, Datastores: 1})
	ds := []string{env.Datastore(0)}
	cfg := poolConfig(env, poolArgs{label: "big", name: "big", datastores: ds, size: 300})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: cfg,
				Check: resource.ComposeAggregateTestCheckFunc(
					expectClones(t, env, "big", "big", 300, []int{300}, ds),
					func(*terraform.State) error {
						parents := env.VMsInFolder(t, engine.ParentFolder)
						if len(parents) < 2 {
							return fmt.Errorf("%d parent(s) for 300 clones on one host: one parent cannot make more than 255", len(parents))
						}
						total := 0
						for _, p := range parents {
							n := env.Server.DeltaChain(p.ID)
							t.Logf("parent %s: %d instant clones, delta chain %d", p.Name, n, n)
							if n >= 255 {
								return fmt.Errorf("parent %s reached a delta chain of %d", p.Name, n)
							}
							total += n
						}
						if total != 300 {
							return fmt.Errorf("parents made %d instant clones, want 300", total)
						}
						return nil
					},
					noRefusals(env),
				),
			},
			{Config: cfg, PlanOnly: true},
		},
	})
}

// TestAccPool_placedWithSource: a vCenter that places instant clones as if spec.location were
// empty (the vSphere 8 SDK guide: "The location property of InstantCloneSpec is ignored")
// puts them in the datacenter's VM folder; the provider moves them into the pool's.
func TestAccPool_placedWithSource(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{InstantCloneIgnoresLocation: true})
	ds := []string{env.Datastore(0), env.Datastore(1)}
	cfg := poolConfig(env, poolArgs{label: "p", name: "placed", datastores: ds, size: 6})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: cfg,
				Check: resource.ComposeAggregateTestCheckFunc(
					expectClones(t, env, "placed", "placed", 6, []int{3, 3}, ds),
					func(*terraform.State) error {
						if strays := acctest.WithPrefix(env.VMsInFolder(t, "vm"), "placed-"); len(strays) > 0 {
							return fmt.Errorf("clones left in the VM folder: %v", acctest.Names(strays))
						}
						return nil
					},
				),
			},
			{Config: cfg, PlanOnly: true},
		},
	})
}

// TestAccPool_escapedName: vCenter stores "/" and "%" in names escaped; a pool named
// "VDI/Sales 50%" is found again, imported, and plans empty.
func TestAccPool_escapedName(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	cfg := poolConfig(env, poolArgs{label: "p", name: "VDI/Sales 50%", pattern: "sales-{n}", datastores: []string{env.Datastore(0)}, size: 2})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: cfg,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("instantclone_pool.p", "name", "VDI/Sales 50%"),
					expectClones(t, env, "VDI%2fSales 50%25", "sales", 2, []int{2}, []string{env.Datastore(0)}),
					noRefusals(env),
				),
			},
			{Config: cfg, PlanOnly: true},
			{ResourceName: "instantclone_pool.p", ImportState: true, ImportStateVerify: true, ImportStateVerifyIgnore: []string{"timeouts"}},
		},
	})
}

// TestAccPool_isoDatastore: a clone with an ISO mounted from another datastore lists that
// datastore too; where its files are still decides its placement, so the plan stays empty.
func TestAccPool_isoDatastore(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	ds := []string{env.Datastore(1)}
	cfg := poolConfig(env, poolArgs{label: "p", name: "iso", datastores: ds, size: 2})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg, Check: expectClones(t, env, "iso", "iso", 2, []int{2}, ds)},
			{
				PreConfig: func() { mountISO(t, env, "iso-1", env.Inv.Datastores[0].Name) },
				Config:    cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(*terraform.State) error {
					vm := readInventory(t, env, "iso").clones["iso-1"]
					if len(vm.Datastores) != 2 || vm.Datastore != env.Datastore(1) {
						return fmt.Errorf("iso-1 uses %v with its files on %s; want two datastores, files on %s", vm.Datastores, vm.Datastore, env.Datastore(1))
					}
					return nil
				},
			},
		},
	})
}

// mountISO adds a CD-ROM backed by an ISO on datastore to a clone, as an administrator would.
func mountISO(t *testing.T, env *acctest.Env, clone, datastore string) {
	t.Helper()
	ctx := context.Background()
	vm := object.NewVirtualMachine(env.Client.Vim(), types.ManagedObjectReference{Type: "VirtualMachine", Value: readInventory(t, env, "iso").clones[clone].ID})
	devices, err := vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ide, err := devices.FindIDEController("")
	if err != nil {
		t.Fatal(err)
	}
	cdrom, err := devices.CreateCdrom(ide)
	if err != nil {
		t.Fatal(err)
	}
	cdrom = devices.InsertIso(cdrom, fmt.Sprintf("[%s] tools.iso", datastore))
	if err := vm.AddDevice(ctx, cdrom); err != nil {
		t.Fatalf("mounting an ISO on %s: %v", clone, err)
	}
}

// TestAccPool_callsPerMethod: the vSphere methods one create of a pool calls, counted at the
// simulator, none of them refused.
func TestAccPool_callsPerMethod(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	ds := []string{env.Datastore(0), env.Datastore(1)}
	var before map[string]int
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				PreConfig: func() { before = env.Server.Calls() },
				Config:    poolConfig(env, poolArgs{label: "p", name: "count", datastores: ds, size: 10}),
				Check: resource.ComposeAggregateTestCheckFunc(
					noRefusals(env),
					func(*terraform.State) error {
						after := env.Server.Calls()
						var rows []string
						for m, n := range after {
							if d := n - before[m]; d > 0 {
								rows = append(rows, fmt.Sprintf("%-32s %5d", m, d))
							}
						}
						sort.Strings(rows)
						t.Logf("vSphere calls for publishing an image and creating a 10-clone pool over 2 datastores and 2 hosts (whole CLI run: refresh, plan, apply):\n%s", strings.Join(rows, "\n"))
						if d := after["InstantClone_Task"] - before["InstantClone_Task"]; d != 10 {
							return fmt.Errorf("%d InstantClone_Task calls for 10 clones", d)
						}
						return nil
					},
				),
			},
		},
	})
}
