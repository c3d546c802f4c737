package acctest

import (
	"context"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

// Guest is what vCenter shows of a VM's guest and network cards.
type Guest struct {
	HostName  string
	IPAddress string   // guest.ipAddress
	Addresses []string // every address of every NIC, from guest.net
	// Connected says, for each network card in device order, whether it is connected: the
	// device's connectable.connected, and the guest seeing its link (guest.net).
	Connected, GuestSeesLink []bool
}

// Guest reads a VM's guest identity and NICs.
func (e *Env) Guest(t *testing.T, vmID string) Guest {
	t.Helper()
	var vm mo.VirtualMachine
	err := property.DefaultCollector(e.Client.Vim()).RetrieveOne(context.Background(), vsphere.VMRef(vmID), []string{"guest", "config.hardware.device"}, &vm)
	if err != nil {
		t.Fatalf("reading the guest of %s: %v", vmID, err)
	}
	g := Guest{}
	if vm.Guest != nil {
		g.HostName, g.IPAddress = vm.Guest.HostName, vm.Guest.IpAddress
	}
	for _, d := range object.VirtualDeviceList(vm.Config.Hardware.Device).SelectByType((*types.VirtualEthernetCard)(nil)) {
		dev := d.GetVirtualDevice()
		g.Connected = append(g.Connected, dev.Connectable == nil || dev.Connectable.Connected)
		link := false
		if vm.Guest != nil {
			for _, n := range vm.Guest.Net {
				if n.DeviceConfigId == dev.Key {
					link = n.Connected
					g.Addresses = append(g.Addresses, n.IpAddress...)
				}
			}
		}
		g.GuestSeesLink = append(g.GuestSeesLink, link)
	}
	return g
}
