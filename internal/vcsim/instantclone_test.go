package vcsim

import (
	"fmt"
	"sync"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// cloneAndWait starts an instant clone of vm and waits for its task.
func cloneAndWait(t *testing.T, vm *object.VirtualMachine, spec types.VirtualMachineInstantCloneSpec) (*types.TaskInfo, error) {
	t.Helper()
	task, err := vm.InstantClone(t.Context(), spec)
	if err != nil {
		t.Fatalf("InstantClone_Task call: %v", err)
	}
	return task.WaitForResult(t.Context())
}

func TestInstantCloneDefaults(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	golden := goldenVM(t, c)
	src := vmProps(t, c, golden.Reference())

	info, err := cloneAndWait(t, golden, types.VirtualMachineInstantCloneSpec{
		Name: "child-0",
		Config: []types.BaseOptionValue{
			&types.OptionValue{Key: "guestinfo.pool", Value: "web"},
			&types.OptionValue{Key: "guestinfo.index", Value: "0"},
		},
	})
	if err != nil {
		t.Fatalf("instant clone: %v", err)
	}

	// A task on the source whose result is the child.
	if info.State != types.TaskInfoStateSuccess || info.Entity == nil || *info.Entity != golden.Reference() {
		t.Errorf("task info %+v", info)
	}
	ref, ok := info.Result.(types.ManagedObjectReference)
	if !ok || ref.Type != "VirtualMachine" || ref == golden.Reference() {
		t.Fatalf("task result %#v, want the child VM", info.Result)
	}

	child := vmProps(t, c, ref)
	if child.Name != "child-0" {
		t.Errorf("child name %q", child.Name)
	}
	if child.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		t.Errorf("child is %s", child.Runtime.PowerState)
	}
	// Defaults: the datacenter's VM folder, and the source's pool, host and datastore.
	if *child.Parent != s.Inventory().VMFolder.Ref {
		t.Errorf("child folder %s", child.Parent)
	}
	if *child.ResourcePool != *src.ResourcePool || *child.Runtime.Host != *src.Runtime.Host {
		t.Errorf("child pool %s host %s, source pool %s host %s",
			child.ResourcePool, child.Runtime.Host, src.ResourcePool, src.Runtime.Host)
	}
	if len(child.Datastore) != 1 || child.Datastore[0] != src.Datastore[0] {
		t.Errorf("child datastores %v, source %v", child.Datastore, src.Datastore)
	}
	extra := extraConfig(child)
	if extra["guestinfo.pool"] != "web" || extra["guestinfo.index"] != "0" {
		t.Errorf("child extraConfig %v", extra)
	}
	for k, v := range extraConfig(src) { // inherited from the source
		if extra[k] != v {
			t.Errorf("child extraConfig[%q] = %v, source has %v", k, extra[k], v)
		}
	}

	// The source is untouched and still the simulator's own type.
	if after := vmProps(t, c, golden.Reference()); after.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn ||
		len(extraConfig(after)) != len(extraConfig(src)) {
		t.Errorf("source changed: %+v", after.Runtime)
	}
	if _, ok := s.Service().Context.Map.Get(golden.Reference()).(*simulator.VirtualMachine); !ok {
		t.Error("registry no longer holds a *simulator.VirtualMachine for the source")
	}
}

func TestInstantCloneDefaultFolder(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	ctx := t.Context()
	golden := goldenVM(t, c)

	// vSphere API: without spec.location.folder the child goes to the root
	// VM folder of the source's datacenter, not to the source's own folder.
	root := object.NewFolder(c.Client, s.Inventory().VMFolder.Ref)
	sub, err := root.CreateFolder(ctx, "images")
	if err != nil {
		t.Fatal(err)
	}
	task, err := sub.MoveInto(ctx, []types.ManagedObjectReference{golden.Reference()})
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := cloneAndWait(t, golden, types.VirtualMachineInstantCloneSpec{Name: "child"})
	if err != nil {
		t.Fatal(err)
	}
	if child := vmProps(t, c, resultRef(t, info)); *child.Parent != root.Reference() {
		t.Errorf("child in folder %s, want the root VM folder %s", child.Parent, root.Reference())
	}
}

// TestInstantCloneLocation: the supported settings of spec.location (folder, datastore,
// resource pool) place the child; it always runs on its source's host.
func TestInstantCloneLocation(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Clusters: 2, HostsPerCluster: 2, Datastores: 4})
	c := login(t, s)
	ctx := t.Context()
	inv := s.Inventory()
	golden := goldenVM(t, c)

	vmFolder := object.NewFolder(c.Client, inv.VMFolder.Ref)
	folder, err := vmFolder.CreateFolder(ctx, "pool-a")
	if err != nil {
		t.Fatal(err)
	}
	want := struct{ folder, datastore, pool types.ManagedObjectReference }{
		folder:    folder.Reference(),
		datastore: inv.Datastores[2].Ref,
		pool:      inv.Golden.ResourcePool.Ref,
	}
	if want.datastore == inv.Golden.Datastore.Ref {
		t.Fatal("test datastore must differ from the golden VM's")
	}
	info, err := cloneAndWait(t, golden, types.VirtualMachineInstantCloneSpec{
		Name:     "placed",
		Location: types.VirtualMachineRelocateSpec{Folder: &want.folder, Datastore: &want.datastore, Pool: &want.pool},
	})
	if err != nil {
		t.Fatalf("instant clone: %v", err)
	}
	child := vmProps(t, c, resultRef(t, info))
	if *child.Parent != want.folder {
		t.Errorf("folder %s, want %s", child.Parent, want.folder)
	}
	if len(child.Datastore) != 1 || child.Datastore[0] != want.datastore {
		t.Errorf("datastores %v, want %s", child.Datastore, want.datastore)
	}
	if *child.Runtime.Host != inv.Golden.Host.Ref {
		t.Errorf("host %s, want the source's %s", child.Runtime.Host, inv.Golden.Host.Ref)
	}
	if *child.ResourcePool != want.pool {
		t.Errorf("pool %s, want %s", child.ResourcePool, want.pool)
	}
	if child.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		t.Errorf("child is %s", child.Runtime.PowerState)
	}

	// A resource pool of another cluster cannot hold a child that runs on the source's host.
	other := inv.Clusters[1].ResourcePool.Ref
	_, err = cloneAndWait(t, golden, types.VirtualMachineInstantCloneSpec{
		Name: "elsewhere", Location: types.VirtualMachineRelocateSpec{Pool: &other},
	})
	var ia *types.InvalidArgument
	if _, ok := fault.As(err, &ia); !ok || ia.InvalidProperty != "spec.location.pool" {
		t.Errorf("a pool of another cluster: got %v, want InvalidArgument on spec.location.pool", err)
	}
}

// TestInstantCloneUnsupportedLocation: every setting of spec.location the reference does not
// allow is refused, naming it.
func TestInstantCloneUnsupportedLocation(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	inv := s.Inventory()
	golden := goldenVM(t, c)
	host := inv.Golden.Host.Ref
	disk := &types.VirtualDisk{}
	nic := &types.VirtualVmxnet3{}
	for _, tc := range []struct {
		name     string
		location types.VirtualMachineRelocateSpec
		property string
	}{
		{"host, even the source's", types.VirtualMachineRelocateSpec{Host: &host}, "spec.location.host"},
		{"disk move type", types.VirtualMachineRelocateSpec{DiskMoveType: string(types.VirtualMachineRelocateDiskMoveOptionsMoveAllDiskBackingsAndAllowSharing)}, "spec.location.diskMoveType"},
		{"disk transform", types.VirtualMachineRelocateSpec{Transform: types.VirtualMachineRelocateTransformationSparse}, "spec.location.transform"},
		{"a disk edit", types.VirtualMachineRelocateSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
			&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: disk},
		}}, "spec.location.deviceChange"},
		{"a NIC added", types.VirtualMachineRelocateSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
			&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: nic},
		}}, "spec.location.deviceChange"},
	} {
		_, err := cloneAndWait(t, golden, types.VirtualMachineInstantCloneSpec{Name: "x", Location: tc.location})
		var ia *types.InvalidArgument
		if _, ok := fault.As(err, &ia); !ok || ia.InvalidProperty != tc.property {
			t.Errorf("%s: got %v, want InvalidArgument on %s", tc.name, err, tc.property)
		}
	}
}

// TestInstantCloneIgnoresLocation: with the SDK guide's reading, the child lands as if
// spec.location were empty: the root VM folder, with its source's datastore and host.
func TestInstantCloneIgnoresLocation(t *testing.T) {
	t.Parallel()
	s := start(t, Options{InstantCloneIgnoresLocation: true})
	c := login(t, s)
	inv := s.Inventory()
	golden := goldenVM(t, c)
	folder, err := object.NewFolder(c.Client, inv.VMFolder.Ref).CreateFolder(t.Context(), "pool-a")
	if err != nil {
		t.Fatal(err)
	}
	f, ds := folder.Reference(), inv.Datastores[3].Ref
	info, err := cloneAndWait(t, golden, types.VirtualMachineInstantCloneSpec{
		Name: "asked-elsewhere", Location: types.VirtualMachineRelocateSpec{Folder: &f, Datastore: &ds},
	})
	if err != nil {
		t.Fatal(err)
	}
	child := vmProps(t, c, resultRef(t, info))
	src := vmProps(t, c, golden.Reference())
	if *child.Parent != inv.VMFolder.Ref || child.Datastore[0] != inv.Golden.Datastore.Ref || *child.Runtime.Host != *src.Runtime.Host {
		t.Errorf("child in %s on %v and %s, want the root VM folder %s and its source's %s and %s",
			child.Parent, child.Datastore, child.Runtime.Host, inv.VMFolder.Ref, inv.Golden.Datastore.Ref, src.Runtime.Host)
	}
}

// TestInstantCloneDeltaChain: an unfrozen source works for 255 instant clones, then refuses
// with TooManySnapshotLevels (KB 67186); a frozen one gains no delta disk.
func TestInstantCloneDeltaChain(t *testing.T) {
	chains := newDeltaChains()
	src := types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-1"}
	for i := 0; i < maxDeltaChain; i++ {
		if f := chains.grow(src, false); f != nil {
			t.Fatalf("clone %d refused: %T", i+1, f)
		}
	}
	if _, ok := chains.grow(src, false).(*types.TooManySnapshotLevels); !ok {
		t.Fatalf("clone %d of an unfrozen source was not refused", maxDeltaChain+1)
	}
	frozen := types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-2"}
	for i := 0; i < maxDeltaChain+10; i++ {
		if f := chains.grow(frozen, true); f != nil {
			t.Fatalf("frozen source refused clone %d", i+1)
		}
	}
	if n := chains.Length(frozen); n != 0 {
		t.Fatalf("frozen source grew a chain of %d", n)
	}
}

func TestInstantClonePoweredOffSource(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	ctx := t.Context()
	golden := goldenVM(t, c)

	task, err := golden.PowerOff(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(ctx); err != nil {
		t.Fatal(err)
	}

	// vCenter accepts the call and fails the task.
	_, err = cloneAndWait(t, golden, types.VirtualMachineInstantCloneSpec{Name: "child"})
	var state *types.InvalidPowerState
	if _, ok := fault.As(err, &state); !ok {
		t.Fatalf("got %v, want InvalidPowerState", err)
	}
	if state.RequestedState != types.VirtualMachinePowerStatePoweredOn ||
		state.ExistingState != types.VirtualMachinePowerStatePoweredOff {
		t.Errorf("InvalidPowerState %+v", state)
	}
	if refs, _ := object.NewFolder(c.Client, s.Inventory().VMFolder.Ref).Children(ctx); len(refs) != 1 {
		t.Errorf("VM folder holds %d objects, want only the golden VM", len(refs))
	}
}

func TestInstantCloneTaskFaults(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Clusters: 2})
	c := login(t, s)
	inv := s.Inventory()
	golden := goldenVM(t, c)

	if _, err := cloneAndWait(t, golden, types.VirtualMachineInstantCloneSpec{Name: "twin"}); err != nil {
		t.Fatal(err)
	}

	missingDS := types.ManagedObjectReference{Type: "Datastore", Value: "datastore-404"}
	notAPool := inv.Datastores[0].Ref
	otherHost := inv.Clusters[1].Hosts[0].Ref
	for _, tc := range []struct {
		name  string
		spec  types.VirtualMachineInstantCloneSpec
		check func(error) bool
	}{
		{"duplicate name", types.VirtualMachineInstantCloneSpec{Name: "twin"}, func(err error) bool {
			var f *types.DuplicateName
			_, ok := fault.As(err, &f)
			return ok && f.Name == "twin"
		}},
		{"missing datastore", types.VirtualMachineInstantCloneSpec{
			Name: "a", Location: types.VirtualMachineRelocateSpec{Datastore: &missingDS},
		}, func(err error) bool {
			var f *types.ManagedObjectNotFound
			_, ok := fault.As(err, &f)
			return ok && f.Obj == missingDS
		}},
		{"pool of the wrong type", types.VirtualMachineInstantCloneSpec{
			Name: "b", Location: types.VirtualMachineRelocateSpec{Pool: &notAPool},
		}, func(err error) bool {
			var f *types.InvalidArgument
			_, ok := fault.As(err, &f)
			return ok && f.InvalidProperty == "spec.location.pool"
		}},
		{"a host, which instant clones do not take", types.VirtualMachineInstantCloneSpec{
			Name: "c", Location: types.VirtualMachineRelocateSpec{Host: &otherHost},
		}, func(err error) bool {
			var f *types.InvalidArgument
			_, ok := fault.As(err, &f)
			return ok && f.InvalidProperty == "spec.location.host"
		}},
	} {
		if _, err := cloneAndWait(t, golden, tc.spec); !tc.check(err) {
			t.Errorf("%s: task error %v", tc.name, err)
		}
	}
}

func TestInstantCloneConcurrent(t *testing.T) {
	t.Parallel()
	const n = 50
	s := start(t, Options{})
	c := login(t, s)
	golden := goldenVM(t, c)

	// A second, running source: clones of different sources into one
	// folder must not race each other.
	info, err := cloneAndWait(t, golden, types.VirtualMachineInstantCloneSpec{Name: "second-source"})
	if err != nil {
		t.Fatal(err)
	}
	sources := []*object.VirtualMachine{golden, object.NewVirtualMachine(c.Client, resultRef(t, info))}

	refs := make([]types.ManagedObjectReference, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			task, err := sources[i%len(sources)].InstantClone(t.Context(), types.VirtualMachineInstantCloneSpec{
				Name:   fmt.Sprintf("burst-%02d", i),
				Config: []types.BaseOptionValue{&types.OptionValue{Key: "guestinfo.index", Value: fmt.Sprint(i)}},
			})
			if err != nil {
				errs[i] = err
				return
			}
			info, err := task.WaitForResult(t.Context())
			if err != nil {
				errs[i] = err
				return
			}
			ref, ok := info.Result.(types.ManagedObjectReference)
			if !ok {
				errs[i] = fmt.Errorf("task returned %T, not a reference", info.Result)
				return
			}
			refs[i] = ref
		})
	}
	wg.Wait()

	seen := make(map[types.ManagedObjectReference]bool)
	for i := range n {
		if errs[i] != nil {
			t.Errorf("clone %d: %v", i, errs[i])
			continue
		}
		if seen[refs[i]] {
			t.Errorf("clone %d: duplicate result %s", i, refs[i])
		}
		seen[refs[i]] = true
		child := vmProps(t, c, refs[i])
		if want := fmt.Sprintf("burst-%02d", i); child.Name != want {
			t.Errorf("clone %d is named %q, want %q", i, child.Name, want)
		}
		if child.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
			t.Errorf("clone %d is %s", i, child.Runtime.PowerState)
		}
		if got := extraConfig(child)["guestinfo.index"]; got != fmt.Sprint(i) {
			t.Errorf("clone %d has guestinfo.index %v", i, got)
		}
	}

	// The same name from both sources at once: exactly one wins.
	errs = make([]error, len(sources))
	for i, src := range sources {
		wg.Go(func() { errs[i] = cloneOnce(t, c, src, "contested") })
	}
	wg.Wait()
	var dup *types.DuplicateName
	_, dup0 := fault.As(errs[0], &dup)
	_, dup1 := fault.As(errs[1], &dup)
	if (errs[0] == nil) == (errs[1] == nil) || dup0 == dup1 {
		t.Errorf("contested name: errors %v and %v, want one DuplicateName", errs[0], errs[1])
	}
}

func TestInstantCloneFaultInjection(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	golden := goldenVM(t, c)

	// A rule for another VM never fires: the name filter sees the source VM.
	s.Faults().AddRule(&simulator.FaultInjectionRule{
		MethodName:  "InstantClone_Task",
		ObjectType:  "VirtualMachine",
		ObjectName:  "not-golden",
		Probability: 1,
		FaultType:   simulator.FaultTypeInvalidState,
		Enabled:     true,
	})
	s.Faults().AddRule(&simulator.FaultInjectionRule{
		MethodName:              "InstantClone_Task",
		ObjectType:              "VirtualMachine",
		ObjectName:              GoldenVMName,
		InclusionPropertyFilter: simulator.FaultFilterAll("runtime.powerState == poweredOn"),
		Probability:             1,
		SkipCount:               2,
		MaxCount:                1,
		FaultType:               simulator.FaultTypeInsufficientResourcesFault,
		Enabled:                 true,
	})

	for i := range 5 {
		err := cloneOnce(t, c, golden, fmt.Sprintf("inject-%d", i))
		var insufficient *types.InsufficientResourcesFault
		_, injected := fault.As(err, &insufficient)
		switch {
		case i == 2 && !injected:
			t.Errorf("call %d: got %v, want the injected InsufficientResourcesFault", i+1, err)
		case i != 2 && err != nil:
			t.Errorf("call %d: %v", i+1, err)
		}
	}
}

// cloneOnce makes one instant clone, returning the call's or the task's error.
func cloneOnce(t *testing.T, c *govmomi.Client, vm *object.VirtualMachine, name string) error {
	t.Helper()
	task, err := vm.InstantClone(t.Context(), types.VirtualMachineInstantCloneSpec{Name: name})
	if err != nil {
		return err
	}
	_, err = task.WaitForResult(t.Context())
	return err
}

// resultRef is the reference a task returned.
func resultRef(t *testing.T, info *types.TaskInfo) types.ManagedObjectReference {
	t.Helper()
	ref, ok := info.Result.(types.ManagedObjectReference)
	if !ok {
		t.Fatalf("task returned %T, not a reference", info.Result)
	}
	return ref
}
