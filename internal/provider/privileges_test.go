package provider_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/instantclone/terraform-provider-instantclone/internal/acctest"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// TestAccPrivileges_readOnlyPlan: a drift pipeline with a read-only login works on a state the
// administrator made: plan is empty while nothing changed and not empty once a clone is
// destroyed out of band; an apply with that login fails naming the privilege it lacks, and
// creates nothing.
func TestAccPrivileges_readOnlyPlan(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	ds := []string{env.Datastore(0)}
	pool := imageHCL("img", "win11") + poolHCL(env, poolArgs{label: "test", name: "ro", datastores: ds, size: 2})
	admin, readOnly := env.ProviderBlock()+pool, env.ProviderBlockAs(vcsim.ReadOnlyUser)+pool
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{Config: admin, Check: expectClones(t, env, "ro", "ro", 2, []int{2}, ds)},
			{Config: readOnly, PlanOnly: true}, // exit 0: nothing changed
			{
				PreConfig: func() {
					vm := readInventory(t, env, "ro").clones["ro-2"]
					if err := env.Client.DestroyVM(context.Background(), vm.ID); err != nil {
						t.Fatal(err)
					}
				},
				Config:             readOnly,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true, // exit 2: drift
			},
			{
				Config:      readOnly,
				ExpectError: regexp.MustCompile(`(?s)Missing vCenter privilege while updating pool ro.*lacks\s+Folder\.Create\s+on\s+Folder\s+group-v?\d+`),
			},
			{
				PreConfig: func() {
					if err := expectClones(t, env, "ro", "ro", 1, []int{1}, ds)(nil); err != nil {
						t.Fatalf("after the refused apply: %v", err)
					}
				},
				Config: admin,
				Check:  expectClones(t, env, "ro", "ro", 2, []int{2}, ds),
			},
		},
	})
}

// TestAccPrivileges_readOnlyDataSources: on a vCenter the provider never wrote to (no custom
// attribute definitions of its own), the data sources read with a read-only login find
// nothing rather than failing for want of a privilege.
func TestAccPrivileges_readOnlyDataSources(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	provider := env.ProviderBlockAs(vcsim.ReadOnlyUser)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      provider + `data "instantclone_image" "x" { name = "win11" }`,
				ExpectError: regexp.MustCompile(`(?s)Error reading image.*image named "win11": not found`),
			},
			{
				Config:      provider + `data "instantclone_pool" "x" { name = "desktops" }`,
				ExpectError: regexp.MustCompile(`(?s)Error reading pool.*"desktops".*not found`),
			},
		},
	})
	if defs := env.CustomFieldNames(t); len(defs) != 0 {
		t.Errorf("reads created custom attribute definitions %v", defs)
	}
}

// TestAccPrivileges_documentedRole: a user holding exactly the role the documentation lists
// creates a pool, resizes it, attaches a datastore, pushes the image again and deletes
// everything.
func TestAccPrivileges_documentedRole(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, acctest.WithRoleUser(vcsim.Options{}))
	ds := []string{env.Datastore(0)}
	both := []string{env.Datastore(0), env.Datastore(1)}
	config := func(size int, more string) string {
		return env.ProviderBlockAs(acctest.RoleUser) + imageHCL("img", "win11") +
			poolHCL(env, poolArgs{label: "test", name: "role", datastores: ds, size: size, extra: more})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				// Guest customization needs its privileges too.
				Config: config(2, customizationHCL()),
				Check:  resource.ComposeAggregateTestCheckFunc(expectClones(t, env, "role", "role", 2, []int{2}, ds), checkCustomized(t, env, "role", 2)),
			},
			{
				Config: config(3, `push_image_token = "again"`) + attachHCL("extra", env.Datastore(1), ""),
				Check:  expectClones(t, env, "role", "role", 3, []int{2, 1}, both),
			},
		},
		CheckDestroy: func(*terraform.State) error {
			if vms := env.VMs(t); len(vms) != 1 {
				return fmt.Errorf("VMs left after destroy besides the golden VM: %v", acctest.Names(vms))
			}
			return nil
		},
	})
}
