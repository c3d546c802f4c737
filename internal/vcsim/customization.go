package vcsim

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// CustomizationFaultKnob is the extraConfig key of a VM whose simulated guest customization
// engine fails: CustomizeGuest_Task on it ends with a CustomizationFault carrying the knob's
// value as its message, as when the engine inside a real guest fails (vSphere Web Services
// SDK programming guide, "Recovering from Guest Network Customization Errors"). Clones copy
// it with the rest of extraConfig, instant clones too: they run the same guest.
const CustomizationFaultKnob = "vcsim.guest.customizationFault"

// ToolsNotRunningKnob is the extraConfig key of a VM whose simulated guest runs no VMware
// Tools. Every other guest runs them while its VM is powered on: the simpler rule the
// simulator keeps, since a golden image for instant clones has Tools installed.
const ToolsNotRunningKnob = "vcsim.guest.toolsNotRunning"

// dhcpPrefix is the network the simulated DHCP server hands addresses out of.
var dhcpPrefix = netip.MustParsePrefix("192.168.128.0/17")

// guestCustomizationManager is vSphere 7.0's VirtualMachineGuestCustomizationManager, which
// govmomi's simulator lacks: "a singleton managed object that provides APIs for guest
// customization of a running VM", typically an instant clone. CustomizeGuest_Task applies a
// CustomizationSpec inside the running guest (its host name at once, its network settings
// when the guest network starts); StartGuestNetwork_Task starts the guest's network service,
// which then reports the addresses in guest.net and guest.ipAddress.
type guestCustomizationManager struct {
	mo.VirtualMachineGuestCustomizationManager

	mu      sync.Mutex
	network map[types.ManagedObjectReference][]types.CustomizationAdapterMapping // each guest's network settings, as customized
	leases  map[string]netip.Addr                                                // DHCP address of each VM's NIC, by "vm-12/0"
	next    netip.Addr
}

// enableGuestCustomization registers the manager in r and names it in the service content.
func enableGuestCustomization(r *simulator.Registry) {
	m := &guestCustomizationManager{
		network: map[types.ManagedObjectReference][]types.CustomizationAdapterMapping{},
		leases:  map[string]netip.Addr{},
		next:    dhcpPrefix.Addr().Next(),
	}
	m.Self = types.ManagedObjectReference{Type: "VirtualMachineGuestCustomizationManager", Value: "GuestCustomizationManager"}
	r.Put(m)
	if si, ok := r.Get(vim25.ServiceInstance).(*simulator.ServiceInstance); ok {
		ref := m.Self
		si.Content.GuestCustomizationManager = &ref
	}
}

// CustomizeGuestTask answers CustomizeGuest_Task.
func (m *guestCustomizationManager) CustomizeGuestTask(ctx *simulator.Context, req *types.CustomizeGuest_Task) soap.HasFault {
	return &methods.CustomizeGuest_TaskBody{Res: &types.CustomizeGuest_TaskResponse{
		Returnval: m.guestTask(ctx, req.Vm, req.Auth, "customizeGuest", func(vm *simulator.VirtualMachine) types.BaseMethodFault {
			return m.customize(ctx, vm, &req.Spec)
		}),
	}}
}

// StartGuestNetworkTask answers StartGuestNetwork_Task.
func (m *guestCustomizationManager) StartGuestNetworkTask(ctx *simulator.Context, req *types.StartGuestNetwork_Task) soap.HasFault {
	return &methods.StartGuestNetwork_TaskBody{Res: &types.StartGuestNetwork_TaskResponse{
		Returnval: m.guestTask(ctx, req.Vm, req.Auth, "startGuestNetwork", func(vm *simulator.VirtualMachine) types.BaseMethodFault {
			m.startNetwork(ctx, vm)
			return nil
		}),
	}}
}

// guestTask runs work on a VM's guest in a task on the VM, after the checks both methods
// share. The reference lists their faults: "InvalidPowerState: if the VM is not powered
// on", "InvalidState: ... if the VMware Tools is not running", "InvalidGuestLogin: if the
// guest authentication information was not accepted". The simulated guest accepts any
// user name and password that are not empty.
func (m *guestCustomizationManager) guestTask(ctx *simulator.Context, ref types.ManagedObjectReference, auth types.BaseGuestAuthentication, name string, work func(*simulator.VirtualMachine) types.BaseMethodFault) types.ManagedObjectReference {
	vm, ok := ctx.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		// The fault comes with the task, on the manager, as a task for a missing VM cannot be made.
		return simulator.CreateTask(m, name, func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
			return nil, &types.ManagedObjectNotFound{Obj: ref}
		}).Run(ctx)
	}
	return simulator.CreateTask(vm, name, func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if state := vm.Runtime.PowerState; state != types.VirtualMachinePowerStatePoweredOn {
			return nil, &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOn, ExistingState: state}
		}
		if knob(vm, ToolsNotRunningKnob) != "" {
			return nil, &types.InvalidState{}
		}
		login, ok := auth.(*types.NamePasswordAuthentication)
		if !ok || login.Username == "" || login.Password == "" {
			return nil, &types.InvalidGuestLogin{}
		}
		return nil, work(vm)
	}).Run(ctx)
}

// customize applies spec in the guest: its host name now, its network settings when the
// guest network starts. The spec must name one network setting per NIC of the VM
// (NicSettingMismatch: "the number of network adapter settings in the customization
// specification does not match the number of network adapters present in the virtual
// machine"), and an identity of the guest's family (UncustomizableGuest otherwise).
func (m *guestCustomizationManager) customize(ctx *simulator.Context, vm *simulator.VirtualMachine, spec *types.CustomizationSpec) types.BaseMethodFault {
	if msg := knob(vm, CustomizationFaultKnob); msg != "" {
		return &types.CustomizationFault{VimFault: types.VimFault{MethodFault: types.MethodFault{
			FaultMessage: []types.LocalizableMessage{{Key: "vcsim.guest.customizationFault", Message: msg}},
		}}}
	}
	nics := ethernetCards(vm)
	if len(spec.NicSettingMap) != len(nics) {
		return &types.NicSettingMismatch{NumberOfNicsInSpec: int32(len(spec.NicSettingMap)), NumberOfNicsInVM: int32(len(nics))}
	}
	hostName, fault := identityHostName(vm, spec.Identity)
	if fault != nil {
		return fault
	}
	m.mu.Lock()
	m.network[vm.Self] = spec.NicSettingMap
	m.mu.Unlock()
	ctx.Update(vm, []types.PropertyChange{
		{Name: "guest.hostName", Val: hostName},
		{Name: "summary.guest.hostName", Val: hostName},
	})
	return nil
}

// identityHostName reads the host name an identity gives the guest: CustomizationLinuxPrep
// for Linux guests, CustomizationSysprep for Windows ones, with a fixed name or the VM's own.
func identityHostName(vm *simulator.VirtualMachine, identity types.BaseCustomizationIdentitySettings) (string, types.BaseMethodFault) {
	windows := strings.HasPrefix(strings.ToLower(vm.Config.GuestId), "win")
	var name types.BaseCustomizationName
	switch id := identity.(type) {
	case *types.CustomizationLinuxPrep:
		if !windows {
			name = id.HostName
		}
	case *types.CustomizationSysprep:
		if windows {
			name = id.UserData.ComputerName
		}
	}
	if name == nil {
		return "", &types.UncustomizableGuest{UncustomizableGuestOS: vm.Config.GuestId}
	}
	switch n := name.(type) {
	case *types.CustomizationFixedName:
		return n.Name, nil
	case *types.CustomizationVirtualMachineName:
		return vm.Name, nil
	}
	return "", &types.CustomizationFault{VimFault: types.VimFault{MethodFault: types.MethodFault{
		FaultMessage: []types.LocalizableMessage{{Key: "vcsim.hostName", Message: fmt.Sprintf("host name generator %T is not supported by the simulated guest", name)}},
	}}}
}

// startNetwork restarts the guest's network with the settings customization left: each NIC
// takes its fixed address, or one from the DHCP server when it is connected (a NIC that is
// not cannot reach it), and guest.net and guest.ipAddress report them.
func (m *guestCustomizationManager) startNetwork(ctx *simulator.Context, vm *simulator.VirtualMachine) {
	m.mu.Lock()
	settings := m.network[vm.Self]
	m.mu.Unlock()
	if settings == nil {
		return // never customized: the network restarts as it was
	}
	nics := ethernetCards(vm)
	first := ""
	for i, s := range settings {
		if i >= len(nics) {
			break
		}
		card := nics[i].GetVirtualEthernetCard()
		info := guestNIC(vm, card.Key)
		if info == nil {
			continue
		}
		var addr string
		switch ip := s.Adapter.Ip.(type) {
		case *types.CustomizationFixedIp:
			addr = ip.IpAddress
		case *types.CustomizationDhcpIpGenerator:
			if connected(card) {
				addr = m.lease(vm.Self, i)
			}
		}
		info.IpAddress = nil
		info.IpConfig = nil
		if addr != "" {
			info.IpAddress = []string{addr}
			info.IpConfig = &types.NetIpConfigInfo{IpAddress: []types.NetIpConfigInfoIpAddress{{IpAddress: addr, PrefixLength: prefixLength(s.Adapter.SubnetMask)}}}
			if first == "" {
				first = addr
			}
		}
		info.DnsConfig = &types.NetDnsConfigInfo{IpAddress: s.Adapter.DnsServerList, DomainName: s.Adapter.DnsDomain, HostName: vm.Guest.HostName}
	}
	ctx.Update(vm, []types.PropertyChange{
		{Name: "guest.net", Val: vm.Guest.Net},
		{Name: "guest.ipAddress", Val: first},
		{Name: "summary.guest.ipAddress", Val: first},
	})
}

// lease hands out the next DHCP address, the same one again to the same NIC of a VM.
func (m *guestCustomizationManager) lease(vm types.ManagedObjectReference, nic int) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := fmt.Sprintf("%s/%d", vm.Value, nic)
	if a, ok := m.leases[key]; ok {
		return a.String()
	}
	a := m.next
	m.next = m.next.Next()
	m.leases[key] = a
	return a.String()
}

// prefixLength reads a dotted subnet mask as a prefix length; 0 when it is not one.
func prefixLength(mask string) int32 {
	ip := net.ParseIP(mask).To4()
	if ip == nil {
		return 0
	}
	ones, _ := net.IPMask(ip).Size()
	return int32(ones)
}

// ethernetCards lists a VM's network cards in device order.
func ethernetCards(vm *simulator.VirtualMachine) []types.BaseVirtualEthernetCard {
	var out []types.BaseVirtualEthernetCard
	for _, d := range object.VirtualDeviceList(vm.Config.Hardware.Device).SelectByType((*types.VirtualEthernetCard)(nil)) {
		if c, ok := d.(types.BaseVirtualEthernetCard); ok {
			out = append(out, c)
		}
	}
	return out
}

// guestNIC is the guest's view of the NIC with device key key.
func guestNIC(vm *simulator.VirtualMachine, key int32) *types.GuestNicInfo {
	for i := range vm.Guest.Net {
		if vm.Guest.Net[i].DeviceConfigId == key {
			return &vm.Guest.Net[i]
		}
	}
	return nil
}

func connected(card *types.VirtualEthernetCard) bool {
	return card.Connectable == nil || card.Connectable.Connected
}

// syncGuestNICs makes the guest's view of each NIC (guest.net[].connected) follow the device's
// connectable.connected, which the simulator's device edits leave out: a guest sees its
// link go down when its NIC is disconnected, and up again when connected.
func syncGuestNICs(ctx *simulator.Context, vm *simulator.VirtualMachine) {
	changed := false
	for _, c := range ethernetCards(vm) {
		card := c.GetVirtualEthernetCard()
		if info := guestNIC(vm, card.Key); info != nil && info.Connected != connected(card) {
			info.Connected = connected(card)
			changed = true
		}
	}
	if changed {
		ctx.Update(vm, []types.PropertyChange{{Name: "guest.net", Val: vm.Guest.Net}})
	}
}

// knob reads a simulator knob from a VM's extraConfig; "" when it is not set.
func knob(vm *simulator.VirtualMachine, key string) string {
	for _, o := range vm.Config.ExtraConfig {
		if ov := o.GetOptionValue(); ov != nil && ov.Key == key {
			if s, ok := ov.Value.(string); ok {
				return s
			}
		}
	}
	return ""
}
