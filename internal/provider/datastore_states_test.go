package provider_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/acctest"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// checkNothingOnDatastore checks that no clone of pool folder and no replica or parent uses ds.
func checkNothingOnDatastore(t *testing.T, env *acctest.Env, folder, ds string) resource.TestCheckFunc {
	return checkNone(t, env, ds+", which takes no clone", func(vm engine.VM) bool { return vm.Datastore == ds }, folder, engine.ReplicaFolder, engine.ParentFolder)
}

func datastoreSummary(t *testing.T, env *acctest.Env, ds string) types.DatastoreSummary {
	t.Helper()
	var d mo.Datastore
	if err := property.DefaultCollector(env.Client.Vim()).RetrieveOne(context.Background(), types.ManagedObjectReference{Type: "Datastore", Value: ds}, []string{"summary"}, &d); err != nil {
		t.Fatal(err)
	}
	return d.Summary
}

// TestAccPool_datastoreStates: a datastore an administrator puts into maintenance mode makes
// the plan non-empty, and the apply moves the pool's clones and internal VMs off it, so that
// it enters maintenance mode; a datastore below the pool's free-space floor is avoided and
// evacuated the same way; a clone limit the datastores cannot hold fails with how many fit
// where, and changes nothing. The plan is empty after each apply.
func TestAccPool_datastoreStates(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	three := []string{env.Datastore(1), env.Datastore(2), env.Datastore(3)}
	maint, full := env.Datastore(3), env.Datastore(2)
	config := func(size int, extra string) string {
		return poolConfig(env, poolArgs{label: "test", name: "st", datastores: three, size: size, rebalance: "immediate", extra: extra})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config(6, ""), Check: expectClones(t, env, "st", "st", 6, []int{2, 2, 2}, three)},
			{
				PreConfig: func() {
					if _, err := methods.DatastoreEnterMaintenanceMode(context.Background(), env.Client.Vim(), &types.DatastoreEnterMaintenanceMode{This: types.ManagedObjectReference{Type: "Datastore", Value: maint}}); err != nil {
						t.Fatal(err)
					}
				},
				Config:             config(6, ""),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config: config(6, ""),
				Check: resource.ComposeAggregateTestCheckFunc(
					expectClones(t, env, "st", "st", 6, []int{3, 3, 0}, three),
					checkNothingOnDatastore(t, env, "st", maint),
					func(*terraform.State) error {
						for deadline := time.Now().Add(10 * time.Second); datastoreSummary(t, env, maint).MaintenanceMode != string(types.DatastoreSummaryMaintenanceModeStateInMaintenance); {
							if time.Now().After(deadline) {
								return fmt.Errorf("datastore %s did not enter maintenance mode once the pool left it", maint)
							}
							time.Sleep(50 * time.Millisecond)
						}
						return nil
					},
				),
			},
			{
				// Another tenant fills a datastore to 1 GB free: below the pool's floor, it
				// takes no clone, and its clones move. (The image's replica there goes with
				// them and gives back its 16 GB: the floor is above that.)
				PreConfig: func() {
					if err := env.Server.UseSpace(full, datastoreSummary(t, env, full).FreeSpace-1<<30); err != nil {
						t.Fatal(err)
					}
				},
				Config: config(8, "min_free_space_gb = 20"),
				Check: resource.ComposeAggregateTestCheckFunc(
					expectClonesOn(t, env, "st", 8, map[string]int{env.Datastore(1): 8}),
					checkNothingOnDatastore(t, env, "st", full),
				),
			},
			{
				Config:      config(8, "min_free_space_gb = 20\n  max_clones_per_datastore = 5"),
				ExpectError: regexp.MustCompile(`(?s)Not enough room.*needs\s+8\s+clones.*hold\s+at\s+most\s+5.*` + env.Datastore(1) + `:\s+5`),
			},
			{
				Config: config(8, "min_free_space_gb = 20"),
				Check:  resource.ComposeAggregateTestCheckFunc(expectClonesOn(t, env, "st", 8, map[string]int{env.Datastore(1): 8}), env.CheckInventoryMatchesState(t)),
			},
		},
	})
}

// expectClonesOn checks how many clones of pool folder are on each datastore.
func expectClonesOn(t *testing.T, env *acctest.Env, folder string, size int, want map[string]int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		clones := env.VMsInFolder(t, folder)
		got := acctest.Distribution(clones)
		if len(clones) != size || fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("pool %s: %d clones, per datastore %v; want %d, %v", folder, len(clones), got, size, want)
		}
		return nil
	}
}

// TestAccPool_replicaDatastore: with replica_datastore_id the image's one replica is on that
// datastore, its parents (linked clones of it) and the clones on the pool's datastores; a
// push makes the new image's replica there too.
func TestAccPool_replicaDatastore(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	two, replicas := []string{env.Datastore(0), env.Datastore(1)}, env.Datastore(3)
	config := func(image string) string {
		return env.ProviderBlock() + imageHCL("img", "win11") + imageHCL("img2", "win11-v2") + poolHCL(env, poolArgs{
			label: "test", name: "rep", image: image, datastores: two, size: 4, extra: fmt.Sprintf("replica_datastore_id = %q", replicas),
		})
	}
	check := func(*terraform.State) error {
		reps := env.VMsInFolder(t, engine.ReplicaFolder)
		if len(reps) != 1 || reps[0].Datastore != replicas {
			return fmt.Errorf("replicas %v on %v, want one on %s", acctest.Names(reps), acctest.Distribution(reps), replicas)
		}
		for _, folder := range []string{engine.ParentFolder, "rep"} {
			for _, vm := range env.VMsInFolder(t, folder) {
				if vm.Datastore == replicas {
					return fmt.Errorf("%s (in %s) is on the replica datastore", vm.Name, folder)
				}
			}
		}
		return nil
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config("img"), Check: resource.ComposeAggregateTestCheckFunc(expectClones(t, env, "rep", "rep", 4, []int{2, 2}, two), check)},
			{Config: config("img2"), Check: resource.ComposeAggregateTestCheckFunc(expectClones(t, env, "rep", "rep", 4, []int{2, 2}, two), check, env.CheckInventoryMatchesState(t))},
		},
	})
}

// TestAccPool_poolsShareDatastores: two pools of five clones on the same two datastores end
// five and five: the second pool's odd clone goes to the datastore with more free space,
// not again to the first.
func TestAccPool_poolsShareDatastores(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	two := []string{env.Datastore(1), env.Datastore(2)}
	first := poolConfig(env, poolArgs{label: "a", name: "pa", datastores: two, size: 5})
	both := first + poolHCL(env, poolArgs{label: "b", name: "pb", datastores: two, size: 5})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{Config: first},
			{
				Config: both,
				Check: func(*terraform.State) error {
					total := acctest.Distribution(append(env.VMsInFolder(t, "pa"), env.VMsInFolder(t, "pb")...))
					if total[two[0]] != 5 || total[two[1]] != 5 {
						return fmt.Errorf("the two pools' clones per datastore: %v, want 5 and 5", total)
					}
					return nil
				},
			},
		},
	})
}
