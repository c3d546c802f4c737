package provider_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/instantclone/terraform-provider-instantclone/internal/acctest"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// checkNothingOn checks that no clone of pool folder and no parent runs on host.
func checkNothingOn(t *testing.T, env *acctest.Env, folder, host string) resource.TestCheckFunc {
	return checkNone(t, env, host+", which is in maintenance", func(vm engine.VM) bool { return vm.Host == host }, folder, engine.ParentFolder)
}

// checkNone checks that no VM in the named folders is where: it is, in words, what.
func checkNone(t *testing.T, env *acctest.Env, what string, where func(engine.VM) bool, folders ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, name := range folders {
			for _, vm := range env.VMsInFolder(t, name) {
				if where(vm) {
					return fmt.Errorf("%s (in %s) is on %s", vm.Name, name, what)
				}
			}
		}
		return nil
	}
}

// TestAccPool_hostMaintenance: an administrator puts a host into maintenance mode; the plan
// shows the pool drifted, and the apply moves its clones to the other host and removes its
// parents there, which lets the host enter maintenance; a resize meanwhile puts nothing on it;
// once the host is back, the next plan shows the hosts unbalanced and the apply spreads the
// clones again. The plan is empty after each apply.
func TestAccPool_hostMaintenance(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	// The host that does not run the golden VM: the golden VM keeps running wherever it is.
	var patched string
	for _, h := range env.Hosts() {
		if h != env.Inv.Golden.Host.Ref.Value {
			patched = h
		}
	}
	two := []string{env.Datastore(0), env.Datastore(1)}
	config := func(size int) string {
		return poolConfig(env, poolArgs{label: "test", name: "mm", datastores: two, size: size, rebalance: "immediate"})
	}
	var mm *acctest.Maintenance
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config(4), Check: expectClones(t, env, "mm", "mm", 4, []int{2, 2}, two)},
			{
				PreConfig:          func() { mm = env.EnterMaintenance(t, patched) },
				Config:             config(4),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config: config(4),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkNothingOn(t, env, "mm", patched),
					func(*terraform.State) error {
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						defer cancel()
						if err := mm.Wait(ctx); err != nil {
							return fmt.Errorf("host %s did not enter maintenance mode once the pool left it: %v", patched, err)
						}
						return nil
					},
					resource.TestCheckResourceAttr("instantclone_pool.test", "drift.#", "0"),
				),
			},
			{Config: config(6), Check: checkNothingOn(t, env, "mm", patched)},
			{
				PreConfig:          func() { mm.Exit(t) },
				Config:             config(6),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config: config(6),
				Check: resource.ComposeAggregateTestCheckFunc(
					expectClones(t, env, "mm", "mm", 6, []int{3, 3}, two),
					env.CheckInventoryMatchesState(t),
				),
			},
		},
	})
}

// TestAccPool_hostJoins: a host added to the cluster (its datastores mounted) makes the next
// plan show the hosts unbalanced, and the immediate apply gives it its share.
func TestAccPool_hostJoins(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	one := []string{env.Datastore(0)}
	config := poolConfig(env, poolArgs{label: "test", name: "grow", datastores: one, size: 6, rebalance: "immediate"})
	var added string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, Check: expectClones(t, env, "grow", "grow", 6, []int{6}, one)},
			{PreConfig: func() { added = env.AddHost(t) }, Config: config, PlanOnly: true, ExpectNonEmptyPlan: true},
			{
				Config: config,
				Check: func(*terraform.State) error {
					per := map[string]int{}
					for _, vm := range env.VMsInFolder(t, "grow") {
						per[vm.Host]++
					}
					if per[added] != 2 || len(per) != 3 {
						return fmt.Errorf("clones per host %v; want 2 on each of three, the new %s too", per, added)
					}
					return nil
				},
			},
		},
	})
}
