package provider_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/instantclone/terraform-provider-instantclone/internal/acctest"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// TestAccImage_frozenParent: with parent_ready = "frozen", a parent whose guest never freezes
// fails the apply naming it, and no clone is made from it; once the golden image's guest
// freezes itself after power-on, a new image's parents are waited for until frozen, and every
// clone forks from a frozen parent (which therefore gains no delta disk).
func TestAccImage_frozenParent(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	config := func(image, snapshot string) string {
		return env.ProviderBlock() + fmt.Sprintf(`
resource "instantclone_image" %[1]q {
  name                 = %[1]q
  source_vm            = %[2]q
  snapshot             = %[3]q
  parent_ready         = "frozen"
  parent_ready_timeout = "3s"
}
`, image, vcsim.GoldenVMPath, snapshot) + poolHCL(env, poolArgs{label: "test", name: "frz", image: image, datastores: []string{env.Datastore(0)}, size: 3})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      config("thawed", "patched"),
				ExpectError: regexp.MustCompile(`(?s)parent VM\s+cp-parent-img-\w+-datastore-\d+-host-\d+\s+\(vm-\d+\)\s+of\s+image\s+img-\w+\s+did\s+not\s+freeze\s+within\s+3s.*instantclone\.freeze.*no\s+clone\s+was\s+made`),
			},
			{
				PreConfig: func() {
					if n := len(env.VMsInFolder(t, "frz")); n != 0 {
						t.Fatalf("%d clones were made from parents that never froze", n)
					}
					// The administrator installs the guest's freeze step and snapshots the result.
					env.SetExtraConfig(t, env.Inv.Golden.Ref.Value, vcsim.FreezeAfterKnob, "300ms")
					if _, err := env.Client.Snapshot(context.Background(), env.Inv.Golden.Ref.Value, "prepared"); err != nil {
						t.Fatal(err)
					}
				},
				Config: config("prepared", "prepared"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("instantclone_image.prepared", "parent_ready", "frozen"),
					resource.TestCheckResourceAttr("instantclone_image.prepared", "parent_ready_timeout", "3s"),
					func(*terraform.State) error {
						clones := env.VMsInFolder(t, "frz")
						if len(clones) != 3 {
							return fmt.Errorf("pool holds %d clones, want 3", len(clones))
						}
						parents := map[string]bool{}
						for _, c := range clones {
							parents[c.Marks[engine.MarkParent]] = true
						}
						for id := range parents {
							if !env.Frozen(t, id) {
								return fmt.Errorf("clones forked from parent %s, which is not frozen", id)
							}
							if n := env.Server.DeltaChain(id); n != 0 {
								return fmt.Errorf("parent %s gained %d delta disks: clones forked from it running", id, n)
							}
						}
						return nil
					},
					env.CheckInventoryMatchesState(t),
				),
			},
		},
	})
}
