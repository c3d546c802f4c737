package vcsim

import (
	"strings"
	"testing"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

func TestEscapeName(t *testing.T) {
	for in, want := range map[string]string{
		"plain":         "plain",
		"VDI/Sales 50%": "VDI%2fSales 50%25",
		`back\slash`:    "back%5cslash",
		"already%2fone": "already%2fone",
		"100%":          "100%25",
		"%zz":           "%25zz",
	} {
		if got := EscapeName(in); got != want {
			t.Errorf("EscapeName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestEntityNames: folders, clones and renames are stored escaped, as vCenter stores them, and
// names of 80 characters or more are refused with InvalidName.
func TestEntityNames(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	ctx := t.Context()
	root := object.NewFolder(c.Client, s.Inventory().VMFolder.Ref)
	f, err := root.CreateFolder(ctx, "VDI/Sales 50%")
	if err != nil {
		t.Fatal(err)
	}
	var folder mo.Folder
	if err := c.RetrieveOne(ctx, f.Reference(), []string{"name"}, &folder); err != nil {
		t.Fatal(err)
	}
	if folder.Name != "VDI%2fSales 50%25" {
		t.Errorf("folder stored as %q, want it escaped", folder.Name)
	}
	task, err := f.Rename(ctx, `a\b`)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.RetrieveOne(ctx, f.Reference(), []string{"name"}, &folder); err != nil || folder.Name != "a%5cb" {
		t.Errorf("renamed to %q (%v), want a%%5cb", folder.Name, err)
	}
	for _, name := range []string{strings.Repeat("n", 80), strings.Repeat("/", 27), ""} {
		_, err := root.CreateFolder(ctx, name)
		var in *types.InvalidName
		if _, ok := fault.As(err, &in); !ok {
			t.Errorf("folder named %q (%d characters): got %v, want InvalidName", name, len(name), err)
		}
	}
	if _, err := root.CreateFolder(ctx, strings.Repeat("n", 79)); err != nil {
		t.Errorf("a 79-character name: %v", err)
	}
	_, err = goldenVM(t, c).Clone(ctx, root, strings.Repeat("v", 80), types.VirtualMachineCloneSpec{})
	var in *types.InvalidName
	if _, ok := fault.As(err, &in); !ok {
		t.Errorf("a clone named with 80 characters: got %v, want InvalidName", err)
	}
}

// TestCloneLocation: a full clone onto a host of another cluster, or onto a host that does not
// mount the datastore, is refused.
func TestCloneLocation(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Clusters: 2})
	c := login(t, s)
	ctx := t.Context()
	inv := s.Inventory()
	golden := goldenVM(t, c)
	root := object.NewFolder(c.Client, inv.VMFolder.Ref)

	other := inv.Clusters[1].Hosts[0].Ref
	pool := inv.Clusters[0].ResourcePool.Ref
	_, err := golden.Clone(ctx, root, "x", types.VirtualMachineCloneSpec{Location: types.VirtualMachineRelocateSpec{Host: &other, Pool: &pool}})
	var ia *types.InvalidArgument
	if _, ok := fault.As(err, &ia); !ok || ia.InvalidProperty != "spec.location.host" {
		t.Errorf("a host outside the pool's cluster: got %v, want InvalidArgument on spec.location.host", err)
	}

	host, ds := inv.Clusters[0].Hosts[1].Ref, inv.Datastores[1].Ref
	sim, ok := s.Service().Context.Map.Get(host).(*simulator.HostSystem)
	if !ok {
		t.Fatal("host not in the registry")
	}
	s.Service().Context.WithLock(sim, func() {
		sim.Datastore = slicesWithout(sim.Datastore, ds)
	})
	_, err = golden.Clone(ctx, root, "y", types.VirtualMachineCloneSpec{Location: types.VirtualMachineRelocateSpec{Host: &host, Datastore: &ds}})
	var nw *types.DatastoreNotWritableOnHost
	if _, ok := fault.As(err, &nw); !ok {
		t.Errorf("a host that does not mount the datastore: got %v, want DatastoreNotWritableOnHost", err)
	}
}

func slicesWithout(refs []types.ManagedObjectReference, drop types.ManagedObjectReference) []types.ManagedObjectReference {
	var out []types.ManagedObjectReference
	for _, r := range refs {
		if r != drop {
			out = append(out, r)
		}
	}
	return out
}

// TestRelocateMovesFiles: storage vMotion moves the VM's files, so config.files names the
// destination datastore.
func TestRelocateMovesFiles(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	ctx := t.Context()
	inv := s.Inventory()
	golden := goldenVM(t, c)
	dest := inv.Datastores[2]
	task, err := golden.Relocate(ctx, types.VirtualMachineRelocateSpec{Datastore: &dest.Ref}, types.VirtualMachineMovePriorityDefaultPriority)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	var vm mo.VirtualMachine
	if err := c.RetrieveOne(ctx, golden.Reference(), []string{"config.files", "datastore"}, &vm); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(vm.Config.Files.VmPathName, "["+dest.Name+"] ") {
		t.Errorf("vmPathName %q after moving to %s", vm.Config.Files.VmPathName, dest.Name)
	}
	if len(vm.Datastore) != 1 || vm.Datastore[0] != dest.Ref {
		t.Errorf("datastores %v, want %s", vm.Datastore, dest.Ref)
	}
}

// TestReconfigureListsISODatastore: a CD-ROM backed by an ISO on another datastore adds that
// datastore to the VM's datastore property, as on vCenter.
func TestReconfigureListsISODatastore(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	ctx := t.Context()
	inv := s.Inventory()
	golden := goldenVM(t, c)
	devices, err := golden.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ide, err := devices.FindIDEController("")
	if err != nil {
		t.Fatal(err)
	}
	cdrom, err := devices.CreateCdrom(ide)
	if err != nil {
		t.Fatal(err)
	}
	iso := inv.Datastores[2]
	if err := golden.AddDevice(ctx, devices.InsertIso(cdrom, "["+iso.Name+"] tools.iso")); err != nil {
		t.Fatal(err)
	}
	var vm mo.VirtualMachine
	if err := c.RetrieveOne(ctx, golden.Reference(), []string{"datastore"}, &vm); err != nil {
		t.Fatal(err)
	}
	if len(vm.Datastore) != 2 || vm.Datastore[0] != inv.Golden.Datastore.Ref || vm.Datastore[1] != iso.Ref {
		t.Errorf("datastores %v, want the VM's own %s and the ISO's %s", vm.Datastore, inv.Golden.Datastore.Ref, iso.Ref)
	}
}

// TestDatastoreSpace: a full clone takes its disks' capacity from the datastore, a linked or
// instant clone a delta disk, and destroying each gives back what it took.
func TestDatastoreSpace(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	ctx := t.Context()
	inv := s.Inventory()
	ds := inv.Datastores[1].Ref
	free := func() int64 {
		var d mo.Datastore
		if err := c.RetrieveOne(ctx, ds, []string{"summary"}, &d); err != nil {
			t.Fatal(err)
		}
		return d.Summary.FreeSpace
	}
	wait := func(task *object.Task, err error) types.ManagedObjectReference {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		info, err := task.WaitForResult(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := info.Result.(types.ManagedObjectReference)
		return ref
	}
	root := object.NewFolder(c.Client, inv.VMFolder.Ref)
	golden := goldenVM(t, c)
	const disk = 16 << 30 // the golden VM's disk
	start := free()
	full := object.NewVirtualMachine(c.Client, wait(golden.Clone(ctx, root, "full", types.VirtualMachineCloneSpec{Location: types.VirtualMachineRelocateSpec{Datastore: &ds}})))
	if got := start - free(); got != disk {
		t.Fatalf("a full clone took %d bytes, want %d", got, disk)
	}
	snap := wait(full.CreateSnapshot(ctx, "s", "", false, false))
	linkedSpec := types.VirtualMachineCloneSpec{Snapshot: &snap, Location: types.VirtualMachineRelocateSpec{Datastore: &ds, DiskMoveType: string(types.VirtualMachineRelocateDiskMoveOptionsCreateNewChildDiskBacking)}, PowerOn: true}
	before := free()
	linked := object.NewVirtualMachine(c.Client, wait(full.Clone(ctx, root, "linked", linkedSpec)))
	if got := before - free(); got != deltaDiskBytes {
		t.Fatalf("a linked clone took %d bytes, want a delta of %d", got, deltaDiskBytes)
	}
	before = free()
	instant := object.NewVirtualMachine(c.Client, wait(linked.InstantClone(ctx, types.VirtualMachineInstantCloneSpec{Name: "instant", Location: types.VirtualMachineRelocateSpec{Datastore: &ds}})))
	if got := before - free(); got != deltaDiskBytes {
		t.Fatalf("an instant clone took %d bytes, want a delta of %d", got, deltaDiskBytes)
	}
	for _, vm := range []*object.VirtualMachine{instant, linked, full} {
		if task, err := vm.PowerOff(ctx); err == nil {
			_ = task.Wait(ctx)
		}
		wait(vm.Destroy(ctx))
	}
	if got := free(); got != start {
		t.Fatalf("free space %d after destroying the clones, want %d back", got, start)
	}
}
