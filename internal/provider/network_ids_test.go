package provider_test

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/instantclone/terraform-provider-instantclone/internal/acctest"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// checkNICs checks that every clone of pool name has its network cards on networks, in
// order, and that the image's parents stayed on the golden VM's network.
func checkNICs(t *testing.T, env *acctest.Env, name string, size int, networks ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		clones := env.VMsInFolder(t, name)
		if len(clones) != size {
			return fmt.Errorf("pool %s holds %d clones, want %d", name, len(clones), size)
		}
		for _, vm := range clones {
			if got := env.NICNetworks(t, vm.ID); fmt.Sprint(got) != fmt.Sprint(networks) {
				return fmt.Errorf("clone %s has its NICs on %v, want %v", vm.Name, got, networks)
			}
		}
		for _, p := range env.VMsInFolder(t, engine.ParentFolder) {
			if got := env.NICNetworks(t, p.ID); fmt.Sprint(got) != fmt.Sprint([]string{env.Inv.Network.Ref.Value}) {
				return fmt.Errorf("parent %s has its NICs on %v: the clones' networks were set on the parent", p.Name, got)
			}
		}
		return nil
	}
}

// TestAccPool_networkIDs: network_ids puts every clone's network card on the port group
// named, at instant-clone time, while the image's own VMs stay on the golden VM's network;
// clones made by a resize get it too, and a push with a new token moves all of them back
// when network_ids is removed.
func TestAccPool_networkIDs(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	pg, std := env.PortGroup(t), env.Inv.Network.Ref.Value
	config := func(size int, extra string) string {
		return poolConfig(env, poolArgs{label: "test", name: "vlan", datastores: []string{env.Datastore(0)}, size: size, extra: extra})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config(2, fmt.Sprintf("network_ids = [%q]", pg)),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkNICs(t, env, "vlan", 2, pg),
					resource.TestCheckResourceAttr("instantclone_pool.test", "network_ids.0", pg),
				),
			},
			{Config: config(4, fmt.Sprintf("network_ids = [%q]", pg)), Check: checkNICs(t, env, "vlan", 4, pg)},
			{
				Config: config(4, `push_image_token = "back-to-the-image-network"`),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkNICs(t, env, "vlan", 4, std),
					env.CheckInventoryMatchesState(t),
				),
			},
		},
	})
}
