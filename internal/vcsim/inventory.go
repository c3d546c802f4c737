package vcsim

import (
	"context"
	"fmt"
	"path"
	"slices"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// Names of the objects Start creates or relies on.
const (
	DatacenterName = "DC0"
	NetworkName    = "VM Network"
	GoldenVMName   = "golden"
	GoldenVMPath   = "/" + DatacenterName + "/vm/" + GoldenVMName

	SnapshotBase    = "base"
	SnapshotPatched = "patched"
)

// goldenSnapshots are created in this order; the last is the current one.
var goldenSnapshots = []string{SnapshotBase, SnapshotPatched}

// Object names one inventory object.
type Object struct {
	Name string
	Path string // inventory path, e.g. /DC0/vm/golden; empty for snapshots
	Ref  types.ManagedObjectReference
}

// Cluster is a cluster, its root resource pool and its hosts.
type Cluster struct {
	Object
	ResourcePool Object
	Hosts        []Object
}

// GoldenVM is the powered-on source VM for instant clones.
type GoldenVM struct {
	Object
	Host            Object
	ResourcePool    Object
	Datastore       Object
	Snapshots       []Object // in creation order: base, then patched
	CurrentSnapshot Object
}

// Inventory is what Start created. Every datastore is mounted on every host.
type Inventory struct {
	Datacenter Object
	VMFolder   Object
	Network    Object
	Clusters   []Cluster
	Datastores []Object
	Golden     GoldenVM
}

func (inv Inventory) clone() Inventory {
	out := inv
	out.Clusters = make([]Cluster, len(inv.Clusters))
	for i, c := range inv.Clusters {
		c.Hosts = slices.Clone(c.Hosts)
		out.Clusters[i] = c
	}
	out.Datastores = slices.Clone(inv.Datastores)
	out.Golden.Snapshots = slices.Clone(inv.Golden.Snapshots)
	return out
}

func objectOf(ref object.Reference, inventoryPath string) Object {
	return Object{Name: path.Base(inventoryPath), Path: inventoryPath, Ref: ref.Reference()}
}

// buildInventory records the model's inventory and creates the golden VM on
// the first host of the first cluster and the first datastore.
func buildInventory(ctx context.Context, c *vim25.Client) (Inventory, error) {
	var inv Inventory
	finder := find.NewFinder(c, false)

	dc, err := finder.Datacenter(ctx, DatacenterName)
	if err != nil {
		return inv, fmt.Errorf("vcsim: datacenter: %w", err)
	}
	finder.SetDatacenter(dc)
	inv.Datacenter = objectOf(dc, dc.InventoryPath)

	folders, err := dc.Folders(ctx)
	if err != nil {
		return inv, fmt.Errorf("vcsim: datacenter folders: %w", err)
	}
	inv.VMFolder = objectOf(folders.VmFolder, folders.VmFolder.InventoryPath)

	network, err := finder.Network(ctx, NetworkName)
	if err != nil {
		return inv, fmt.Errorf("vcsim: network: %w", err)
	}
	inv.Network = objectOf(network, network.GetInventoryPath())

	clusters, err := finder.ClusterComputeResourceList(ctx, "*")
	if err != nil {
		return inv, fmt.Errorf("vcsim: clusters: %w", err)
	}
	for _, cl := range clusters {
		pool, err := finder.ResourcePool(ctx, path.Join(cl.InventoryPath, "Resources"))
		if err != nil {
			return inv, fmt.Errorf("vcsim: resource pool of %s: %w", cl.InventoryPath, err)
		}
		hosts, err := finder.HostSystemList(ctx, path.Join(cl.InventoryPath, "*"))
		if err != nil {
			return inv, fmt.Errorf("vcsim: hosts of %s: %w", cl.InventoryPath, err)
		}
		cluster := Cluster{Object: objectOf(cl, cl.InventoryPath), ResourcePool: objectOf(pool, pool.InventoryPath)}
		for _, h := range hosts {
			cluster.Hosts = append(cluster.Hosts, objectOf(h, h.InventoryPath))
		}
		inv.Clusters = append(inv.Clusters, cluster)
	}

	datastores, err := finder.DatastoreList(ctx, "*")
	if err != nil {
		return inv, fmt.Errorf("vcsim: datastores: %w", err)
	}
	for _, ds := range datastores {
		inv.Datastores = append(inv.Datastores, objectOf(ds, ds.InventoryPath))
	}

	if len(inv.Clusters) == 0 || len(inv.Clusters[0].Hosts) == 0 || len(inv.Datastores) == 0 {
		return inv, fmt.Errorf("vcsim: the golden VM needs a cluster with a host and a datastore")
	}
	inv.Golden, err = createGolden(ctx, c, folders.VmFolder, network, inv.Clusters[0], inv.Datastores[0])
	return inv, err
}

// createGolden creates the golden VM, powers it on and takes its snapshots.
// Snapshots include memory so that reverting keeps the VM powered on, which
// is also what the simulator does whatever the snapshot's state.
func createGolden(ctx context.Context, c *vim25.Client, folder *object.Folder, network object.NetworkReference, cluster Cluster, ds Object) (GoldenVM, error) {
	golden := GoldenVM{
		Host:         cluster.Hosts[0],
		ResourcePool: cluster.ResourcePool,
		Datastore:    ds,
	}

	var devices object.VirtualDeviceList
	scsi, err := devices.CreateSCSIController("pvscsi")
	if err != nil {
		return golden, fmt.Errorf("vcsim: golden VM controller: %w", err)
	}
	devices = append(devices, scsi)
	controller, ok := scsi.(types.BaseVirtualController)
	if !ok {
		return golden, fmt.Errorf("vcsim: create golden VM: %T is not a controller", scsi)
	}
	disk := devices.CreateDisk(controller, ds.Ref, "")
	disk.CapacityInKB = 16 * 1024 * 1024 // metadata only: the simulator allocates nothing
	devices = append(devices, disk)
	backing, err := network.EthernetCardBackingInfo(ctx)
	if err != nil {
		return golden, fmt.Errorf("vcsim: golden VM network: %w", err)
	}
	nic, err := devices.CreateEthernetCard("vmxnet3", backing)
	if err != nil {
		return golden, fmt.Errorf("vcsim: golden VM network card: %w", err)
	}
	devices = append(devices, nic)
	deviceChange, err := devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	if err != nil {
		return golden, fmt.Errorf("vcsim: golden VM devices: %w", err)
	}

	spec := types.VirtualMachineConfigSpec{
		Name:         GoldenVMName,
		GuestId:      string(types.VirtualMachineGuestOsIdentifierOtherLinux64Guest),
		NumCPUs:      2,
		MemoryMB:     2048,
		Files:        &types.VirtualMachineFileInfo{VmPathName: fmt.Sprintf("[%s]", ds.Name)},
		DeviceChange: deviceChange,
	}
	pool := object.NewResourcePool(c, cluster.ResourcePool.Ref)
	host := object.NewHostSystem(c, golden.Host.Ref)
	task, err := folder.CreateVM(ctx, spec, pool, host)
	if err != nil {
		return golden, fmt.Errorf("vcsim: create golden VM: %w", err)
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return golden, fmt.Errorf("vcsim: create golden VM: %w", err)
	}
	ref, ok := info.Result.(types.ManagedObjectReference)
	if !ok {
		return golden, fmt.Errorf("vcsim: create golden VM: the task returned %T", info.Result)
	}
	vm := object.NewVirtualMachine(c, ref)
	golden.Object = Object{Name: GoldenVMName, Path: path.Join(folder.InventoryPath, GoldenVMName), Ref: vm.Reference()}

	if err := wait(ctx, "power on golden VM", func() (*object.Task, error) { return vm.PowerOn(ctx) }); err != nil {
		return golden, err
	}
	for _, name := range goldenSnapshots {
		err := wait(ctx, "snapshot golden VM", func() (*object.Task, error) {
			return vm.CreateSnapshot(ctx, name, "", true, false)
		})
		if err != nil {
			return golden, err
		}
	}

	var props mo.VirtualMachine
	if err := vm.Properties(ctx, vm.Reference(), []string{"snapshot"}, &props); err != nil {
		return golden, fmt.Errorf("vcsim: golden VM snapshots: %w", err)
	}
	if props.Snapshot == nil {
		return golden, fmt.Errorf("vcsim: golden VM has no snapshots")
	}
	golden.Snapshots = flattenSnapshots(props.Snapshot.RootSnapshotList)
	for _, s := range golden.Snapshots {
		if props.Snapshot.CurrentSnapshot != nil && s.Ref == *props.Snapshot.CurrentSnapshot {
			golden.CurrentSnapshot = s
		}
	}
	return golden, nil
}

// flattenSnapshots lists a snapshot tree depth first, parents before children.
func flattenSnapshots(trees []types.VirtualMachineSnapshotTree) []Object {
	var out []Object
	for _, t := range trees {
		out = append(out, Object{Name: t.Name, Ref: t.Snapshot})
		out = append(out, flattenSnapshots(t.ChildSnapshotList)...)
	}
	return out
}

// wait starts a task and waits for it to finish.
func wait(ctx context.Context, what string, start func() (*object.Task, error)) error {
	task, err := start()
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		return fmt.Errorf("vcsim: %s: %w", what, err)
	}
	return nil
}
