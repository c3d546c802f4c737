package provider_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/instantclone/terraform-provider-instantclone/internal/acctest"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// checkIdentity checks that every clone of pool name carries its own identity as guestinfo,
// set when vCenter made it: its name, its pool, the image it forked from (as its mark says),
// and the pool's guestinfo with {name} and {n} expanded for it.
func checkIdentity(t *testing.T, env *acctest.Env, name string, size int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		info := env.GuestInfo(t, name)
		if len(info) != size {
			return fmt.Errorf("pool %s holds %d clones, want %d", name, len(info), size)
		}
		images := map[string]string{}
		for _, vm := range env.VMsInFolder(t, name) {
			images[vm.Name] = vm.Marks[engine.MarkImage]
		}
		for clone, keys := range info {
			n := strings.TrimPrefix(clone, name+"-")
			if _, err := strconv.Atoi(n); err != nil {
				return fmt.Errorf("clone %s is not named %s-N", clone, name)
			}
			want := map[string]string{
				engine.GuestInfoName:  clone,
				engine.GuestInfoPool:  name,
				engine.GuestInfoImage: images[clone],
				"guestinfo.hostname":  clone,
				"guestinfo.seat":      "desk-" + n,
				"guestinfo.role":      "desktop",
			}
			for k, v := range want {
				if keys[k] != v || v == "" {
					return fmt.Errorf("clone %s has %s = %q, want %q (all: %v)", clone, k, keys[k], v, keys)
				}
			}
		}
		return nil
	}
}

// TestAccPool_cloneIdentity: every clone is made with its own identity in guestinfo, and
// keeps getting one as the pool is resized, pushed a new image and rebalanced onto a new
// datastore (each of which makes clones).
func TestAccPool_cloneIdentity(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	one, two := []string{env.Datastore(0)}, []string{env.Datastore(0), env.Datastore(1)}
	config := func(image string, size int, datastores []string) string {
		return env.ProviderBlock() + imageHCL("img", "win11") + imageHCL("img2", "win11-v2") + poolHCL(env, poolArgs{
			label: "test", name: "desk", image: image, datastores: datastores, size: size, rebalance: "immediate",
			guestinfo: `{ role = "desktop", hostname = "{name}", seat = "desk-{n}" }`,
		})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config("img", 3, one), Check: checkIdentity(t, env, "desk", 3)},
			{Config: config("img", 5, one), Check: checkIdentity(t, env, "desk", 5)},
			{
				Config: config("img2", 5, one),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttrPair("instantclone_pool.test", "current_image_id", "instantclone_image.img2", "id"),
					checkIdentity(t, env, "desk", 5),
				),
			},
			{
				Config: config("img2", 5, two),
				Check: resource.ComposeAggregateTestCheckFunc(
					expectClones(t, env, "desk", "desk", 5, []int{3, 2}, two),
					checkIdentity(t, env, "desk", 5),
					env.CheckInventoryMatchesState(t),
				),
			},
		},
	})
}
