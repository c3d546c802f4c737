package vsphere

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// Customize gives a running clone its identity the way the SDK programming guide describes
// for instant clones ("Guest Network Customization for Instant Clone Virtual Machines"):
// CustomizeGuest_Task applies the host name and network settings in the guest, the NICs
// are connected, and StartGuestNetwork_Task restarts the guest network on them.
func (c *Client) Customize(ctx context.Context, id string, g engine.GuestCustomization) error {
	manager := c.vim.ServiceContent.GuestCustomizationManager
	if manager == nil {
		return fmt.Errorf("customizing %s: this vCenter has no guest customization manager (vSphere 7.0 or later)", id)
	}
	var vm mo.VirtualMachine
	err := retry(ctx, func() error {
		return property.DefaultCollector(c.vim).RetrieveOne(ctx, VMRef(id), []string{"config.guestId", "config.hardware.device"}, &vm)
	})
	if err != nil {
		if IsNotFound(err) {
			return notFound("virtual machine", id)
		}
		return wrap(err, "reading the guest and NICs of %s", id)
	}
	cards := object.VirtualDeviceList(vm.Config.Hardware.Device).SelectByType((*types.VirtualEthernetCard)(nil))
	if len(g.NICs) > len(cards) {
		return fmt.Errorf("customizing %s: settings for %d NICs, and it has %d", id, len(g.NICs), len(cards))
	}
	// A vCenter that ignores the spec's location (the vSphere 8.0 SDK guide's reading:
	// "The location property of InstantCloneSpec is ignored") resumes the clone with its
	// cards connected: they are disconnected before the guest changes its identity.
	for _, d := range cards {
		if conn := d.GetVirtualDevice().Connectable; conn == nil || conn.Connected {
			if err := c.setNICsConnected(ctx, id, cards, false); err != nil {
				return err
			}
			break
		}
	}
	auth := &types.NamePasswordAuthentication{Username: g.User, Password: g.Password}
	spec := customizationSpec(g, vm.Config.GuestId, len(cards))
	_, err = c.runTask(ctx, func(ctx context.Context) (*object.Task, error) {
		res, err := methods.CustomizeGuest_Task(ctx, c.vim, &types.CustomizeGuest_Task{This: *manager, Vm: VMRef(id), Auth: auth, Spec: spec})
		if err != nil {
			return nil, err
		}
		return object.NewTask(c.vim, res.Returnval), nil
	})
	if err != nil {
		return wrap(err, "customizing the guest of %s as %s", id, g.HostName)
	}
	if err := c.setNICsConnected(ctx, id, cards, true); err != nil {
		return err
	}
	_, err = c.runTask(ctx, func(ctx context.Context) (*object.Task, error) {
		res, err := methods.StartGuestNetwork_Task(ctx, c.vim, &types.StartGuestNetwork_Task{This: *manager, Vm: VMRef(id), Auth: auth})
		if err != nil {
			return nil, err
		}
		return object.NewTask(c.vim, res.Returnval), nil
	})
	if err != nil {
		return wrap(err, "starting the guest network of %s", id)
	}
	return nil
}

// setNICsConnected connects or disconnects a running VM's NICs, now and at power-on.
func (c *Client) setNICsConnected(ctx context.Context, id string, cards object.VirtualDeviceList, connected bool) error {
	changes := make([]types.BaseVirtualDeviceConfigSpec, 0, len(cards))
	for _, d := range cards {
		dev := copyDevice(d)
		setConnected(dev, connected)
		changes = append(changes, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: dev})
	}
	_, err := c.runTask(ctx, func(ctx context.Context) (*object.Task, error) {
		return c.vm(id).Reconfigure(ctx, types.VirtualMachineConfigSpec{DeviceChange: changes})
	})
	if err != nil {
		if connected {
			return wrap(err, "connecting the NICs of %s", id)
		}
		return wrap(err, "disconnecting the NICs of %s", id)
	}
	return nil
}

// setConnected makes a copied device connected or not, now and at power-on, keeping the rest
// of its connection settings (the copy shares them with the original until replaced here).
func setConnected(dev types.BaseVirtualDevice, connected bool) {
	conn := types.VirtualDeviceConnectInfo{AllowGuestControl: true}
	if old := dev.GetVirtualDevice().Connectable; old != nil {
		conn = *old
	}
	conn.Connected, conn.StartConnected = connected, connected
	dev.GetVirtualDevice().Connectable = &conn
}

// customizationSpec is g in vSphere's terms, with the identity of the guest's family
// (Sysprep for Windows, LinuxPrep otherwise) and one adapter setting per NIC, as
// CustomizeGuest_Task takes them (in PCI order, without MAC addresses).
func customizationSpec(g engine.GuestCustomization, guestID string, nics int) types.CustomizationSpec {
	name := &types.CustomizationFixedName{Name: g.HostName}
	spec := types.CustomizationSpec{
		GlobalIPSettings: types.CustomizationGlobalIPSettings{DnsServerList: g.DNSServers, DnsSuffixList: g.DNSSuffixes},
	}
	if strings.HasPrefix(strings.ToLower(guestID), "win") {
		spec.Identity = &types.CustomizationSysprep{
			UserData:       types.CustomizationUserData{FullName: "instantclone", OrgName: "instantclone", ComputerName: name},
			Identification: types.CustomizationIdentification{JoinWorkgroup: "WORKGROUP"},
		}
	} else {
		spec.Identity = &types.CustomizationLinuxPrep{HostName: name, Domain: g.Domain}
	}
	for i := range nics {
		adapter := types.CustomizationIPSettings{Ip: &types.CustomizationDhcpIpGenerator{}, DnsDomain: g.Domain}
		if i < len(g.NICs) && g.NICs[i].Address.IsValid() {
			n := g.NICs[i]
			adapter.Ip = &types.CustomizationFixedIp{IpAddress: n.Address.String()}
			adapter.SubnetMask = subnetMask(n.PrefixLength)
			if n.Gateway.IsValid() {
				adapter.Gateway = []string{n.Gateway.String()}
			}
		}
		spec.NicSettingMap = append(spec.NicSettingMap, types.CustomizationAdapterMapping{Adapter: adapter})
	}
	return spec
}

// subnetMask writes a prefix length as a dotted mask, as CustomizationIPSettings takes it.
func subnetMask(bits int) string {
	prefix, err := netip.AddrFrom4([4]byte{255, 255, 255, 255}).Prefix(bits)
	if err != nil {
		return ""
	}
	return prefix.Addr().String()
}
