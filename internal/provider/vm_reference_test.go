package provider_test

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/instantclone/terraform-provider-instantclone/internal/acctest"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// TestAccImage_sourceVMForms: source_vm takes the three forms users have (an inventory path,
// here a name that looks like an ID; a managed object ID; the BIOS UUID that
// data.vsphere_virtual_machine.x.id gives), publishes from the one VM each names, keeps what
// the user wrote in state, and plans nothing more.
func TestAccImage_sourceVMForms(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	golden := env.Inv.Golden.Ref.Value
	env.RenameVM(t, golden, "ubuntu-2204")
	uuid := env.BIOSUUID(t, golden)
	current := env.Inv.Golden.CurrentSnapshot.Ref.Value // each image is the golden VM's
	forms := map[string]string{"by_name": "ubuntu-2204", "by_id": golden, "by_uuid": uuid}
	config := env.ProviderBlock() + fmt.Sprintf(`
variable "golden_uuid" {
  type    = string
  default = %q # data.vsphere_virtual_machine.golden.id
}
resource "instantclone_image" "by_name" {
  name      = "by-name"
  source_vm = "ubuntu-2204"
}
resource "instantclone_image" "by_id" {
  name      = "by-id"
  source_vm = %q
}
resource "instantclone_image" "by_uuid" {
  name      = "by-uuid"
  source_vm = var.golden_uuid
}
`, uuid, golden)
	var stateChecks []statecheck.StateCheck
	for label, written := range forms {
		stateChecks = append(stateChecks,
			statecheck.ExpectKnownValue("instantclone_image."+label, tfjsonpath.New("source_vm"), knownvalue.StringExact(written)),
			statecheck.ExpectKnownValue("instantclone_image."+label, tfjsonpath.New("snapshot_id"), knownvalue.StringExact(current)))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config:            config,
			ConfigStateChecks: stateChecks,
			Check:             checkTemplates(t, env, 3),
		}, {
			Config:   config,
			PlanOnly: true,
		}},
	})
}
