package vsphere

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// VM is what the engine needs to know of a virtual machine.
type VM struct {
	ID         string
	Name       string
	Parent     string // folder ID
	Datastores []string
	Host       string
	PoweredOn  bool
	Fields     map[string]string
}

// Ref is the VM's managed object reference.
func (v VM) Ref() types.ManagedObjectReference { return VMRef(v.ID) }

// Folder is a VM folder with its custom attributes.
type Folder struct {
	ID     string
	Name   string
	Parent string
	Fields map[string]string
}

// Ref builders for IDs the engine passes around as strings.
func VMRef(id string) types.ManagedObjectReference { return ref("VirtualMachine", id) }
func FolderRef(id string) types.ManagedObjectReference {
	return ref("Folder", id)
}
func DatastoreRef(id string) types.ManagedObjectReference { return ref("Datastore", id) }
func HostRef(id string) types.ManagedObjectReference      { return ref("HostSystem", id) }
func PoolRef(id string) types.ManagedObjectReference      { return ref("ResourcePool", id) }

func ref(kind, id string) types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: kind, Value: id}
}

var vmProps = []string{"name", "parent", "datastore", "runtime.host", "runtime.powerState", "customValue"}
var folderProps = []string{"name", "parent", "customValue"}

// Children reads, in one round trip, the given folders and the VMs and folders directly in them.
// A folder that does not exist makes the whole read fail with a not-found error.
func (c *Client) Children(ctx context.Context, folderIDs []string) ([]Folder, []VM, error) {
	if err := c.fields.load(ctx); err != nil {
		return nil, nil, err
	}
	spec := types.PropertyFilterSpec{
		PropSet: []types.PropertySpec{
			{Type: "Folder", PathSet: folderProps},
			{Type: "VirtualMachine", PathSet: vmProps},
		},
	}
	for _, id := range folderIDs {
		spec.ObjectSet = append(spec.ObjectSet, types.ObjectSpec{
			Obj: FolderRef(id),
			SelectSet: []types.BaseSelectionSpec{
				&types.TraversalSpec{Type: "Folder", Path: "childEntity"},
			},
		})
	}
	var contents []types.ObjectContent
	err := retry(ctx, func() error {
		res, err := property.DefaultCollector(c.vim).RetrieveProperties(ctx, types.RetrieveProperties{SpecSet: []types.PropertyFilterSpec{spec}})
		if err != nil {
			return err
		}
		contents = res.Returnval
		return nil
	})
	if err != nil {
		if IsNotFound(err) {
			return nil, nil, notFound("folder", strings.Join(folderIDs, ", "))
		}
		return nil, nil, fmt.Errorf("reading folders %s: %w", strings.Join(folderIDs, ", "), err)
	}
	return c.decodeContents(contents)
}

// AllFolders reads every VM folder of the datacenter with its custom attributes
// (a container view: three calls whatever the inventory size).
func (c *Client) AllFolders(ctx context.Context) ([]Folder, error) {
	if err := c.fields.load(ctx); err != nil {
		return nil, err
	}
	var contents []types.ObjectContent
	err := c.withContainerView(ctx, c.vmFolder, []string{"Folder"}, func(v types.ManagedObjectReference) error {
		return c.retrieveView(ctx, v, []types.PropertySpec{{Type: "Folder", PathSet: folderProps}}, &contents)
	})
	if err != nil {
		return nil, fmt.Errorf("listing VM folders of %s: %w", c.dcPath, err)
	}
	folders, _, err := c.decodeContents(contents)
	return folders, err
}

// AllVMs reads every VM of the datacenter (container view, constant round trips).
func (c *Client) AllVMs(ctx context.Context) ([]VM, error) {
	if err := c.fields.load(ctx); err != nil {
		return nil, err
	}
	var contents []types.ObjectContent
	err := c.withContainerView(ctx, c.vmFolder, []string{"VirtualMachine"}, func(v types.ManagedObjectReference) error {
		return c.retrieveView(ctx, v, []types.PropertySpec{{Type: "VirtualMachine", PathSet: vmProps}}, &contents)
	})
	if err != nil {
		return nil, fmt.Errorf("listing VMs of %s: %w", c.dcPath, err)
	}
	_, vms, err := c.decodeContents(contents)
	return vms, err
}

// withContainerView runs f over a fresh container view. A view belongs to the session that
// created it: when the session ends between creating and reading it, f finds the view gone
// after logging in again, and runs once more over a view of the new session.
func (c *Client) withContainerView(ctx context.Context, root types.ManagedObjectReference, kinds []string, f func(types.ManagedObjectReference) error) error {
	err := c.withContainerViewOnce(ctx, root, kinds, f)
	if fault.Is(err, &types.ManagedObjectNotFound{}) {
		err = c.withContainerViewOnce(ctx, root, kinds, f)
	}
	return err
}

func (c *Client) withContainerViewOnce(ctx context.Context, root types.ManagedObjectReference, kinds []string, f func(types.ManagedObjectReference) error) error {
	var view types.ManagedObjectReference
	err := retry(ctx, func() error {
		res, err := createContainerView(ctx, c, root, kinds)
		view = res
		return err
	})
	if err != nil {
		return err
	}
	defer func() { _ = destroyView(context.WithoutCancel(ctx), c, view) }()
	return f(view)
}

func createContainerView(ctx context.Context, c *Client, root types.ManagedObjectReference, kinds []string) (types.ManagedObjectReference, error) {
	res, err := methods.CreateContainerView(ctx, c.vim, &types.CreateContainerView{
		This: *c.vim.ServiceContent.ViewManager, Container: root, Type: kinds, Recursive: true,
	})
	if err != nil {
		return types.ManagedObjectReference{}, err
	}
	return res.Returnval, nil
}

func destroyView(ctx context.Context, c *Client, view types.ManagedObjectReference) error {
	_, err := methods.DestroyView(ctx, c.vim, &types.DestroyView{This: view})
	return err
}

func (c *Client) retrieveView(ctx context.Context, view types.ManagedObjectReference, props []types.PropertySpec, out *[]types.ObjectContent) error {
	spec := types.PropertyFilterSpec{
		ObjectSet: []types.ObjectSpec{{
			Obj:       view,
			Skip:      types.NewBool(true),
			SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: "ContainerView", Path: "view"}},
		}},
		PropSet: props,
	}
	return retry(ctx, func() error {
		res, err := property.DefaultCollector(c.vim).RetrieveProperties(ctx, types.RetrieveProperties{SpecSet: []types.PropertyFilterSpec{spec}})
		if err != nil {
			return err
		}
		*out = res.Returnval
		return nil
	})
}

func (c *Client) decodeContents(contents []types.ObjectContent) ([]Folder, []VM, error) {
	var folders []Folder
	var vms []VM
	for _, oc := range contents {
		switch oc.Obj.Type {
		case "Folder":
			var f mo.Folder
			if err := mo.LoadObjectContent([]types.ObjectContent{oc}, &f); err != nil {
				return nil, nil, fmt.Errorf("decoding folder %s: %w", oc.Obj.Value, err)
			}
			folders = append(folders, Folder{ID: oc.Obj.Value, Name: f.Name, Parent: refValue(f.Parent), Fields: c.fields.decode(f.CustomValue)})
		case "VirtualMachine":
			var m mo.VirtualMachine
			if err := mo.LoadObjectContent([]types.ObjectContent{oc}, &m); err != nil {
				return nil, nil, fmt.Errorf("decoding VM %s: %w", oc.Obj.Value, err)
			}
			vm := VM{
				ID:        oc.Obj.Value,
				Name:      m.Name,
				Parent:    refValue(m.Parent),
				Host:      refValue(m.Runtime.Host),
				PoweredOn: m.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn,
				Fields:    c.fields.decode(m.CustomValue),
			}
			for _, ds := range m.Datastore {
				vm.Datastores = append(vm.Datastores, ds.Value)
			}
			vms = append(vms, vm)
		}
	}
	return folders, vms, nil
}

func refValue(r *types.ManagedObjectReference) string {
	if r == nil {
		return ""
	}
	return r.Value
}

var morefID = regexp.MustCompile(`^[a-z]+(-[a-z]+)?-\d+$|^[a-z]+-[a-z0-9]+$`)

// LooksLikeID tells a managed object ID (vm-44, datastore-12) from an inventory path.
func LooksLikeID(s string) bool { return !strings.Contains(s, "/") && morefID.MatchString(s) }

// Name reads an object's name, or a not-found error naming kind and ID.
func (c *Client) Name(ctx context.Context, kind, id string) (string, error) {
	var out mo.ManagedEntity
	err := retry(ctx, func() error {
		return property.DefaultCollector(c.vim).RetrieveOne(ctx, ref(kind, id), []string{"name"}, &out)
	})
	if err != nil {
		if IsNotFound(err) {
			return "", notFound(kindLabel(kind), id)
		}
		return "", fmt.Errorf("reading %s %s: %w", kindLabel(kind), id, err)
	}
	return out.Name, nil
}

func kindLabel(kind string) string {
	switch kind {
	case "VirtualMachine":
		return "virtual machine"
	case "ResourcePool":
		return "resource pool"
	case "HostSystem":
		return "host"
	default:
		return strings.ToLower(kind)
	}
}

// Snapshot is one snapshot of a VM.
type Snapshot struct {
	ID, Name string
}

// SourceVM is a VM that an image can be published from.
type SourceVM struct {
	ID        string
	Name      string
	Path      string
	Current   *Snapshot
	Snapshots []Snapshot
}

// FindSourceVM finds a VM by ID or inventory path (absolute, or relative to the datacenter's
// VM folder) and reads its snapshots.
func (c *Client) FindSourceVM(ctx context.Context, pathOrID string) (*SourceVM, error) {
	var vmRef types.ManagedObjectReference
	if LooksLikeID(pathOrID) {
		vmRef = VMRef(pathOrID)
	} else {
		finder := find.NewFinder(c.vim, false)
		finder.SetDatacenter(c.datacenter)
		vm, err := finder.VirtualMachine(ctx, c.vmPath(pathOrID))
		if err != nil {
			var nf *find.NotFoundError
			if asNotFound(err, &nf) {
				return nil, notFound("virtual machine", pathOrID)
			}
			return nil, fmt.Errorf("finding virtual machine %q: %w", pathOrID, err)
		}
		vmRef = vm.Reference()
	}
	var m mo.VirtualMachine
	err := retry(ctx, func() error {
		return property.DefaultCollector(c.vim).RetrieveOne(ctx, vmRef, []string{"name", "snapshot"}, &m)
	})
	if err != nil {
		if IsNotFound(err) {
			return nil, notFound("virtual machine", pathOrID)
		}
		return nil, fmt.Errorf("reading virtual machine %q: %w", pathOrID, err)
	}
	src := &SourceVM{ID: vmRef.Value, Name: m.Name, Path: pathOrID}
	if m.Snapshot != nil {
		var walk func([]types.VirtualMachineSnapshotTree)
		walk = func(trees []types.VirtualMachineSnapshotTree) {
			for _, t := range trees {
				s := Snapshot{ID: t.Snapshot.Value, Name: t.Name}
				src.Snapshots = append(src.Snapshots, s)
				if m.Snapshot.CurrentSnapshot != nil && t.Snapshot == *m.Snapshot.CurrentSnapshot {
					cur := s
					src.Current = &cur
				}
				walk(t.ChildSnapshotList)
			}
		}
		walk(m.Snapshot.RootSnapshotList)
	}
	return src, nil
}

// vmPath turns a path relative to the datacenter's VM folder into an absolute one.
func (c *Client) vmPath(p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return path.Join(c.dcPath, "vm", p)
}

// FolderPath turns a user's folder (absolute, or relative to the VM folder) into an absolute path.
func (c *Client) FolderPath(p string) string {
	if p == "" {
		return path.Join(c.dcPath, "vm")
	}
	return c.vmPath(p)
}

// ResourcePoolHosts returns the hosts that can run VMs of a resource pool, sorted by ID.
func (c *Client) ResourcePoolHosts(ctx context.Context, poolID string) ([]string, error) {
	var rp mo.ResourcePool
	err := retry(ctx, func() error {
		return property.DefaultCollector(c.vim).RetrieveOne(ctx, PoolRef(poolID), []string{"owner"}, &rp)
	})
	if err != nil {
		if IsNotFound(err) {
			return nil, notFound("resource pool", poolID)
		}
		return nil, fmt.Errorf("reading resource pool %s: %w", poolID, err)
	}
	var cr mo.ComputeResource
	err = retry(ctx, func() error {
		return property.DefaultCollector(c.vim).RetrieveOne(ctx, rp.Owner, []string{"host"}, &cr)
	})
	if err != nil {
		return nil, fmt.Errorf("reading hosts of resource pool %s: %w", poolID, err)
	}
	hosts := make([]string, 0, len(cr.Host))
	for _, h := range cr.Host {
		hosts = append(hosts, h.Value)
	}
	sortIDs(hosts)
	return hosts, nil
}

// DatastoreHosts returns the hosts that mount a datastore.
func (c *Client) DatastoreHosts(ctx context.Context, id string) ([]string, error) {
	var ds mo.Datastore
	err := retry(ctx, func() error {
		return property.DefaultCollector(c.vim).RetrieveOne(ctx, DatastoreRef(id), []string{"host"}, &ds)
	})
	if err != nil {
		if IsNotFound(err) {
			return nil, notFound("datastore", id)
		}
		return nil, fmt.Errorf("reading datastore %s: %w", id, err)
	}
	var hosts []string
	for _, m := range ds.Host {
		hosts = append(hosts, m.Key.Value)
	}
	return hosts, nil
}
