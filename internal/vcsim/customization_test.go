package vcsim

import (
	"context"
	"net/netip"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

var guestLogin = &types.NamePasswordAuthentication{Username: "root", Password: "secret"}

// customizeGuest runs CustomizeGuest_Task and waits for it.
func customizeGuest(ctx context.Context, c *govmomi.Client, vm types.ManagedObjectReference, auth types.BaseGuestAuthentication, spec types.CustomizationSpec) error {
	res, err := methods.CustomizeGuest_Task(ctx, c.Client, &types.CustomizeGuest_Task{
		This: *c.ServiceContent.GuestCustomizationManager, Vm: vm, Auth: auth, Spec: spec,
	})
	if err != nil {
		return err
	}
	return object.NewTask(c.Client, res.Returnval).Wait(ctx)
}

// startGuestNetwork runs StartGuestNetwork_Task and waits for it.
func startGuestNetwork(ctx context.Context, c *govmomi.Client, vm types.ManagedObjectReference) error {
	res, err := methods.StartGuestNetwork_Task(ctx, c.Client, &types.StartGuestNetwork_Task{
		This: *c.ServiceContent.GuestCustomizationManager, Vm: vm, Auth: guestLogin,
	})
	if err != nil {
		return err
	}
	return object.NewTask(c.Client, res.Returnval).Wait(ctx)
}

func linuxSpec(host string, nics ...types.BaseCustomizationIpGenerator) types.CustomizationSpec {
	spec := types.CustomizationSpec{Identity: &types.CustomizationLinuxPrep{HostName: &types.CustomizationFixedName{Name: host}, Domain: "corp.example"}}
	for _, ip := range nics {
		spec.NicSettingMap = append(spec.NicSettingMap, types.CustomizationAdapterMapping{Adapter: types.CustomizationIPSettings{Ip: ip, SubnetMask: "255.255.255.0"}})
	}
	return spec
}

// disconnectedClone makes an instant clone of the golden VM whose NICs the spec disconnects,
// as the SDK guide describes for a clone to be customized.
func disconnectedClone(t *testing.T, c *govmomi.Client, name string) types.ManagedObjectReference {
	t.Helper()
	golden := goldenVM(t, c)
	info, err := cloneAndWait(t, golden, types.VirtualMachineInstantCloneSpec{Name: name, Location: types.VirtualMachineRelocateSpec{DeviceChange: connectEdits(t, golden, false)}})
	if err != nil {
		t.Fatal(err)
	}
	return resultRef(t, info)
}

func guestView(t *testing.T, c *govmomi.Client, ref types.ManagedObjectReference) mo.VirtualMachine {
	t.Helper()
	var vm mo.VirtualMachine
	if err := property.DefaultCollector(c.Client).RetrieveOne(t.Context(), ref, []string{"guest", "config.hardware.device"}, &vm); err != nil {
		t.Fatal(err)
	}
	return vm
}

func nicConnected(vm mo.VirtualMachine) (device, guest bool) {
	for _, d := range object.VirtualDeviceList(vm.Config.Hardware.Device).SelectByType((*types.VirtualEthernetCard)(nil)) {
		device = d.GetVirtualDevice().Connectable.Connected
	}
	for _, n := range vm.Guest.Net {
		guest = n.Connected
	}
	return device, guest
}

// TestGuestCustomization: a clone made with its NIC disconnected comes up disconnected;
// CustomizeGuest_Task gives it its host name, StartGuestNetwork_Task its address; connecting
// the NIC shows it connected in the guest too.
func TestGuestCustomization(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	ctx := t.Context()
	if c.ServiceContent.GuestCustomizationManager == nil {
		t.Fatal("the service content names no guest customization manager")
	}
	clone := disconnectedClone(t, c, "desk-1")
	if dev, guest := nicConnected(guestView(t, c, clone)); dev || guest {
		t.Fatalf("the clone's NIC is connected (device %v, guest %v); the spec disconnected it", dev, guest)
	}

	if err := customizeGuest(ctx, c, clone, guestLogin, linuxSpec("desk-1", &types.CustomizationFixedIp{IpAddress: "10.0.0.21"})); err != nil {
		t.Fatal(err)
	}
	vm := guestView(t, c, clone)
	if vm.Guest.HostName != "desk-1" {
		t.Errorf("guest.hostName = %q after customization, want desk-1", vm.Guest.HostName)
	}
	if vm.Guest.IpAddress != "" {
		t.Errorf("guest.ipAddress = %q before the guest network started", vm.Guest.IpAddress)
	}

	connectNICs(t, c, clone)
	if err := startGuestNetwork(ctx, c, clone); err != nil {
		t.Fatal(err)
	}
	vm = guestView(t, c, clone)
	if vm.Guest.IpAddress != "10.0.0.21" || len(vm.Guest.Net) != 1 || len(vm.Guest.Net[0].IpAddress) != 1 || vm.Guest.Net[0].IpAddress[0] != "10.0.0.21" {
		t.Errorf("guest address %q, nics %+v; want 10.0.0.21", vm.Guest.IpAddress, vm.Guest.Net)
	}
	if dev, guest := nicConnected(vm); !dev || !guest {
		t.Errorf("after connecting: device %v, guest %v", dev, guest)
	}

	// DHCP: a connected NIC gets an address of its own, the same again on a restart.
	other := disconnectedClone(t, c, "desk-2")
	if err := customizeGuest(ctx, c, other, guestLogin, linuxSpec("desk-2", &types.CustomizationDhcpIpGenerator{})); err != nil {
		t.Fatal(err)
	}
	if err := startGuestNetwork(ctx, c, other); err != nil {
		t.Fatal(err)
	}
	if got := guestView(t, c, other).Guest.IpAddress; got != "" {
		t.Errorf("a disconnected NIC got %q from DHCP", got)
	}
	connectNICs(t, c, other)
	dhcpAddress := func() string {
		if err := startGuestNetwork(ctx, c, other); err != nil {
			t.Fatal(err)
		}
		return guestView(t, c, other).Guest.IpAddress
	}
	first := dhcpAddress()
	if !dhcpPrefix.Contains(netip.MustParseAddr(first)) {
		t.Errorf("DHCP gave %q, outside %s", first, dhcpPrefix)
	}
	if again := dhcpAddress(); again != first {
		t.Errorf("DHCP gave %q, then %q on a restart of the network", first, again)
	}
}

// connectEdits are edits of every NIC of vm that connect or disconnect it, now and at power-on.
func connectEdits(t *testing.T, vm *object.VirtualMachine, connected bool) []types.BaseVirtualDeviceConfigSpec {
	t.Helper()
	devices, err := vm.Device(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var changes []types.BaseVirtualDeviceConfigSpec
	for _, d := range devices.SelectByType((*types.VirtualEthernetCard)(nil)) {
		d.GetVirtualDevice().Connectable = &types.VirtualDeviceConnectInfo{StartConnected: connected, Connected: connected, AllowGuestControl: true}
		changes = append(changes, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: d})
	}
	return changes
}

// connectNICs connects every NIC of a running VM.
func connectNICs(t *testing.T, c *govmomi.Client, ref types.ManagedObjectReference) {
	t.Helper()
	ctx := t.Context()
	vm := object.NewVirtualMachine(c.Client, ref)
	task, err := vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{DeviceChange: connectEdits(t, vm, true)})
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestGuestCustomizationRefused: the faults the reference lists for CustomizeGuest_Task, each
// with the VM left as it was.
func TestGuestCustomizationRefused(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	ctx := t.Context()
	clone := disconnectedClone(t, c, "desk-1")
	dhcp := &types.CustomizationDhcpIpGenerator{}
	setKnob := func(ref types.ManagedObjectReference, key, value string) {
		tk, err := object.NewVirtualMachine(c.Client, ref).Reconfigure(ctx, types.VirtualMachineConfigSpec{ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: key, Value: value}}})
		if err == nil {
			err = tk.Wait(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	windows := types.CustomizationSpec{
		Identity:      &types.CustomizationSysprep{UserData: types.CustomizationUserData{ComputerName: &types.CustomizationFixedName{Name: "desk-1"}}},
		NicSettingMap: []types.CustomizationAdapterMapping{{Adapter: types.CustomizationIPSettings{Ip: dhcp}}},
	}
	for _, tc := range []struct {
		name  string
		auth  types.BaseGuestAuthentication
		spec  types.CustomizationSpec
		fault types.BaseMethodFault
	}{
		{"no guest password", &types.NamePasswordAuthentication{Username: "root"}, linuxSpec("desk-1", dhcp), &types.InvalidGuestLogin{}},
		{"a setting per NIC missing", guestLogin, linuxSpec("desk-1"), &types.NicSettingMismatch{}},
		{"a setting too many", guestLogin, linuxSpec("desk-1", dhcp, dhcp), &types.NicSettingMismatch{}},
		{"a Windows identity on a Linux guest", guestLogin, windows, &types.UncustomizableGuest{}},
	} {
		err := customizeGuest(ctx, c, clone, tc.auth, tc.spec)
		if !fault.Is(err, tc.fault) {
			t.Errorf("%s: %v, want %T", tc.name, err, tc.fault)
		}
	}
	if got := guestView(t, c, clone).Guest.HostName; got == "desk-1" {
		t.Error("a refused customization changed the host name")
	}

	setKnob(clone, CustomizationFaultKnob, "sysprep failed")
	if err := customizeGuest(ctx, c, clone, guestLogin, linuxSpec("desk-1", dhcp)); !fault.Is(err, &types.CustomizationFault{}) {
		t.Errorf("with %s: %v, want CustomizationFault", CustomizationFaultKnob, err)
	}
	setKnob(clone, ToolsNotRunningKnob, "TRUE")
	if err := startGuestNetwork(ctx, c, clone); !fault.Is(err, &types.InvalidState{}) {
		t.Errorf("with no Tools running: %v, want InvalidState", err)
	}
	off, err := object.NewVirtualMachine(c.Client, clone).PowerOff(ctx)
	if err == nil {
		err = off.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := customizeGuest(ctx, c, clone, guestLogin, linuxSpec("desk-1", dhcp)); !fault.Is(err, &types.InvalidPowerState{}) {
		t.Errorf("powered off: %v, want InvalidPowerState", err)
	}
}
