package provider_test

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/instantclone/terraform-provider-instantclone/internal/acctest"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// checkHardware checks that the image's template, replicas and parents and every clone of
// pool name run with the compute profile want.
func checkHardware(t *testing.T, env *acctest.Env, pool string, size int, want engine.Hardware) resource.TestCheckFunc {
	return func(*terraform.State) error {
		clones := env.VMsInFolder(t, pool)
		if len(clones) != size {
			return fmt.Errorf("pool %s holds %d clones, want %d", pool, len(clones), size)
		}
		image := clones[0].Marks[engine.MarkImage]
		vms := clones
		for _, folder := range []string{engine.TemplateFolder, engine.ReplicaFolder, engine.ParentFolder} {
			for _, vm := range env.VMsInFolder(t, folder) {
				if vm.Marks[engine.MarkImage] == image {
					vms = append(vms, vm)
				}
			}
		}
		if len(vms) == size {
			return fmt.Errorf("no internal VM of image %s found", image)
		}
		for _, vm := range vms {
			if got := env.Hardware(t, vm.ID); got != want {
				return fmt.Errorf("%s runs %+v, want %+v", vm.Name, got, want)
			}
		}
		return nil
	}
}

// TestAccImage_computeProfile: an image's num_cpus, cores_per_socket and memory_mb reach its
// template, replicas and parents, and so every clone; the data source reads them back; a
// change publishes a new image, which the pool's clones are pushed to.
func TestAccImage_computeProfile(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	golden := env.Hardware(t, env.Inv.Golden.Ref.Value)
	config := func(memory int) string {
		return env.ProviderBlock() + fmt.Sprintf(`
resource "instantclone_image" "img" {
  name             = "win11-4cpu"
  source_vm        = %q
  num_cpus         = 4
  cores_per_socket = 2
  memory_mb        = %d
  lifecycle {
    create_before_destroy = true # the pool moves to the new image before the old one goes
  }
}
data "instantclone_image" "read" {
  id = instantclone_image.img.id
}
`, vcsim.GoldenVMPath, memory) + poolHCL(env, poolArgs{label: "test", name: "cpu", datastores: []string{env.Datastore(0)}, size: 3})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config(8192),
				Check: resource.ComposeAggregateTestCheckFunc(
					func(*terraform.State) error {
						if golden.NumCPUs == 4 || golden.MemoryMB == 8192 {
							return fmt.Errorf("the golden VM already runs %+v: the test shows nothing", golden)
						}
						return nil
					},
					checkHardware(t, env, "cpu", 3, engine.Hardware{NumCPUs: 4, CoresPerSocket: 2, MemoryMB: 8192}),
					resource.TestCheckResourceAttr("data.instantclone_image.read", "num_cpus", "4"),
					resource.TestCheckResourceAttr("data.instantclone_image.read", "cores_per_socket", "2"),
					resource.TestCheckResourceAttr("data.instantclone_image.read", "memory_mb", "8192"),
				),
			},
			{
				Config: config(4096),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("instantclone_image.img", plancheck.ResourceActionReplace),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkHardware(t, env, "cpu", 3, engine.Hardware{NumCPUs: 4, CoresPerSocket: 2, MemoryMB: 4096}),
					env.CheckInventoryMatchesState(t),
				),
			},
		},
	})
}
