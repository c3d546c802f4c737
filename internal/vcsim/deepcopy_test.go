package vcsim

import (
	"reflect"
	"testing"

	"github.com/vmware/govmomi/vim25/types"
)

// TestDeepCopySharesNothing: a copied NIC equals its original, and changing the copy's
// backing, connection state or MAC address leaves the original as it was.
func TestDeepCopySharesNothing(t *testing.T) {
	network := types.ManagedObjectReference{Type: "Network", Value: "network-7"}
	var nic types.BaseVirtualDevice = &types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{
		VirtualDevice: types.VirtualDevice{
			Key:         4000,
			Backing:     &types.VirtualEthernetCardNetworkBackingInfo{Network: &network, VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "VM Network"}},
			Connectable: &types.VirtualDeviceConnectInfo{Connected: true, StartConnected: true},
			DeviceInfo:  &types.Description{Label: "Network adapter 1"},
		},
		MacAddress: "00:50:56:aa:bb:cc",
	}}}
	c := deepCopy(nic)
	if !reflect.DeepEqual(c, nic) {
		t.Fatalf("copy %+v differs from %+v", c, nic)
	}
	card, backing := ethernet(t, c)
	card.MacAddress = "00:50:56:00:00:01"
	card.Connectable.Connected = false
	backing.DeviceName = "other"
	backing.Network.Value = "network-8"
	card.DeviceInfo.GetDescription().Label = "changed"

	orig, b := ethernet(t, nic)
	if orig.MacAddress != "00:50:56:aa:bb:cc" || !orig.Connectable.Connected || orig.DeviceInfo.GetDescription().Label != "Network adapter 1" {
		t.Errorf("changing the copy changed the original: %+v", orig)
	}
	if b.DeviceName != "VM Network" || b.Network.Value != "network-7" {
		t.Errorf("changing the copy's backing changed the original's: %+v", b)
	}
}

func ethernet(t *testing.T, d types.BaseVirtualDevice) (*types.VirtualEthernetCard, *types.VirtualEthernetCardNetworkBackingInfo) {
	t.Helper()
	nic, ok := d.(types.BaseVirtualEthernetCard)
	if !ok {
		t.Fatalf("%T is not a network card", d)
	}
	card := nic.GetVirtualEthernetCard()
	backing, ok := card.Backing.(*types.VirtualEthernetCardNetworkBackingInfo)
	if !ok {
		t.Fatalf("%T is not a network backing", card.Backing)
	}
	return card, backing
}
