package vsphere

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// networkCache keeps what putting a clone's NICs on other networks needs, so that no clone
// costs a read: each parent's network cards (a parent's devices do not change while it runs)
// and each network's backing.
type networkCache struct {
	mu       sync.Mutex
	cards    map[string][]types.BaseVirtualDevice // parent VM → its NICs, in device order
	backings map[string]types.BaseVirtualDeviceBackingInfo
}

// NICs lists a VM's network cards in device order, each with the network it is on.
func (c *Client) NICs(ctx context.Context, vmID string) ([]engine.NIC, error) {
	cards, err := c.nicDevices(ctx, vmID)
	if err != nil {
		return nil, err
	}
	out := make([]engine.NIC, 0, len(cards))
	for _, d := range cards {
		nic := engine.NIC{Label: d.GetVirtualDevice().DeviceInfo.GetDescription().Label}
		switch b := d.GetVirtualDevice().Backing.(type) {
		case *types.VirtualEthernetCardNetworkBackingInfo:
			if b.Network != nil {
				nic.Network = b.Network.Value
			}
		case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
			nic.Network = b.Port.PortgroupKey
		}
		out = append(out, nic)
	}
	return out, nil
}

func (c *Client) nicDevices(ctx context.Context, vmID string) ([]types.BaseVirtualDevice, error) {
	var vm mo.VirtualMachine
	err := retry(ctx, func() error {
		return property.DefaultCollector(c.vim).RetrieveOne(ctx, VMRef(vmID), []string{"config.hardware.device"}, &vm)
	})
	if err != nil {
		if IsNotFound(err) {
			return nil, notFound("virtual machine", vmID)
		}
		return nil, wrap(err, "reading the devices of %s", vmID)
	}
	var cards []types.BaseVirtualDevice
	for _, d := range object.VirtualDeviceList(vm.Config.Hardware.Device).SelectByType((*types.VirtualEthernetCard)(nil)) {
		cards = append(cards, d)
	}
	return cards, nil
}

// networkRef names a network by its ID: a distributed port group's starts "dvportgroup-".
func networkRef(id string) types.ManagedObjectReference {
	if strings.HasPrefix(id, "dvportgroup-") {
		return ref("DistributedVirtualPortgroup", id)
	}
	return ref("Network", id)
}

// Network reads a standard network or distributed port group, and keeps its NIC backing.
// A standard network's backing is made from the one read of its name.
func (c *Client) Network(ctx context.Context, id string) (*engine.Network, error) {
	name, err := c.networkName(ctx, id)
	if err != nil {
		return nil, err
	}
	if r := networkRef(id); r.Type == "Network" {
		c.keepBacking(id, standardBacking(r, name))
	} else if _, err := c.backing(ctx, id); err != nil {
		return nil, err
	}
	return &engine.Network{ID: id, Name: name}, nil
}

func (c *Client) networkName(ctx context.Context, id string) (string, error) {
	var n mo.Network
	err := retry(ctx, func() error {
		return property.DefaultCollector(c.vim).RetrieveOne(ctx, networkRef(id), []string{"name"}, &n)
	})
	if err != nil {
		if IsNotFound(err) {
			return "", notFound("network", id)
		}
		return "", wrap(err, "reading network %s", id)
	}
	return n.Name, nil
}

// standardBacking puts a card on a standard network, named by reference as well as by name
// (govmomi's helper gives the name only).
func standardBacking(r types.ManagedObjectReference, name string) types.BaseVirtualDeviceBackingInfo {
	return &types.VirtualEthernetCardNetworkBackingInfo{
		VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: name},
		Network:                        &r,
	}
}

func (c *Client) keepBacking(id string, b types.BaseVirtualDeviceBackingInfo) {
	c.nets.mu.Lock()
	defer c.nets.mu.Unlock()
	if c.nets.backings == nil {
		c.nets.backings = map[string]types.BaseVirtualDeviceBackingInfo{}
	}
	c.nets.backings[id] = b
}

// backing is the NIC backing that puts a card on network id, read once per network.
func (c *Client) backing(ctx context.Context, id string) (types.BaseVirtualDeviceBackingInfo, error) {
	c.nets.mu.Lock()
	b, ok := c.nets.backings[id]
	c.nets.mu.Unlock()
	if ok {
		return b, nil
	}
	r := networkRef(id)
	if r.Type == "Network" {
		name, err := c.networkName(ctx, id)
		if err != nil {
			return nil, err
		}
		b = standardBacking(r, name)
	} else {
		err := retry(ctx, func() error {
			var err error
			b, err = object.NewDistributedVirtualPortgroup(c.vim, r).EthernetCardBackingInfo(ctx)
			return err
		})
		if err != nil {
			if IsNotFound(err) {
				return nil, notFound("network", id)
			}
			return nil, wrap(err, "reading the NIC backing of network %s", id)
		}
	}
	c.keepBacking(id, b)
	return b, nil
}

// nicEdits are the device changes of an InstantClone spec that put the child's NICs, in
// order, on networks, and with disconnect have every NIC of the child resume disconnected
// (the SDK programming guide's "InstantCloneSpec that specifies that the virtual NIC in the
// instant clone will be disconnected"): edits of the parent's own cards, the only device
// changes the spec allows ("edits of VirtualEthernetCard").
func (c *Client) nicEdits(ctx context.Context, parent string, networks []string, disconnect bool) ([]types.BaseVirtualDeviceConfigSpec, error) {
	if len(networks) == 0 && !disconnect {
		return nil, nil
	}
	cards, err := c.parentCards(ctx, parent)
	if err != nil {
		return nil, err
	}
	if len(networks) > len(cards) {
		return nil, fmt.Errorf("%d networks for the %d network cards of parent %s", len(networks), len(cards), parent)
	}
	edits := make([]types.BaseVirtualDeviceConfigSpec, 0, len(cards))
	for i, card := range cards {
		if i >= len(networks) && !disconnect {
			break
		}
		dev := copyDevice(card) // the cached card stays the parent's
		if i < len(networks) {
			b, err := c.backing(ctx, networks[i])
			if err != nil {
				return nil, err
			}
			dev.GetVirtualDevice().Backing = b
		}
		if disconnect {
			setConnected(dev, false)
		}
		edits = append(edits, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: dev})
	}
	return edits, nil
}

// parentCards are a parent's NICs, read once: a parent's devices do not change while it runs.
func (c *Client) parentCards(ctx context.Context, parent string) ([]types.BaseVirtualDevice, error) {
	c.nets.mu.Lock()
	cards, ok := c.nets.cards[parent]
	c.nets.mu.Unlock()
	if ok {
		return cards, nil
	}
	cards, err := c.nicDevices(ctx, parent)
	if err != nil {
		return nil, err
	}
	c.nets.mu.Lock()
	if c.nets.cards == nil {
		c.nets.cards = map[string][]types.BaseVirtualDevice{}
	}
	c.nets.cards[parent] = cards
	c.nets.mu.Unlock()
	return cards, nil
}

// copyDevice is a shallow copy of a device of any concrete type (VirtualVmxnet3, VirtualE1000e...).
func copyDevice(d types.BaseVirtualDevice) types.BaseVirtualDevice {
	v := reflect.New(reflect.TypeOf(d).Elem())
	v.Elem().Set(reflect.ValueOf(d).Elem())
	if c, ok := v.Interface().(types.BaseVirtualDevice); ok {
		return c
	}
	return d // not reached: the copy has d's type
}
