package provider_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/instantclone/terraform-provider-instantclone/internal/acctest"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// portablePool is an image and a pool on what a PortableEnv offers: its source VM, resource
// pool, first datastore and folder.
func portablePool(env *acctest.Env, pool string, size int) string {
	snapshot, folder := "", ""
	if s := env.Snapshot(); s != "" {
		snapshot = fmt.Sprintf("snapshot = %q", s)
	}
	if f := env.Folder(); f != "" {
		folder = fmt.Sprintf("folder = %q", f)
	}
	return env.ProviderBlock() + fmt.Sprintf(`
resource "instantclone_image" "img" {
  name      = %q
  source_vm = %q
  %s
}

resource "instantclone_pool" "test" {
  name             = %q
  image_id         = instantclone_image.img.id
  resource_pool_id = %q
  datastore_ids    = [%q]
  size             = %d
  naming_pattern   = "%s-{n}"
  %s
}
`, env.Name("acctest"), env.SourceVM(), snapshot, pool, env.ResourcePool(), env.Datastore(0), size, pool, folder)
}

// expectRunningClones checks the pool's folder holds exactly pool-1..pool-size, powered on.
func expectRunningClones(t *testing.T, env *acctest.Env, pool string, size int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		vms := env.VMsInFolder(t, pool)
		if len(vms) != size {
			return fmt.Errorf("pool folder %s holds %v, want %d clones", pool, acctest.Names(vms), size)
		}
		for i, vm := range vms {
			if want := fmt.Sprintf("%s-%d", pool, i+1); vm.Name != want && size < 10 {
				return fmt.Errorf("clone %d is %s, want %s", i, vm.Name, want)
			}
			if !vm.PoweredOn {
				return fmt.Errorf("clone %s is powered off", vm.Name)
			}
		}
		return nil
	}
}

// TestAccPortable_poolLifecycle runs on the simulator and, under make testacc-vcenter, on a
// real vCenter: publish an image, create a pool, grow it, check the next plan is empty,
// destroy everything and check vCenter holds nothing of it.
func TestAccPortable_poolLifecycle(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewPortableEnv(t, vcsim.Options{})
	pool := env.Name("life")
	var imageID string
	rememberImage := func(s *terraform.State) error {
		imageID = s.RootModule().Resources["instantclone_image.img"].Primary.ID
		return nil
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{Config: portablePool(env, pool, 2), Check: resource.ComposeTestCheckFunc(expectRunningClones(t, env, pool, 2), rememberImage)},
			{
				Config: portablePool(env, pool, 3),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("instantclone_pool.test", plancheck.ResourceActionUpdate),
				}},
				Check: expectRunningClones(t, env, pool, 3),
			},
			{Config: portablePool(env, pool, 3), PlanOnly: true},
		},
		CheckDestroy: func(*terraform.State) error {
			if imageID == "" {
				return fmt.Errorf("the image's ID was never recorded")
			}
			for _, vm := range env.VMs(t) {
				// Internal VMs are named after their image: cp-template-<image>, cp-replica-<image>-...
				if strings.HasPrefix(vm.Name, pool+"-") || strings.Contains(vm.Name, imageID) {
					return fmt.Errorf("left after destroy: %s (%s)", vm.Name, vm.ID)
				}
			}
			for _, name := range env.Folders(t) {
				if name == pool {
					return fmt.Errorf("pool folder %s left after destroy", pool)
				}
			}
			return nil
		},
	})
}
