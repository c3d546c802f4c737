package provider_test

import (
	"context"
	"fmt"
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

// poolArgs describes one instantclone_pool in a test configuration.
type poolArgs struct {
	label, name string
	image       string // resource label of the image
	datastores  []string
	size        int
	pattern     string
	rebalance   string
	role        string // guestinfo.role of the clones; default "desktop"
	guestinfo   string // the whole guestinfo map in HCL, instead of { role = ... }
	extra       string // more HCL inside the resource block
}

func hclList(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = fmt.Sprintf("%q", id)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func poolHCL(env *acctest.Env, p poolArgs) string {
	if p.pattern == "" {
		p.pattern = p.name + "-{n}"
	}
	if p.image == "" {
		p.image = "img"
	}
	if p.role == "" {
		p.role = "desktop"
	}
	if p.guestinfo == "" {
		p.guestinfo = fmt.Sprintf("{ role = %q }", p.role)
	}
	rebalance := ""
	if p.rebalance != "" {
		rebalance = fmt.Sprintf("rebalance = %q", p.rebalance)
	}
	return fmt.Sprintf(`
resource "instantclone_pool" %q {
  name             = %q
  image_id         = instantclone_image.%s.id
  resource_pool_id = %q
  datastore_ids    = %s
  size             = %d
  naming_pattern   = %q
  guestinfo        = %s
  %s
  %s
}
`, p.label, p.name, p.image, env.ResourcePool(), hclList(p.datastores), p.size, p.pattern, p.guestinfo, rebalance, p.extra)
}

func imageHCL(label, name string) string {
	return fmt.Sprintf(`
resource "instantclone_image" %q {
  name      = %q
  source_vm = %q
}
`, label, name, vcsim.GoldenVMPath)
}

func poolConfig(env *acctest.Env, pools ...poolArgs) string {
	cfg := env.ProviderBlock() + imageHCL("img", "win11")
	for _, p := range pools {
		cfg += poolHCL(env, p)
	}
	return cfg
}

// inventory is what the simulator holds, by role.
type inventory struct {
	clones   map[string]engine.VM // by name, in the named pool folder
	replicas []engine.VM
	parents  []engine.VM
}

func readInventory(t *testing.T, env *acctest.Env, poolFolder string) inventory {
	inv := inventory{clones: map[string]engine.VM{}}
	for _, vm := range env.VMsInFolder(t, poolFolder) {
		inv.clones[vm.Name] = vm
	}
	inv.replicas = env.VMsInFolder(t, engine.ReplicaFolder)
	inv.parents = env.VMsInFolder(t, engine.ParentFolder)
	return inv
}

func cloneList(inv inventory) []engine.VM {
	out := make([]engine.VM, 0, len(inv.clones))
	for _, vm := range inv.clones {
		out = append(out, vm)
	}
	return out
}

// expectClones checks the pool folder holds exactly the clones prefix-1..prefix-size, powered
// on, with the given per-datastore counts (in datastore order), balanced over hosts too.
func expectClones(t *testing.T, env *acctest.Env, folder, prefix string, size int, counts []int, datastores []string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		inv := readInventory(t, env, folder)
		if len(inv.clones) != size {
			return fmt.Errorf("pool folder %s holds %d clones, want %d: %v", folder, len(inv.clones), size, acctest.Names(cloneList(inv)))
		}
		for i := 1; i <= size; i++ {
			vm, ok := inv.clones[fmt.Sprintf("%s-%d", prefix, i)]
			if !ok {
				return fmt.Errorf("clone %s-%d missing; have %v", prefix, i, acctest.Names(cloneList(inv)))
			}
			if !vm.PoweredOn {
				return fmt.Errorf("clone %s is not powered on", vm.Name)
			}
		}
		dist := acctest.Distribution(cloneList(inv))
		got := make([]int, len(datastores))
		for i, ds := range datastores {
			got[i] = dist[ds]
		}
		if fmt.Sprint(sortedDesc(got)) != fmt.Sprint(counts) {
			return fmt.Errorf("clones per datastore %v (%v), want %v", got, dist, counts)
		}
		hosts := map[string]int{}
		for _, vm := range inv.clones {
			hosts[vm.Host]++
		}
		lo, hi := size, 0
		for _, h := range env.Hosts() {
			lo, hi = min(lo, hosts[h]), max(hi, hosts[h])
		}
		if size > 0 && hi-lo > 1 {
			return fmt.Errorf("clones per host unbalanced: %v", hosts)
		}
		return nil
	}
}

func sortedDesc(in []int) []int {
	out := append([]int{}, in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] > out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// expectInternal checks one replica per datastore and one powered-on parent per datastore and
// host, for every datastore given, and nothing else.
func expectInternal(t *testing.T, env *acctest.Env, datastores []string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		inv := readInventory(t, env, "")
		replicaDS := map[string]int{}
		for _, vm := range inv.replicas {
			replicaDS[vm.Datastore]++
			if vm.Marks[engine.MarkRole] != "replica" {
				return fmt.Errorf("replica %s not marked as one: %v", vm.Name, vm.Marks)
			}
		}
		if len(inv.replicas) != len(datastores) {
			return fmt.Errorf("want %d replicas (one per datastore), have %v", len(datastores), acctest.Names(inv.replicas))
		}
		for _, ds := range datastores {
			if replicaDS[ds] != 1 {
				return fmt.Errorf("want one replica on %s, have %d", ds, replicaDS[ds])
			}
		}
		want := len(datastores) * len(env.Hosts())
		if len(inv.parents) != want {
			return fmt.Errorf("want %d parents (datastores × hosts), have %d: %v", want, len(inv.parents), acctest.Names(inv.parents))
		}
		pairs := map[string]bool{}
		for _, vm := range inv.parents {
			if !vm.PoweredOn {
				return fmt.Errorf("parent %s is powered off", vm.Name)
			}
			pairs[vm.Datastore+"/"+vm.Host] = true
		}
		if len(pairs) != want {
			return fmt.Errorf("parents do not cover every datastore and host: %v", pairs)
		}
		return nil
	}
}

// cloneIDs remembers clone VM IDs by name, to count clones recreated between two steps.
type cloneIDs map[string]string

func (c cloneIDs) snapshot(t *testing.T, env *acctest.Env, folder string) {
	for k := range c {
		delete(c, k)
	}
	for name, vm := range readInventory(t, env, folder).clones {
		c[name] = vm.ID
	}
}

func (c cloneIDs) recreated(t *testing.T, env *acctest.Env, folder string) int {
	n := 0
	for name, vm := range readInventory(t, env, folder).clones {
		if old, ok := c[name]; ok && old != vm.ID {
			n++
		}
	}
	return n
}

func TestAccPool_basic(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	ds := []string{env.Datastore(0), env.Datastore(1), env.Datastore(2), env.Datastore(3)}
	before := cloneIDs{}
	minMoves := 0
	pool := func(size int) poolArgs {
		return poolArgs{label: "test", name: "desk", datastores: ds, size: size}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: poolConfig(env, pool(10)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("instantclone_pool.test", tfjsonpath.New("clones"), knownvalue.ListSizeExact(10)),
					statecheck.ExpectKnownValue("instantclone_pool.test", tfjsonpath.New("drift"), knownvalue.ListSizeExact(0)),
					statecheck.ExpectKnownValue("instantclone_pool.test", tfjsonpath.New("pending_image_id"), knownvalue.Null()),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					expectClones(t, env, "desk", "desk", 10, []int{3, 3, 2, 2}, ds),
					expectInternal(t, env, ds),
					resource.TestCheckResourceAttrPair("instantclone_pool.test", "current_image_id", "instantclone_image.img", "id"),
					checkGuestInfo(t, env, "desk", "desk-1", "guestinfo.role", "desktop"),
					func(*terraform.State) error { before.snapshot(t, env, "desk"); return nil },
				),
			},
			{
				// Growing creates on the least-loaded datastores and recreates nothing.
				Config: poolConfig(env, pool(13)),
				Check: resource.ComposeAggregateTestCheckFunc(
					expectClones(t, env, "desk", "desk", 13, []int{4, 3, 3, 3}, ds),
					func(*terraform.State) error {
						if n := before.recreated(t, env, "desk"); n != 0 {
							return fmt.Errorf("growing recreated %d clones", n)
						}
						before.snapshot(t, env, "desk")
						minMoves = minMovesAfterShrink(t, env, "desk", 5, ds)
						return nil
					},
				),
			},
			{
				// Shrinking removes the highest numbers, then restores balance with the fewest moves.
				Config: poolConfig(env, pool(5)),
				Check: resource.ComposeAggregateTestCheckFunc(
					expectClones(t, env, "desk", "desk", 5, []int{2, 1, 1, 1}, ds),
					func(*terraform.State) error {
						if n := before.recreated(t, env, "desk"); n != minMoves {
							return fmt.Errorf("shrinking to 5 recreated %d clones; the fewest that balance is %d", n, minMoves)
						}
						t.Logf("resize 13→5: %d clone(s) moved, minimum %d", minMoves, minMoves)
						return nil
					},
				),
			},
			{
				Config:            poolConfig(env, pool(5)),
				ResourceName:      "instantclone_pool.test",
				ImportState:       true,
				ImportStateVerify: true,
			},
			{
				Config:          poolConfig(env, pool(5)),
				ResourceName:    "instantclone_pool.test",
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
			},
		},
		CheckDestroy: func(*terraform.State) error {
			if vms := acctest.WithPrefix(env.VMs(t), "desk-"); len(vms) > 0 {
				return fmt.Errorf("clones left after destroy: %v", acctest.Names(vms))
			}
			if vms := acctest.WithPrefix(env.VMs(t), "cp-"); len(vms) > 0 {
				return fmt.Errorf("internal VMs left after destroy: %v", acctest.Names(vms))
			}
			for _, name := range env.Folders(t) {
				if name == "desk" {
					return fmt.Errorf("pool folder left after destroy")
				}
			}
			return nil
		},
	})
}

// minMovesAfterShrink is the fewest moves that leave the clones kept by a shrink to size
// within one of each other per datastore and per host: the most of them that can stay (a
// search over every subset; a shrink keeps few) while each datastore and host can still reach
// its even share.
func minMovesAfterShrink(t *testing.T, env *acctest.Env, folder string, size int, ds []string) int {
	type place struct{ ds, host string }
	var left []place
	for name, vm := range readInventory(t, env, folder).clones {
		var n int
		if _, err := fmt.Sscanf(name[strings.LastIndex(name, "-")+1:], "%d", &n); err == nil && n <= size {
			left = append(left, place{vm.Datastore, vm.Host})
		}
	}
	canReach := func(ids []string, counts map[string]int) bool {
		base, rem, full := size/len(ids), size%len(ids), 0
		for _, id := range ids {
			if counts[id] > base+1 {
				return false
			}
			if counts[id] == base+1 {
				full++
			}
		}
		return full <= rem
	}
	most := 0
	for mask := range 1 << len(left) {
		dsCount, hostCount, n := map[string]int{}, map[string]int{}, 0
		for i, p := range left {
			if mask&(1<<i) != 0 {
				dsCount[p.ds]++
				hostCount[p.host]++
				n++
			}
		}
		if n > most && canReach(ds, dsCount) && canReach(env.Hosts(), hostCount) {
			most = n
		}
	}
	return len(left) - most
}

func checkGuestInfo(t *testing.T, env *acctest.Env, folder, clone, key, want string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		vm, ok := readInventory(t, env, folder).clones[clone]
		if !ok {
			return fmt.Errorf("clone %s missing", clone)
		}
		got, err := acctest.ExtraConfig(context.Background(), env, vm.ID, key)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("%s of %s is %q, want %q", key, clone, got, want)
		}
		return nil
	}
}

// TestAccPool_sharedImage: two pools on one image, created, pushed and deleted in the same
// apply (the CLI runs them in parallel), share its internal VMs and never duplicate or remove
// each other's.
func TestAccPool_sharedImage(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	ds := []string{env.Datastore(0), env.Datastore(1)}
	pools := func(image string) string {
		return twoImages(env) +
			poolHCL(env, poolArgs{label: "a", name: "pa", image: image, datastores: ds, size: 3}) +
			poolHCL(env, poolArgs{label: "b", name: "pb", image: image, datastores: ds, size: 3})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: pools("a"),
				Check: resource.ComposeAggregateTestCheckFunc(
					expectClones(t, env, "pa", "pa", 3, []int{2, 1}, ds),
					expectClones(t, env, "pb", "pb", 3, []int{2, 1}, ds),
					expectInternal(t, env, ds),
					env.CheckInventoryMatchesState(t),
				),
			},
			{
				Config: pools("b"),
				Check: resource.ComposeAggregateTestCheckFunc(
					expectAllOn(t, env, "pa", "instantclone_image.b", "instantclone_image.a"),
					expectAllOn(t, env, "pb", "instantclone_image.b", "instantclone_image.a"),
					expectInternal(t, env, ds),
					env.CheckInventoryMatchesState(t),
				),
			},
			{
				// Deleting one pool keeps what the other still uses.
				Config: twoImages(env) + poolHCL(env, poolArgs{label: "a", name: "pa", image: "b", datastores: ds, size: 3}),
				Check: resource.ComposeAggregateTestCheckFunc(
					expectClones(t, env, "pa", "pa", 3, []int{2, 1}, ds),
					expectInternal(t, env, ds),
				),
			},
			{Config: pools("b"), Check: env.CheckInventoryMatchesState(t)},
			{
				// Both deleted in one apply: the images keep only their templates.
				Config: twoImages(env),
				Check: resource.ComposeAggregateTestCheckFunc(
					func(*terraform.State) error {
						inv := readInventory(t, env, "pa")
						if len(inv.clones)+len(inv.replicas)+len(inv.parents) != 0 {
							return fmt.Errorf("left behind: clones %v replicas %v parents %v", acctest.Names(cloneList(inv)), acctest.Names(inv.replicas), acctest.Names(inv.parents))
						}
						return nil
					},
					checkTemplates(t, env, 2),
					env.CheckInventoryMatchesState(t),
				),
			},
		},
	})
}

func TestAccPool_cloneDestroyedOutOfBand(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	ds := []string{env.Datastore(0), env.Datastore(1)}
	cfg := poolConfig(env, poolArgs{label: "test", name: "oob", datastores: ds, size: 4})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg, Check: expectClones(t, env, "oob", "oob", 4, []int{2, 2}, ds)},
			{
				PreConfig: func() {
					vm := readInventory(t, env, "oob").clones["oob-3"]
					if err := env.Client.DestroyVM(context.Background(), vm.ID); err != nil {
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
					plancheck.ExpectResourceAction("instantclone_pool.test", plancheck.ResourceActionUpdate),
					acctest.ExpectDrift("instantclone_pool.test", "1 clone(s) missing: oob-3"),
				}},
				Check: expectClones(t, env, "oob", "oob", 4, []int{2, 2}, ds),
			},
			{
				Config:           cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

func TestAccPool_dataSource(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	ds := []string{env.Datastore(0), env.Datastore(1)}
	cfg := poolConfig(env, poolArgs{label: "test", name: "dsrc", datastores: ds, size: 2}) + `
data "instantclone_pool" "by_name" {
  name = instantclone_pool.test.name
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: cfg,
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttrPair("data.instantclone_pool.by_name", "id", "instantclone_pool.test", "id"),
				resource.TestCheckResourceAttr("data.instantclone_pool.by_name", "clones.#", "2"),
				resource.TestCheckResourceAttr("data.instantclone_pool.by_name", "datastore_distribution."+ds[0], "1"),
			),
		}},
	})
}

// TestAccPool_patternAndGuestinfo: a guestinfo change applies to clones created afterwards and
// leaves running desktops alone; a naming pattern change recreates the clones under new names.
func TestAccPool_patternAndGuestinfo(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	ds := []string{env.Datastore(0), env.Datastore(1)}
	pool := func(size int, role, pattern string) string {
		return poolConfig(env, poolArgs{label: "test", name: "gi", datastores: ds, size: size, role: role, pattern: pattern})
	}
	before := cloneIDs{}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: pool(3, "desktop", "gi-{n}"),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkGuestInfo(t, env, "gi", "gi-1", "guestinfo.role", "desktop"),
					func(*terraform.State) error { before.snapshot(t, env, "gi"); return nil },
				),
			},
			{
				Config: pool(4, "kiosk", "gi-{n}"),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkGuestInfo(t, env, "gi", "gi-1", "guestinfo.role", "desktop"),
					checkGuestInfo(t, env, "gi", "gi-4", "guestinfo.role", "kiosk"),
					func(*terraform.State) error {
						if n := before.recreated(t, env, "gi"); n != 0 {
							return fmt.Errorf("a guestinfo change recreated %d running clones", n)
						}
						return nil
					},
				),
			},
			{
				Config: pool(4, "kiosk", "gi-{n:fixed=2}"),
				Check: resource.ComposeAggregateTestCheckFunc(
					func(*terraform.State) error {
						names := acctest.Names(cloneList(readInventory(t, env, "gi")))
						if fmt.Sprint(sortedStrings(names)) != "[gi-01 gi-02 gi-03 gi-04]" {
							return fmt.Errorf("after the pattern change the pool holds %v", names)
						}
						return nil
					},
					checkGuestInfo(t, env, "gi", "gi-01", "guestinfo.role", "kiosk"),
					env.CheckInventoryMatchesState(t),
				),
			},
		},
	})
}
