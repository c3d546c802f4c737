package vsphere

import (
	"context"
	"fmt"
	"maps"
	"path"
	"strings"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// The engine's port, implemented on govmomi.
var _ engine.Port = (*Client)(nil)

// VMRef is the reference of a VM the engine names by ID.
func VMRef(id string) types.ManagedObjectReference { return ref("VirtualMachine", id) }

// Reference builders for the other IDs the engine passes around as strings.
func folderRef(id string) types.ManagedObjectReference    { return ref("Folder", id) }
func datastoreRef(id string) types.ManagedObjectReference { return ref("Datastore", id) }
func hostRef(id string) types.ManagedObjectReference      { return ref("HostSystem", id) }
func poolRef(id string) types.ManagedObjectReference      { return ref("ResourcePool", id) }

func ref(kind, id string) types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: kind, Value: id}
}

func objectRef(o engine.Object) types.ManagedObjectReference {
	if o.Kind == engine.KindFolder {
		return folderRef(o.ID)
	}
	return VMRef(o.ID)
}

// The narrow property paths every read asks for: customValue carries the marks, and
// config.files.vmPathName says which datastore holds the VM (its datastore property also lists
// those of a mounted ISO or a swap file), named by the datastores' names read alongside. A
// clone's own marks are in its extraConfig, each read by key (configMarkPath) rather than the
// whole extraConfig.
var vmProps = append([]string{"name", "parent", "datastore", "config.files.vmPathName", "runtime.host", "runtime.powerState", "runtime.instantCloneFrozen", "customValue"}, configMarkPaths()...)
var folderProps = []string{"name", "parent", "customValue"}

// withDatastoreNames adds, to a selection that reaches VMs, the names of their datastores.
func withDatastoreNames(spec *types.PropertyFilterSpec) {
	spec.PropSet = append(spec.PropSet, types.PropertySpec{Type: "Datastore", PathSet: []string{"name"}})
}

// vmDatastores is the traversal from a VM to the datastores it uses.
var vmDatastores = &types.TraversalSpec{Type: "VirtualMachine", Path: "datastore"}

// Contents reads, in one round trip, the given folders and the VMs and folders directly in
// them. A folder that does not exist makes the whole read fail with a not-found error.
func (c *Client) Contents(ctx context.Context, folderIDs ...string) ([]engine.Folder, []engine.VM, error) {
	contents, err := c.retrieve(ctx, contentsSpec(folderIDs))
	if err != nil {
		return nil, nil, contentsError(err, folderIDs)
	}
	return c.decodeContents(ctx, contents)
}

// contentsSpec selects what Contents reads.
func contentsSpec(folderIDs []string) types.PropertyFilterSpec {
	spec := types.PropertyFilterSpec{
		PropSet: []types.PropertySpec{
			{Type: "Folder", PathSet: folderProps},
			{Type: "VirtualMachine", PathSet: vmProps},
		},
	}
	withDatastoreNames(&spec)
	for _, id := range folderIDs {
		spec.ObjectSet = append(spec.ObjectSet, types.ObjectSpec{
			Obj: folderRef(id),
			SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{
				Type: "Folder", Path: "childEntity", SelectSet: []types.BaseSelectionSpec{vmDatastores},
			}},
		})
	}
	return spec
}

func contentsError(err error, folderIDs []string) error {
	if IsNotFound(err) {
		return notFound("folder", strings.Join(folderIDs, ", "))
	}
	return wrap(err, "reading folders %s", strings.Join(folderIDs, ", "))
}

// retrieve reads what spec selects in one RetrieveProperties, retried as every call is.
func (c *Client) retrieve(ctx context.Context, spec types.PropertyFilterSpec) ([]types.ObjectContent, error) {
	var contents []types.ObjectContent
	err := retry(ctx, func() error {
		res, err := property.DefaultCollector(c.vim).RetrieveProperties(ctx, types.RetrieveProperties{SpecSet: []types.PropertyFilterSpec{spec}})
		if err != nil {
			return err
		}
		contents = res.Returnval
		return nil
	})
	return contents, err
}

// Folders reads every VM folder of the datacenter with its marks.
func (c *Client) Folders(ctx context.Context) ([]engine.Folder, error) {
	contents, err := c.viewContents(ctx, "Folder", folderProps)
	if err != nil {
		return nil, fmt.Errorf("listing VM folders of %s: %w", c.dcPath, err)
	}
	folders, _, err := c.decodeContents(ctx, contents)
	return folders, err
}

// AllVMs reads every VM of the datacenter, for tests and tools.
func (c *Client) AllVMs(ctx context.Context) ([]engine.VM, error) {
	contents, err := c.viewContents(ctx, "VirtualMachine", vmProps)
	if err != nil {
		return nil, fmt.Errorf("listing VMs of %s: %w", c.dcPath, err)
	}
	_, vms, err := c.decodeContents(ctx, contents)
	return vms, err
}

// viewContents reads props of every object of one kind under the VM folder through a
// container view: three calls whatever the inventory's size. A view belongs to the session
// that created it: when the session ends between creating and reading it, the read finds it
// gone after logging in again, and runs once more over a view of the new session.
func (c *Client) viewContents(ctx context.Context, kind string, props []string) ([]types.ObjectContent, error) {
	return c.viewContentsAfter(ctx, kind, props, func() {})
}

// viewContentsAfter is viewContents running between after the first view is created and
// before it is read (for the test of a session ending in that window).
func (c *Client) viewContentsAfter(ctx context.Context, kind string, props []string, between func()) ([]types.ObjectContent, error) {
	contents, err := c.viewContentsOnce(ctx, kind, props, between)
	if fault.Is(err, &types.ManagedObjectNotFound{}) {
		contents, err = c.viewContentsOnce(ctx, kind, props, func() {})
	}
	return contents, err
}

func (c *Client) viewContentsOnce(ctx context.Context, kind string, props []string, between func()) ([]types.ObjectContent, error) {
	var v *view.ContainerView
	err := retry(ctx, func() error {
		var err error
		v, err = view.NewManager(c.vim).CreateContainerView(ctx, c.vmFolder, []string{kind}, true)
		return err
	})
	if err != nil {
		return nil, err
	}
	defer func() { _ = v.Destroy(context.WithoutCancel(ctx)) }()
	between()
	if kind != "VirtualMachine" {
		var contents []types.ObjectContent
		err = retry(ctx, func() error { return v.Retrieve(ctx, []string{kind}, props, &contents) })
		return contents, err
	}
	// ContainerView.Retrieve reads the view's objects only; VMs need their datastores' names
	// too, through a traversal from each VM, so this read builds its own filter.
	spec := types.PropertyFilterSpec{
		ObjectSet: []types.ObjectSpec{{
			Obj:  v.Reference(),
			Skip: types.NewBool(true),
			SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{
				Type: "ContainerView", Path: "view", SelectSet: []types.BaseSelectionSpec{vmDatastores},
			}},
		}},
		PropSet: []types.PropertySpec{{Type: kind, PathSet: props}},
	}
	withDatastoreNames(&spec)
	return c.retrieve(ctx, spec)
}

func (c *Client) decodeContents(ctx context.Context, contents []types.ObjectContent) ([]engine.Folder, []engine.VM, error) {
	marks, err := c.fields.decoder(ctx, contents)
	if err != nil {
		return nil, nil, err
	}
	var folders []engine.Folder
	var vms []engine.VM
	dsByName := map[string]string{}
	for _, oc := range contents {
		if oc.Obj.Type == "Datastore" {
			for _, p := range oc.PropSet {
				if name, ok := p.Val.(string); ok && p.Name == "name" {
					dsByName[name] = oc.Obj.Value
				}
			}
		}
	}
	for _, oc := range contents {
		switch oc.Obj.Type {
		case "Folder":
			var f mo.Folder
			if err := mo.LoadObjectContent([]types.ObjectContent{oc}, &f); err != nil {
				return nil, nil, fmt.Errorf("decoding folder %s: %w", oc.Obj.Value, err)
			}
			folders = append(folders, engine.Folder{ID: oc.Obj.Value, Name: f.Name, Parent: refValue(f.Parent), Marks: marks(f.CustomValue)})
		case "VirtualMachine":
			oc, inConfig := splitConfigMarks(oc)
			var m mo.VirtualMachine
			if err := mo.LoadObjectContent([]types.ObjectContent{oc}, &m); err != nil {
				return nil, nil, fmt.Errorf("decoding VM %s: %w", oc.Obj.Value, err)
			}
			vm := engine.VM{
				ID:        oc.Obj.Value,
				Name:      m.Name,
				Folder:    refValue(m.Parent),
				Host:      refValue(m.Runtime.Host),
				PoweredOn: m.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn,
				Frozen:    m.Runtime.InstantCloneFrozen != nil && *m.Runtime.InstantCloneFrozen,
				Marks:     inConfig,
			}
			// A custom attribute written since (or by a release that marked clones that way)
			// says more than what the clone was made with.
			maps.Copy(vm.Marks, marks(m.CustomValue))
			for _, ds := range m.Datastore {
				vm.Datastores = append(vm.Datastores, ds.Value)
			}
			if m.Config != nil {
				var p object.DatastorePath
				if p.FromString(m.Config.Files.VmPathName) {
					vm.Datastore = dsByName[p.Datastore]
				}
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

// SourceVM finds a VM by inventory path, managed object ID or BIOS UUID (findVM) and reads
// its snapshots.
func (c *Client) SourceVM(ctx context.Context, ref string) (*engine.SourceVM, error) {
	vmRef, err := c.findVM(ctx, ref)
	if err != nil {
		return nil, err
	}
	var m mo.VirtualMachine
	err = retry(ctx, func() error {
		return property.DefaultCollector(c.vim).RetrieveOne(ctx, vmRef, []string{"name", "snapshot"}, &m)
	})
	if err != nil {
		if IsNotFound(err) {
			return nil, notFound("virtual machine", ref)
		}
		return nil, wrap(err, "reading virtual machine %q", ref)
	}
	src := &engine.SourceVM{ID: vmRef.Value, Name: m.Name}
	if m.Snapshot != nil {
		var walk func([]types.VirtualMachineSnapshotTree)
		walk = func(trees []types.VirtualMachineSnapshotTree) {
			for _, t := range trees {
				s := engine.Snapshot{ID: t.Snapshot.Value, Name: t.Name}
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

// folderPath turns a user's folder (absolute, or relative to the VM folder) into an absolute path.
func (c *Client) folderPath(p string) string {
	if p == "" {
		return path.Join(c.dcPath, "vm")
	}
	return c.vmPath(p)
}
