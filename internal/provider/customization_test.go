package provider_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/instantclone/terraform-provider-instantclone/internal/acctest"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

const guestPassword = "guest-secret-9f3c"

// customizationHCL is a customization block giving clones static addresses from
// 10.0.9.10-10.0.9.19.
func customizationHCL() string {
	return fmt.Sprintf(`
  customization {
    hostname       = "{name}"
    domain         = "corp.example"
    dns_servers    = ["10.0.9.2"]
    guest_username = "root"
    guest_password = %q
    network_interface {
      ipv4_range         = "10.0.9.10-10.0.9.19"
      ipv4_prefix_length = 24
      ipv4_gateway       = "10.0.9.1"
    }
  }`, guestPassword)
}

// checkCustomized checks, in vCenter, that every clone of pool name has its own identity
// from the customization: its host name is its name, its address is the range's nth for
// clone number n (so no two share one), and its network cards are connected.
func checkCustomized(t *testing.T, env *acctest.Env, name string, size int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		clones := env.VMsInFolder(t, name)
		if len(clones) != size {
			return fmt.Errorf("pool %s holds %d clones, want %d", name, len(clones), size)
		}
		owner := map[string]string{}
		for _, vm := range clones {
			g := env.Guest(t, vm.ID)
			n, err := strconv.Atoi(strings.TrimPrefix(vm.Name, name+"-"))
			if err != nil {
				return fmt.Errorf("clone %s is not named %s-N", vm.Name, name)
			}
			want := fmt.Sprintf("10.0.9.%d", 9+n)
			switch {
			case g.HostName != vm.Name:
				return fmt.Errorf("clone %s has guest host name %q", vm.Name, g.HostName)
			case g.IPAddress != want || fmt.Sprint(g.Addresses) != "["+want+"]":
				return fmt.Errorf("clone %s has address %q (NICs %v), want %s from the range", vm.Name, g.IPAddress, g.Addresses, want)
			case fmt.Sprint(g.Connected) != "[true]" || fmt.Sprint(g.GuestSeesLink) != "[true]":
				return fmt.Errorf("clone %s: NIC connected %v, guest sees its link %v; want connected", vm.Name, g.Connected, g.GuestSeesLink)
			}
			if other, dup := owner[g.IPAddress]; dup {
				return fmt.Errorf("clones %s and %s share address %s", other, vm.Name, g.IPAddress)
			}
			owner[g.IPAddress] = vm.Name
		}
		return nil
	}
}

// TestAccPool_customization: with a customization block every clone gets its host name and
// its own address from the range, and is connected only then; clones made by a resize, a
// push-image and a rebalance onto a new datastore get the same, each clone number keeping its
// address. The guest password reaches state only.
func TestAccPool_customization(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	one, two := []string{env.Datastore(0)}, []string{env.Datastore(0), env.Datastore(1)}
	config := func(size int, datastores []string, token string) string {
		extra := customizationHCL()
		if token != "" {
			extra += fmt.Sprintf("\n  push_image_token = %q", token)
		}
		return poolConfig(env, poolArgs{label: "test", name: "desk", datastores: datastores, size: size, rebalance: "immediate", extra: extra})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config(3, one, ""),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkCustomized(t, env, "desk", 3),
					resource.TestCheckResourceAttr("instantclone_pool.test", "customization.network_interface.0.ipv4_range", "10.0.9.10-10.0.9.19"),
					resource.TestCheckResourceAttr("instantclone_pool.test", "customization.guest_password", guestPassword),
					checkNotInVCenter(t, env, guestPassword),
					checkCalls(env, "ReconfigVM_Task", 3), // each clone's NICs connected once customized, no more
				),
			},
			{Config: config(5, one, ""), Check: checkCustomized(t, env, "desk", 5)},
			{Config: config(5, one, "again"), Check: checkCustomized(t, env, "desk", 5)},
			{
				Config: config(5, two, "again"),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkCustomized(t, env, "desk", 5),
					resource.TestCheckResourceAttr("instantclone_pool.test", "datastore_distribution."+env.Datastore(1), "2"),
					env.CheckInventoryMatchesState(t),
				),
			},
			{ResourceName: "instantclone_pool.test", ImportState: true, ImportStateVerify: true, ImportStateVerifyIgnore: []string{"customization.guest_password", "timeouts"}},
		},
	})
}

// checkCalls checks how many calls of method the simulator has answered so far.
func checkCalls(env *acctest.Env, method string, want int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if got := env.Server.Calls()[method]; got != want {
			return fmt.Errorf("%d %s call(s), want %d", got, method, want)
		}
		return nil
	}
}

// TestAccPool_customizationWhereLocationIgnored: on a vCenter that ignores the InstantClone
// spec's location (the vSphere 8.0 SDK guide's reading), the clones resume with their NICs
// connected; each is disconnected before its guest changes identity, then customized and
// connected again.
func TestAccPool_customizationWhereLocationIgnored(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{InstantCloneIgnoresLocation: true})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: poolConfig(env, poolArgs{label: "test", name: "desk", datastores: []string{env.Datastore(0)}, size: 2, extra: customizationHCL()}),
			Check: resource.ComposeAggregateTestCheckFunc(
				checkCustomized(t, env, "desk", 2),
				checkCalls(env, "ReconfigVM_Task", 4), // disconnected, then connected
			),
		}},
	})
}

// checkNotInVCenter fails when secret appears in any mark the provider wrote in vCenter.
func checkNotInVCenter(t *testing.T, env *acctest.Env, secret string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		folders, err := env.Client.Folders(t.Context())
		if err != nil {
			return err
		}
		for _, f := range folders {
			for k, v := range f.Marks {
				if strings.Contains(v, secret) {
					return fmt.Errorf("folder %s carries the guest password in %s", f.Name, k)
				}
			}
		}
		for _, vm := range env.VMs(t) {
			for k, v := range vm.Marks {
				if strings.Contains(v, secret) {
					return fmt.Errorf("VM %s carries the guest password in %s", vm.Name, k)
				}
			}
		}
		return nil
	}
}

// TestAccPool_customizationFails: when the guest's customization fails, the apply fails
// naming the clones and the fault, and no clone is left on the network with its parent's
// identity: the clones it failed on were removed.
func TestAccPool_customizationFails(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	image := env.ProviderBlock() + imageHCL("img", "win11")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{Config: image},
			{
				// The image's guest cannot be customized: its replicas, parents and clones
				// copy the knob from its template.
				PreConfig: func() {
					for _, vm := range env.VMsInFolder(t, engine.TemplateFolder) {
						env.SetExtraConfig(t, vm.ID, vcsim.CustomizationFaultKnob, "the guest customization engine failed")
					}
				},
				Config:      poolConfig(env, poolArgs{label: "test", name: "desk", datastores: []string{env.Datastore(0)}, size: 2, extra: customizationHCL()}),
				ExpectError: regexp.MustCompile(`(?s)customizing clone desk-\d.*CustomizationFault.*engine\s+failed.*removed`),
			},
			{
				// Nothing was left on the network with its parent's identity.
				PreConfig: func() {
					if clones := env.VMsInFolder(t, "desk"); len(clones) != 0 {
						t.Errorf("%d clone(s) left in the pool after their customization failed: %v", len(clones), acctest.Names(clones))
					}
				},
				Config: image,
			},
		},
	})
}
