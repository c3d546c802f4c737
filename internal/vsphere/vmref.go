package vsphere

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// A user names a VM the three ways vSphere tools do: an inventory path, a managed object ID,
// or the BIOS UUID (config.uuid, what hashicorp/vsphere's virtual machine data source gives as
// its id). Only a value of the right shape is tried as an ID or UUID, and a VM can be called
// anything (ubuntu-2204, vm-12), so an ID- or UUID-shaped value that finds nothing is tried as
// a path too.
var (
	vmIDShape   = regexp.MustCompile(`^vm-\d+$`)
	biosUUIDHex = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// LooksLikeID reports whether s has the shape of a VM's managed object ID (vm-44).
func LooksLikeID(s string) bool { return vmIDShape.MatchString(s) }

// looksLikeBIOSUUID reports whether s has the shape of a VM's BIOS UUID (8-4-4-4-12 hex).
func looksLikeBIOSUUID(s string) bool { return biosUUIDHex.MatchString(s) }

// vmLookup finds a VM one way; nil, nil when it finds none.
type vmLookup func(ctx context.Context, ref string) (*types.ManagedObjectReference, error)

// findVM resolves a VM reference to its managed object reference, or a not-found error.
func (c *Client) findVM(ctx context.Context, ref string) (types.ManagedObjectReference, error) {
	lookups := []vmLookup{c.vmByPath}
	switch {
	case LooksLikeID(ref):
		lookups = []vmLookup{c.vmByID, c.vmByPath}
	case looksLikeBIOSUUID(ref):
		lookups = []vmLookup{c.vmByBIOSUUID, c.vmByPath}
	}
	for _, lookup := range lookups {
		found, err := lookup(ctx, ref)
		if err != nil {
			return types.ManagedObjectReference{}, err
		}
		if found != nil {
			return *found, nil
		}
	}
	return types.ManagedObjectReference{}, notFound("virtual machine", ref)
}

// vmByID returns the VM with this managed object ID, or nil when there is none.
func (c *Client) vmByID(ctx context.Context, id string) (*types.ManagedObjectReference, error) {
	vm := VMRef(id)
	var m mo.VirtualMachine
	err := retry(ctx, func() error {
		return property.DefaultCollector(c.vim).RetrieveOne(ctx, vm, []string{"name"}, &m)
	})
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(err, "reading virtual machine %s", id)
	}
	return &vm, nil
}

// vmByBIOSUUID asks the SearchIndex for the VM whose config.uuid is uuid, within the
// provider's datacenter; nil when there is none.
func (c *Client) vmByBIOSUUID(ctx context.Context, uuid string) (*types.ManagedObjectReference, error) {
	instanceUUID := false
	var found object.Reference
	err := retry(ctx, func() error {
		var err error
		found, err = object.NewSearchIndex(c.vim).FindByUuid(ctx, c.datacenter, strings.ToLower(uuid), true, &instanceUUID)
		return err
	})
	if err != nil {
		return nil, wrap(err, "searching for the virtual machine with BIOS UUID %s", uuid)
	}
	if found == nil {
		return nil, nil
	}
	vm := found.Reference()
	return &vm, nil
}

// vmByPath finds a VM by inventory path, absolute or relative to the datacenter's VM folder;
// nil when there is none.
func (c *Client) vmByPath(ctx context.Context, p string) (*types.ManagedObjectReference, error) {
	finder := find.NewFinder(c.vim, false)
	finder.SetDatacenter(c.datacenter)
	vm, err := finder.VirtualMachine(ctx, c.vmPath(p))
	if isFinderNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("finding virtual machine %q: %w", p, err)
	}
	found := vm.Reference()
	return &found, nil
}
