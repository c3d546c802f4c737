// Package acctest holds the fixtures of the acceptance tests: a simulator per test, the
// provider wired to the real Terraform or OpenTofu CLI, and reads of the simulator's
// inventory to check vCenter's side.
package acctest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/provider"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

// ProviderFactories serves the provider in-process to the CLI under test.
var ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"instantclone": providerserver.NewProtocol6WithError(provider.New("test")()),
}

// PreCheck makes sure a CLI is configured the way the tests need it. An environment that
// points TF_CLI_CONFIG_FILE at a missing file makes OpenTofu print a warning that breaks
// version detection, so the tests use an empty configuration of their own.
func PreCheck(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (make testacc)")
	}
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		t.Fatal("TF_ACC_TERRAFORM_PATH must name the terraform or tofu binary (make testacc builds both into bin/)")
	}
	if f := os.Getenv("TF_CLI_CONFIG_FILE"); f != "" {
		if _, err := os.Stat(f); err != nil {
			empty := filepath.Join(t.TempDir(), "empty.tfrc")
			if err := os.WriteFile(empty, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("TF_CLI_CONFIG_FILE", empty)
		}
	}
}

// Env is one simulated vCenter for one test.
type Env struct {
	Server *vcsim.Server
	Client *vsphere.Client
	Inv    vcsim.Inventory
	// ProviderSettings are extra lines for the provider block, e.g. max_concurrent_operations.
	ProviderSettings string
	// vcenter is set when the Env is a real vCenter (vcenter.go); Server and Inv are then empty.
	vcenter *vcenterTarget
}

// NewEnv starts a simulator for the test and connects an inspection client to it.
func NewEnv(t *testing.T, opts vcsim.Options) *Env {
	t.Helper()
	skipOnVCenter(t)
	srv, err := vcsim.Start(opts)
	if err != nil {
		t.Fatalf("starting simulator: %v", err)
	}
	t.Cleanup(srv.Close)
	c, err := vsphere.Connect(context.Background(), vsphere.Config{
		Server: srv.URL().Host, User: srv.Username(), Password: srv.Password(), Insecure: true,
	})
	if err != nil {
		t.Fatalf("connecting to simulator: %v", err)
	}
	t.Cleanup(func() { _ = c.Logout(context.Background()) })
	return &Env{Server: srv, Client: c, Inv: srv.Inventory()}
}

// ProviderBlock is a provider block pointing at this simulator.
func (e *Env) ProviderBlock() string {
	if e.vcenter != nil {
		return e.vcenter.providerBlock(e.ProviderSettings)
	}
	return fmt.Sprintf(`
provider "instantclone" {
  vsphere_server       = %q
  user                 = %q
  password             = %q
  allow_unverified_ssl = true
%s
}
`, e.Server.URL().Host, e.Server.Username(), e.Server.Password(), e.ProviderSettings)
}

// Datastore returns the ID of datastore i.
func (e *Env) Datastore(i int) string {
	if e.vcenter != nil {
		return e.vcenter.datastores[i]
	}
	return e.Inv.Datastores[i].Ref.Value
}

// ResourcePool is the first cluster's root resource pool ID.
func (e *Env) ResourcePool() string {
	if e.vcenter != nil {
		return e.vcenter.resourcePool
	}
	return e.Inv.Clusters[0].ResourcePool.Ref.Value
}

// Hosts lists the first cluster's host IDs.
func (e *Env) Hosts() []string {
	var out []string
	for _, h := range e.Inv.Clusters[0].Hosts {
		out = append(out, h.Ref.Value)
	}
	return out
}

// VMs reads every VM of the simulator.
func (e *Env) VMs(t *testing.T) []engine.VM {
	t.Helper()
	vms, err := e.Client.AllVMs(context.Background())
	if err != nil {
		t.Fatalf("listing VMs: %v", err)
	}
	return vms
}

// Folders maps folder IDs to names.
func (e *Env) Folders(t *testing.T) map[string]string {
	t.Helper()
	fs, err := e.Client.Folders(context.Background())
	if err != nil {
		t.Fatalf("listing folders: %v", err)
	}
	out := map[string]string{}
	for _, f := range fs {
		out[f.ID] = f.Name
	}
	return out
}

// VMsInFolder returns the VMs whose parent folder is called name, sorted by VM name.
func (e *Env) VMsInFolder(t *testing.T, name string) []engine.VM {
	t.Helper()
	folders := e.Folders(t)
	var out []engine.VM
	for _, vm := range e.VMs(t) {
		if folders[vm.Folder] == name {
			out = append(out, vm)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// PowerOff powers VMs off behind the provider's back, as an administrator might.
func (e *Env) PowerOff(t *testing.T, vms ...engine.VM) {
	t.Helper()
	ctx := context.Background()
	for _, vm := range vms {
		if err := e.Client.PowerOff(ctx, vm.ID); err != nil {
			t.Fatalf("powering off %s: %v", vm.Name, err)
		}
	}
}

// Names lists VM names.
func Names(vms []engine.VM) []string {
	out := make([]string, 0, len(vms))
	for _, vm := range vms {
		out = append(out, vm.Name)
	}
	return out
}

// WithPrefix keeps the VMs whose name starts with prefix.
func WithPrefix(vms []engine.VM, prefix string) []engine.VM {
	var out []engine.VM
	for _, vm := range vms {
		if strings.HasPrefix(vm.Name, prefix) {
			out = append(out, vm)
		}
	}
	return out
}

// Distribution counts VMs per datastore.
func Distribution(vms []engine.VM) map[string]int {
	out := map[string]int{}
	for _, vm := range vms {
		if len(vm.Datastores) > 0 {
			out[vm.Datastore]++
		}
	}
	return out
}

// ExtraConfig reads one extraConfig value of a VM.
func ExtraConfig(ctx context.Context, e *Env, vmID, key string) (string, error) {
	all, err := e.extraConfig(ctx, vmID)
	return all[key], err
}

// extraConfig reads every extraConfig value of a VM.
func (e *Env) extraConfig(ctx context.Context, vmID string) (map[string]string, error) {
	var vm mo.VirtualMachine
	pc := property.DefaultCollector(e.Client.Vim())
	if err := pc.RetrieveOne(ctx, vsphere.VMRef(vmID), []string{"config.extraConfig"}, &vm); err != nil {
		return nil, fmt.Errorf("reading extraConfig of %s: %w", vmID, err)
	}
	out := map[string]string{}
	for _, o := range vm.Config.ExtraConfig {
		ov := o.GetOptionValue()
		out[ov.Key] = fmt.Sprint(ov.Value)
	}
	return out, nil
}

// DropSessionsOnChange ends every vCenter session but the test's own as soon as the next call
// that makes or removes a VM arrives, i.e. in the middle of the next operation, with the
// operation's client still to wait for that call's task, as when vCenter restarts or an
// administrator terminates sessions. The simulator counts what it ended and which of those a
// client came back with (Server.SessionCounts). The trigger stops when the test ends.
func (e *Env) DropSessionsOnChange(t *testing.T) *Trigger {
	t.Helper()
	own, err := session.NewManager(e.Client.Vim()).UserSession(context.Background())
	if err != nil || own == nil {
		t.Fatalf("reading the test's own session: %v", err)
	}
	return e.onProvisioningCall(t, "ending sessions", func(ctx context.Context) error {
		_, err := e.Server.EndSessions(ctx, own.Key)
		return err
	})
}

// GuestInfo reads the guestinfo.* extraConfig of every VM directly in folder name, by VM name.
func (e *Env) GuestInfo(t *testing.T, name string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, vm := range e.VMsInFolder(t, name) {
		all, err := e.extraConfig(context.Background(), vm.ID)
		if err != nil {
			t.Fatal(err)
		}
		keys := map[string]string{}
		for k, v := range all {
			if strings.HasPrefix(k, "guestinfo.") {
				keys[k] = v
			}
		}
		out[vm.Name] = keys
	}
	return out
}

// Hardware reads a VM's CPUs, cores per socket and memory.
func (e *Env) Hardware(t *testing.T, vmID string) engine.Hardware {
	t.Helper()
	var vm mo.VirtualMachine
	if err := property.DefaultCollector(e.Client.Vim()).RetrieveOne(context.Background(), vsphere.VMRef(vmID), []string{"config.hardware"}, &vm); err != nil {
		t.Fatalf("reading the hardware of %s: %v", vmID, err)
	}
	h := vm.Config.Hardware
	out := engine.Hardware{NumCPUs: int(h.NumCPU), MemoryMB: int(h.MemoryMB)}
	if h.NumCoresPerSocket != nil {
		out.CoresPerSocket = int(*h.NumCoresPerSocket)
	}
	return out
}

// PortGroup is the ID of a distributed port group of the simulator (not an uplink group), for
// clones to be put on instead of the golden VM's standard network.
func (e *Env) PortGroup(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	m := view.NewManager(e.Client.Vim())
	v, err := m.CreateContainerView(ctx, e.Client.Vim().ServiceContent.RootFolder, []string{"DistributedVirtualPortgroup"}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = v.Destroy(ctx) }()
	var pgs []mo.DistributedVirtualPortgroup
	if err := v.Retrieve(ctx, []string{"DistributedVirtualPortgroup"}, []string{"name", "config.uplink"}, &pgs); err != nil {
		t.Fatal(err)
	}
	for _, pg := range pgs {
		if pg.Config.Uplink == nil || !*pg.Config.Uplink {
			return pg.Self.Value
		}
	}
	t.Fatal("the simulator has no distributed port group")
	return ""
}

// NICNetworks lists the network of each network card of a VM, in order.
func (e *Env) NICNetworks(t *testing.T, vmID string) []string {
	t.Helper()
	nics, err := e.Client.NICs(context.Background(), vmID)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(nics))
	for i, n := range nics {
		out[i] = n.Network
	}
	return out
}

// SetExtraConfig sets one extraConfig value of a VM behind the provider's back, as an
// administrator preparing a golden image might.
func (e *Env) SetExtraConfig(t *testing.T, vmID, key, value string) {
	t.Helper()
	ctx := context.Background()
	task, err := object.NewVirtualMachine(e.Client.Vim(), vsphere.VMRef(vmID)).Reconfigure(ctx, types.VirtualMachineConfigSpec{
		ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: key, Value: value}},
	})
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Fatalf("setting %s on %s: %v", key, vmID, err)
	}
}

// Frozen reads whether a VM's guest froze itself (runtime.instantCloneFrozen).
func (e *Env) Frozen(t *testing.T, vmID string) bool {
	t.Helper()
	var vm mo.VirtualMachine
	if err := property.DefaultCollector(e.Client.Vim()).RetrieveOne(context.Background(), vsphere.VMRef(vmID), []string{"runtime.instantCloneFrozen"}, &vm); err != nil {
		t.Fatalf("reading runtime.instantCloneFrozen of %s: %v", vmID, err)
	}
	return vm.Runtime.InstantCloneFrozen != nil && *vm.Runtime.InstantCloneFrozen
}
