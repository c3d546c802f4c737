package vcsim

import (
	"testing"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// TestCloneKeepsExtraConfig: a full clone carries its source's extraConfig, with the spec's
// on top, as on vCenter.
func TestCloneKeepsExtraConfig(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	ctx := t.Context()
	golden := goldenVM(t, c)
	task, err := golden.Reconfigure(ctx, types.VirtualMachineConfigSpec{ExtraConfig: []types.BaseOptionValue{
		&types.OptionValue{Key: "guestinfo.site", Value: "north"}, &types.OptionValue{Key: "guestinfo.role", Value: "golden"},
	}})
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	folder := object.NewFolder(c.Client, s.Inventory().VMFolder.Ref)
	clone, err := golden.Clone(ctx, folder, "copy", types.VirtualMachineCloneSpec{Config: &types.VirtualMachineConfigSpec{
		ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: "guestinfo.role", Value: "copy"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := clone.WaitForResult(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := info.Result.(types.ManagedObjectReference)
	got := map[string]any{}
	for _, o := range vmProps(t, c, ref).Config.ExtraConfig {
		got[o.GetOptionValue().Key] = o.GetOptionValue().Value
	}
	if got["guestinfo.site"] != "north" || got["guestinfo.role"] != "copy" {
		t.Fatalf("clone extraConfig %v: want the source's site and the spec's role", got)
	}
}

// TestMoveIntoFolderDuplicateName: moving a VM into a folder holding another of its name is
// refused with DuplicateName naming the VM already there.
func TestMoveIntoFolderDuplicateName(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	ctx := t.Context()
	golden := goldenVM(t, c)
	root := object.NewFolder(c.Client, s.Inventory().VMFolder.Ref)
	other, err := root.CreateFolder(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	clone, err := golden.Clone(ctx, other, GoldenVMName, types.VirtualMachineCloneSpec{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clone.WaitForResult(ctx); err != nil {
		t.Fatal(err)
	}
	move, err := other.MoveInto(ctx, []types.ManagedObjectReference{golden.Reference()})
	if err == nil {
		_, err = move.WaitForResult(ctx)
	}
	var dn *types.DuplicateName
	if _, ok := fault.As(err, &dn); !ok || dn.Name != GoldenVMName {
		t.Fatalf("move = %v, want DuplicateName for %s", err, GoldenVMName)
	}
}

// TestSetFieldOnMissingEntity: SetField naming an object that is gone fails with
// ManagedObjectNotFound.
func TestSetFieldOnMissingEntity(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	ctx := t.Context()
	m := object.NewCustomFieldsManager(c.Client)
	def, err := m.Add(ctx, "instantclone.test", "Folder", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	gone := types.ManagedObjectReference{Type: "Folder", Value: "group-v999999"}
	_, err = methods.SetField(ctx, c.Client, &types.SetField{This: m.Reference(), Entity: gone, Key: def.Key, Value: "x"})
	var nf *types.ManagedObjectNotFound
	if _, ok := fault.As(err, &nf); !ok {
		t.Fatalf("SetField on a missing folder = %v, want ManagedObjectNotFound", err)
	}
}

// TestInstantCloneNICOntoMissingNetwork: an instant clone whose NIC edit names a network that
// does not exist is refused with InvalidDeviceBacking.
func TestInstantCloneNICOntoMissingNetwork(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	golden := goldenVM(t, c)
	devices, err := golden.Device(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	nics := devices.SelectByType((*types.VirtualEthernetCard)(nil))
	if len(nics) == 0 {
		t.Fatal("the golden VM has no NIC")
	}
	card, ok := nics[0].(types.BaseVirtualEthernetCard)
	if !ok {
		t.Fatalf("NIC %T", nics[0])
	}
	edit := func(network types.ManagedObjectReference) []types.BaseVirtualDeviceConfigSpec {
		nic := card.GetVirtualEthernetCard()
		nic.Backing = &types.VirtualEthernetCardNetworkBackingInfo{Network: &network, VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "x"}}
		return []types.BaseVirtualDeviceConfigSpec{&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: nics[0]}}
	}
	_, err = cloneAndWait(t, golden, types.VirtualMachineInstantCloneSpec{Name: "lost", Location: types.VirtualMachineRelocateSpec{
		DeviceChange: edit(types.ManagedObjectReference{Type: "Network", Value: "network-99999"}),
	}})
	var bad *types.InvalidDeviceBacking
	if _, ok := fault.As(err, &bad); !ok {
		t.Fatalf("instant clone onto a missing network = %v, want InvalidDeviceBacking", err)
	}
}
