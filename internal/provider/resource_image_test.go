package provider_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
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

func imageConfig(env *acctest.Env, name, snapshot string) string {
	snap := ""
	if snapshot != "" {
		snap = fmt.Sprintf("snapshot = %q", snapshot)
	}
	return env.ProviderBlock() + fmt.Sprintf(`
resource "instantclone_image" "test" {
  name      = %q
  source_vm = %q
  %s
}
`, name, vcsim.GoldenVMPath, snap)
}

// checkTemplates checks vCenter holds exactly one template VM per image in state, in the
// template folder, marked as the image's own, and that the four ClonePrep folders exist.
func checkTemplates(t *testing.T, env *acctest.Env, want int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		folders := env.Folders(t)
		have := map[string]bool{}
		for _, name := range folders {
			have[name] = true
		}
		for _, f := range engine.ClonePrepFolders {
			if !have[f] {
				return fmt.Errorf("folder %s missing; folders: %v", f, folders)
			}
		}
		templates := acctest.WithPrefix(env.VMs(t), "cp-template-")
		if len(templates) != want {
			return fmt.Errorf("want %d template VM(s), vCenter has %v", want, acctest.Names(templates))
		}
		for _, rs := range s.RootModule().Resources {
			if rs.Type != "instantclone_image" {
				continue
			}
			id := rs.Primary.ID
			found := false
			for _, vm := range templates {
				if vm.Name == "cp-template-"+id && folders[vm.Folder] == engine.TemplateFolder &&
					vm.Marks[engine.MarkImage] == id && vm.Marks[engine.MarkRole] == "template" {
					found = vm.ID == rs.Primary.Attributes["template_vm_id"]
				}
			}
			if !found {
				return fmt.Errorf("no template VM cp-template-%s (%s) marked as image %s in %s", id, rs.Primary.Attributes["template_vm_id"], id, engine.TemplateFolder)
			}
		}
		return nil
	}
}

func TestAccImage_basic(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	sameID := statecheck.CompareValue(compare.ValuesSame())
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: imageConfig(env, "win11", vcsim.SnapshotBase),
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue("instantclone_image.test", tfjsonpath.New("id")),
					statecheck.ExpectKnownValue("instantclone_image.test", tfjsonpath.New("state"), knownvalue.StringExact("published")),
					statecheck.ExpectKnownValue("instantclone_image.test", tfjsonpath.New("snapshot_id"), knownvalue.StringExact(env.Inv.Golden.Snapshots[0].Ref.Value)),
					statecheck.ExpectKnownValue("instantclone_image.test", tfjsonpath.New("id"), knownvalue.StringRegexp(regexp.MustCompile(`^img-[0-9a-f]{10}$`))),
				},
				Check: checkTemplates(t, env, 1),
			},
			{
				// Renaming is in place: same ID, same template VM.
				Config: imageConfig(env, "win11-renamed", vcsim.SnapshotBase),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("instantclone_image.test", plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue("instantclone_image.test", tfjsonpath.New("id")),
					statecheck.ExpectKnownValue("instantclone_image.test", tfjsonpath.New("name"), knownvalue.StringExact("win11-renamed")),
				},
				Check: checkTemplates(t, env, 1),
			},
			{
				ResourceName: "instantclone_image.test", ImportState: true, ImportStateVerify: true,
			},
			{
				ResourceName: "instantclone_image.test", ImportState: true, ImportStateKind: resource.ImportBlockWithID,
			},
			{
				// Another snapshot is another image: replaced, and the old template removed.
				Config: imageConfig(env, "win11-renamed", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("instantclone_image.test", plancheck.ResourceActionDestroyBeforeCreate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("instantclone_image.test", tfjsonpath.New("snapshot_id"), knownvalue.StringExact(env.Inv.Golden.CurrentSnapshot.Ref.Value)),
				},
				Check: checkTemplates(t, env, 1),
			},
		},
		CheckDestroy: func(*terraform.State) error {
			if vms := acctest.WithPrefix(env.VMs(t), "cp-"); len(vms) > 0 {
				return fmt.Errorf("internal VMs left after destroy: %v", acctest.Names(vms))
			}
			return nil
		},
	})
}

func TestAccImage_templateRemovedOutOfBand(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	destroyTemplate := func() {
		for _, vm := range acctest.WithPrefix(env.VMs(t), "cp-template-") {
			if err := env.Client.DestroyVM(context.Background(), vm.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{Config: imageConfig(env, "win11", ""), Check: checkTemplates(t, env, 1)},
			{
				PreConfig: destroyTemplate,
				Config:    imageConfig(env, "win11", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("instantclone_image.test", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("instantclone_image.test", tfjsonpath.New("state"), knownvalue.StringExact("published")),
				}},
				Check: checkTemplates(t, env, 1),
			},
			{
				Config:           imageConfig(env, "win11", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

func TestAccImage_dataSource(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	cfg := imageConfig(env, "win11", "") + `
data "instantclone_image" "by_name" {
  name = instantclone_image.test.name
}
data "instantclone_image" "by_id" {
  id = instantclone_image.test.id
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: cfg,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.CompareValuePairs("data.instantclone_image.by_name", tfjsonpath.New("id"), "instantclone_image.test", tfjsonpath.New("id"), compare.ValuesSame()),
				statecheck.CompareValuePairs("data.instantclone_image.by_id", tfjsonpath.New("template_vm_id"), "instantclone_image.test", tfjsonpath.New("template_vm_id"), compare.ValuesSame()),
				statecheck.ExpectKnownValue("data.instantclone_image.by_id", tfjsonpath.New("snapshot"), knownvalue.StringExact(vcsim.SnapshotPatched)),
			},
		}},
	})
}
