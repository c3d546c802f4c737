package vcsim

import (
	"fmt"
	"slices"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/esx"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// enableInstantClone makes r answer VirtualMachine.InstantClone_Task, which
// govmomi's simulator otherwise rejects with MethodNotFound. A Handler already
// installed on r keeps answering every other method.
//
// The registry keeps its own *simulator.VirtualMachine objects (the simulator
// type-asserts them everywhere); only the dispatch of this one method goes to
// a short-lived wrapper around the registry's object.
func enableInstantClone(r *simulator.Registry, opts InstantCloneOptions, disks *space) *deltaChains {
	chains := newDeltaChains()
	answerVMMethod(r, "InstantClone_Task", func(vm *simulator.VirtualMachine) mo.Reference {
		return &instantCloneSource{VirtualMachine: vm, opts: opts, chains: chains, space: disks}
	})
	return chains
}

// answerVMMethod makes r answer method on VMs with the object wrap returns for the call's VM
// (a wrapper that embeds the registry's VM and adds or replaces that one method); every other
// call goes on to the Handler installed before.
func answerVMMethod(r *simulator.Registry, method string, wrap func(*simulator.VirtualMachine) mo.Reference) {
	answer(r, func(ctx *simulator.Context, m *simulator.Method) mo.Reference {
		if m.Name != method || m.This.Type != "VirtualMachine" {
			return nil
		}
		vm, ok := ctx.Map.Get(m.This).(*simulator.VirtualMachine)
		if !ok {
			return nil
		}
		h := wrap(vm)
		shadowInSession(ctx, vm, h)
		return h
	})
}

// answer puts pick before r's Handler: a call pick returns an object for is answered by that
// object, every other call goes on to the Handler installed before.
func answer(r *simulator.Registry, pick func(*simulator.Context, *simulator.Method) mo.Reference) {
	next := r.Handler
	r.Handler = func(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
		if h := pick(ctx, m); h != nil {
			return h, nil
		}
		if next != nil {
			return next(ctx, m)
		}
		return nil, nil
	}
}

// shadowInSession makes h the object ctx's session resolves for vm (or any other object h
// wraps).
//
// Service.call lets the session's lookup override the object the Handler
// returns, and Session.Get falls back to the main registry, so for any
// logged-in caller the bare VM would win and the method would be missing.
// ctx.Session is this request's own copy of the session (SetSession stores
// the shared one separately), so giving it a one-object registry affects
// this call alone; the InstantClone path uses nothing else from it.
// It returns the session's own registry, for a call that needs the session's other objects
// to put back once it runs.
func shadowInSession(ctx *simulator.Context, vm mo.Reference, h mo.Reference) *simulator.Registry {
	if ctx.Session == nil {
		return nil // not logged in: the call is refused anyway
	}
	overlay := simulator.NewRegistry()
	// Registry.Put stamps status fields on the entity, here the shared VM:
	// hold its lock as every other writer does.
	ctx.WithLock(vm, func() { overlay.Put(h) })
	own := ctx.Session.Registry
	ctx.Session.Registry = overlay
	return own
}

// instantCloneSource is the handler for one InstantClone_Task call. The
// registry's VM must stay its first field: the simulator finds the object's
// lock through the promoted Self field, fault injection filters match on
// mo.Entity and property paths of the embedded mo type, and both must see
// the real VM.
type instantCloneSource struct {
	*simulator.VirtualMachine
	opts   InstantCloneOptions
	chains *deltaChains
	space  *space
}

// InstantCloneOptions choose between readings of the reference where vCenter versions differ.
type InstantCloneOptions struct {
	// IgnoreLocation places every instant clone as if spec.location were empty (the root VM
	// folder; the source's datastore, resource pool and host; no device edits) whatever it
	// says: the vSphere 8.0 SDK programming guide's reading ("The location property of
	// InstantCloneSpec is ignored").
	// Off, the clone goes where the supported settings of spec.location say, on its source's
	// host.
	IgnoreLocation bool
	// Refused hears of every instant clone refused for a setting vCenter does not take.
	Refused func(method string, fault types.BaseMethodFault)
}

// InstantCloneTask is called by the simulator's reflection-based dispatch
// while it holds the source VM's lock on behalf of ctx.
func (src *instantCloneSource) InstantCloneTask(ctx *simulator.Context, req *types.InstantClone_Task) soap.HasFault {
	vm := src.VirtualMachine
	spec := req.Spec

	// Every check runs inside the task, so failures reach the client as the
	// task's error, as vCenter reports them. Task.Run hands the source VM's
	// lock over to the task's goroutine, which keeps it for the whole clone
	// (as the simulator's own CloneVM_Task does), so clones of one source
	// run one at a time; see instantClone for the destination folder.
	task := simulator.CreateTask(vm, "instantClone", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return src.instantClone(ctx, &spec)
	})

	return &methods.InstantClone_TaskBody{
		Res: &types.InstantClone_TaskResponse{Returnval: task.Run(ctx)},
	}
}

// instantClone creates the powered-on child of the source described by spec and returns
// its reference. It runs in the task's goroutine, holding the source's lock on behalf of ctx.
func (src *instantCloneSource) instantClone(ctx *simulator.Context, spec *types.VirtualMachineInstantCloneSpec) (types.AnyType, types.BaseMethodFault) {
	vm := src.VirtualMachine
	if state := vm.Runtime.PowerState; state != types.VirtualMachinePowerStatePoweredOn {
		return nil, &types.InvalidPowerState{
			RequestedState: types.VirtualMachinePowerStatePoweredOn,
			ExistingState:  state,
		}
	}
	fault := unsupportedLocation(&spec.Location)
	if fault == nil {
		fault = nicBackingsExist(ctx, spec.Location.DeviceChange)
	}
	if fault != nil {
		if src.opts.Refused != nil {
			src.opts.Refused("InstantClone_Task", fault)
		}
		return nil, fault
	}
	var loc *location
	if src.opts.IgnoreLocation {
		loc, fault = withSource(ctx, vm)
		// Its device edits go with the rest of the location: the child's NICs are its
		// source's, connected as they were.
		spec.Location.DeviceChange = nil
	} else {
		loc, fault = place(ctx, vm, &spec.Location)
	}
	if fault != nil {
		return nil, fault
	}
	frozen := vm.Runtime.InstantCloneFrozen != nil && *vm.Runtime.InstantCloneFrozen
	if fault := src.chains.grow(vm.Self, frozen); fault != nil {
		return nil, fault
	}

	// The destination folder stays locked until the child exists and runs: the
	// simulator's clone checks for a duplicate name without that lock, so
	// clones of different sources into one folder would race and could both
	// take the same name. vCenter refuses the second one. An instant clone runs from the
	// moment it exists, so nobody may see it powered off in between.
	var result types.AnyType
	ctx.WithLock(ctx.Map.Get(loc.folder), func() {
		result, fault = createChild(ctx, vm, spec, loc)
		if fault == nil {
			fault = powerOnChild(ctx, result)
		}
	})
	if fault == nil {
		src.space.clonedRef(ctx, result, true) // an instant clone's disks are deltas on its source's
	}
	return result, fault
}

// unsupportedLocation refuses the settings of spec.location that InstantClone does not take.
// VirtualMachineInstantCloneSpec.location: "The location might be empty or specify: the
// folder ..., a datastore ..., a resource pool ..., a device change specification. The only
// allowed device changes are edits of VirtualEthernetCard and filebacked Serial/Parallel
// ports. All other settings are NOT supported." vCenter refuses them with InvalidArgument
// naming the setting.
func unsupportedLocation(l *types.VirtualMachineRelocateSpec) types.BaseMethodFault {
	set := map[string]bool{
		"spec.location.host":         l.Host != nil,
		"spec.location.service":      l.Service != nil,
		"spec.location.diskMoveType": l.DiskMoveType != "",
		"spec.location.disk":         len(l.Disk) > 0,
		"spec.location.transform":    l.Transform != "",
		"spec.location.profile":      len(l.Profile) > 0,
		"spec.location.cryptoSpec":   l.CryptoSpec != nil,
	}
	for _, p := range []string{"spec.location.host", "spec.location.service", "spec.location.diskMoveType", "spec.location.disk", "spec.location.transform", "spec.location.profile", "spec.location.cryptoSpec"} {
		if set[p] {
			return &types.InvalidArgument{InvalidProperty: p}
		}
	}
	for _, change := range l.DeviceChange {
		c := change.GetVirtualDeviceConfigSpec()
		if c.Operation != types.VirtualDeviceConfigSpecOperationEdit || c.FileOperation != "" || !editableByInstantClone(c.Device) {
			return &types.InvalidArgument{InvalidProperty: "spec.location.deviceChange"}
		}
	}
	return nil
}

// editableByInstantClone: a NIC, or a serial or parallel port backed by a file.
func editableByInstantClone(d types.BaseVirtualDevice) bool {
	if _, ok := d.(types.BaseVirtualEthernetCard); ok {
		return true
	}
	var backing types.BaseVirtualDeviceBackingInfo
	switch port := d.(type) {
	case *types.VirtualSerialPort:
		backing = port.Backing
	case *types.VirtualParallelPort:
		backing = port.Backing
	default:
		return false
	}
	switch backing.(type) {
	case *types.VirtualSerialPortFileBackingInfo, *types.VirtualParallelPortFileBackingInfo:
		return true
	}
	return false
}

// createChild makes the child with its folder's CreateVM_Task, on behalf of ctx, which
// already holds the source's and the folder's locks: the source's hardware and devices (the
// spec's device edits in place of the devices they name), disks of its own, the spec's
// extraConfig over the source's and the spec's BIOS UUID. The simulator's CloneVM_Task would
// make as much, but it polls its inner task every 10 ms, under the folder's lock, which would
// hold every clone into one folder to a hundred a second.
func createChild(ctx *simulator.Context, vm *simulator.VirtualMachine, spec *types.VirtualMachineInstantCloneSpec, loc *location) (types.AnyType, types.BaseMethodFault) {
	folder, fault := lookup[*simulator.Folder](ctx, loc.folder, "spec.location.folder")
	if fault != nil {
		return nil, fault
	}
	ds, fault := lookup[*simulator.Datastore](ctx, loc.datastore, "spec.location.datastore")
	if fault != nil {
		return nil, fault
	}
	if obj := ctx.Map.FindByName(spec.Name, folder.ChildEntity); obj != nil {
		return nil, &types.DuplicateName{Name: spec.Name, Object: obj.Reference()}
	}
	devices, fault := childDevices(vm.Config.Hardware.Device, spec.Location.DeviceChange)
	if fault != nil {
		return nil, fault
	}
	hw := vm.Config.Hardware
	config := types.VirtualMachineConfigSpec{
		Name: spec.Name, Version: vm.Config.Version, GuestId: vm.Config.GuestId,
		Files:   &types.VirtualMachineFileInfo{VmPathName: fmt.Sprintf("[%s] %s", ds.Name, spec.Name)},
		NumCPUs: hw.NumCPU, MemoryMB: int64(hw.MemoryMB), NumCoresPerSocket: hw.NumCoresPerSocket,
		VirtualICH7MPresent: hw.VirtualICH7MPresent, VirtualSMCPresent: hw.VirtualSMCPresent,
		ExtraConfig:  childExtraConfig(vm.Config.ExtraConfig, spec.Config),
		Uuid:         spec.BiosUuid,
		DeviceChange: devices,
	}
	return waitInner(ctx, folder.CreateVMTask(ctx, &types.CreateVM_Task{This: folder.Self, Config: config, Pool: loc.pool, Host: &loc.host}))
}

// childDevices are the devices the child is created with: a copy of each of the source's that
// CreateVM_Task does not add by itself, or the edit naming it, and disks created anew. An
// edit naming no device of the source is refused as vCenter refuses it, with the index of
// the edit.
func childDevices(source []types.BaseVirtualDevice, edits []types.BaseVirtualDeviceConfigSpec) ([]types.BaseVirtualDeviceConfigSpec, types.BaseMethodFault) {
	list := object.VirtualDeviceList(source)
	edited := map[int32]types.BaseVirtualDevice{}
	for i, e := range edits {
		d := e.GetVirtualDeviceConfigSpec().Device
		if list.FindByKey(d.GetVirtualDevice().Key) == nil {
			return nil, &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
		}
		edited[d.GetVirtualDevice().Key] = d
	}
	defaults := object.VirtualDeviceList(esx.VirtualDevice)
	var out []types.BaseVirtualDeviceConfigSpec
	for _, d := range source {
		if defaults.Find(list.Name(d)) != nil {
			continue
		}
		if e, ok := edited[d.GetVirtualDevice().Key]; ok {
			d = e
		}
		add := &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: deepCopy(d)}
		if disk, ok := add.Device.(*types.VirtualDisk); ok {
			if b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
				b.FileName, b.Parent, b.Uuid = "", nil, ""
			}
			add.FileOperation = types.VirtualDeviceConfigSpecFileOperationCreate
		}
		out = append(out, add)
	}
	return out, nil
}

// powerOnChild resumes the child: an instant clone runs from the moment it exists. Its NICs
// come up as the spec's device edits left them: one the spec disconnects is disconnected in
// the guest too.
func powerOnChild(ctx *simulator.Context, result types.AnyType) types.BaseMethodFault {
	ref, ok := result.(types.ManagedObjectReference)
	if !ok {
		return &types.SystemError{Reason: fmt.Sprintf("the simulator's clone returned %T", result)}
	}
	child, ok := ctx.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return &types.ManagedObjectNotFound{Obj: ref}
	}
	if _, fault := waitInner(ctx, child.PowerOnVMTask(ctx, &types.PowerOnVM_Task{This: child.Self})); fault != nil {
		return fault
	}
	ctx.WithLock(child, func() { syncGuestNICs(ctx, child) })
	return nil
}

// location is where an instant clone lands, with vCenter's defaults applied.
type location struct {
	folder, datastore, host, pool types.ManagedObjectReference
}

// place resolves and checks the supported settings of spec.location the way
// vCenter does, so a bad reference fails the task with a fault instead of
// tripping the simulator's unchecked type assertions.
func place(ctx *simulator.Context, vm *simulator.VirtualMachine, spec *types.VirtualMachineRelocateSpec) (*location, types.BaseMethodFault) {
	var loc location

	// vSphere API: without a folder, the root VM folder of the source's
	// datacenter is used.
	if spec.Folder != nil {
		folder, fault := lookup[*simulator.Folder](ctx, *spec.Folder, "spec.location.folder")
		if fault != nil {
			return nil, fault
		}
		if !slices.Contains(folder.ChildType, "VirtualMachine") {
			return nil, &types.InvalidArgument{InvalidProperty: "spec.location.folder"}
		}
		loc.folder = folder.Self
	} else {
		dc := datacenterOf(ctx, vm.Parent)
		if dc == nil {
			return nil, &types.InvalidArgument{InvalidProperty: "spec.location.folder"}
		}
		loc.folder = dc.VmFolder
	}

	poolRef := vm.ResourcePool
	if spec.Pool != nil {
		poolRef = spec.Pool
	}
	if poolRef == nil {
		return nil, &types.InvalidArgument{InvalidProperty: "spec.location.pool"}
	}
	pool, fault := lookup[*simulator.ResourcePool](ctx, *poolRef, "spec.location.pool")
	if fault != nil {
		return nil, fault
	}
	loc.pool = pool.Self

	if spec.Datastore != nil {
		ds, fault := lookup[*simulator.Datastore](ctx, *spec.Datastore, "spec.location.datastore")
		if fault != nil {
			return nil, fault
		}
		loc.datastore = ds.Self
	} else {
		ds := sourceDatastore(ctx, vm)
		if ds == nil {
			return nil, &types.InvalidArgument{InvalidProperty: "spec.location.datastore"}
		}
		loc.datastore = *ds
	}

	// An instant clone shares its source's memory, so it runs on the source's host
	// (VirtualMachineInstantCloneSpec.location offers no host); that host must belong to the
	// compute resource of the clone's resource pool and mount its datastore.
	if vm.Runtime.Host == nil {
		return nil, &types.InvalidState{}
	}
	host, fault := lookup[*simulator.HostSystem](ctx, *vm.Runtime.Host, "spec.location.pool")
	if fault != nil {
		return nil, fault
	}
	if host.Parent == nil || *host.Parent != pool.Owner {
		return nil, &types.InvalidArgument{InvalidProperty: "spec.location.pool"}
	}
	if !hostMounts(host, loc.datastore) {
		return nil, datastoreNotOnHost(ctx, loc.datastore, host.Self)
	}
	loc.host = host.Self
	return &loc, nil
}

// withSource places a clone as if spec.location were empty (InstantCloneOptions.IgnoreLocation):
// "If not specified, the root VM folder of the source VM will be used" for the folder, and the
// source's datastore, resource pool and host for the rest.
func withSource(ctx *simulator.Context, vm *simulator.VirtualMachine) (*location, types.BaseMethodFault) {
	ds := sourceDatastore(ctx, vm)
	dc := datacenterOf(ctx, vm.Parent)
	if dc == nil || vm.ResourcePool == nil || vm.Runtime.Host == nil || ds == nil {
		return nil, &types.InvalidState{}
	}
	return &location{folder: dc.VmFolder, datastore: *ds, pool: *vm.ResourcePool, host: *vm.Runtime.Host}, nil
}

// lookup returns the registry object ref names, if it has type T.
func lookup[T mo.Reference](ctx *simulator.Context, ref types.ManagedObjectReference, property string) (T, types.BaseMethodFault) {
	var zero T
	obj := ctx.Map.Get(ref)
	if obj == nil {
		return zero, &types.ManagedObjectNotFound{Obj: ref}
	}
	t, ok := obj.(T)
	if !ok {
		return zero, &types.InvalidArgument{InvalidProperty: property}
	}
	return t, nil
}

// datacenterOf walks up from ref to the enclosing datacenter.
func datacenterOf(ctx *simulator.Context, ref *types.ManagedObjectReference) *simulator.Datacenter {
	for ref != nil {
		switch obj := ctx.Map.Get(*ref).(type) {
		case *simulator.Datacenter:
			return obj
		case mo.Entity:
			ref = obj.Entity().Parent
		default:
			return nil
		}
	}
	return nil
}

// sourceDatastore is the datastore holding vm's configuration file, which is
// where the simulator's clone puts the child by default.
func sourceDatastore(ctx *simulator.Context, vm *simulator.VirtualMachine) *types.ManagedObjectReference {
	var path object.DatastorePath
	if vm.Config != nil && vm.Config.Files.VmPathName != "" && path.FromString(vm.Config.Files.VmPathName) {
		for i := range vm.Datastore {
			if ds, ok := ctx.Map.Get(vm.Datastore[i]).(*simulator.Datastore); ok && ds.Name == path.Datastore {
				return &vm.Datastore[i]
			}
		}
	}
	if len(vm.Datastore) > 0 {
		return &vm.Datastore[0]
	}
	return nil
}

// datastoreNotOnHost is vCenter's fault for a datastore the host cannot use.
func datastoreNotOnHost(ctx *simulator.Context, ds, host types.ManagedObjectReference) types.BaseMethodFault {
	fault := &types.DatastoreNotWritableOnHost{Host: host}
	fault.Datastore = &ds
	if obj, ok := ctx.Map.Get(ds).(*simulator.Datastore); ok {
		fault.Name = obj.Name
	}
	return fault
}

// childExtraConfig is the source's extraConfig overlaid with spec.config: an
// instant clone starts from its parent's configuration. As in a reconfigure,
// an empty string value removes the key. Values are copied so later changes
// to the child never write through to the parent.
func childExtraConfig(parent, spec []types.BaseOptionValue) []types.BaseOptionValue {
	// The child's guest runs: it does not freeze itself as its parent's did (guest.go).
	return slices.DeleteFunc(mergeExtraConfig(parent, spec), func(v types.BaseOptionValue) bool { return v.GetOptionValue().Key == FreezeAfterKnob })
}

// mergeExtraConfig is a source's extraConfig with a spec's on top; an empty string value
// removes the key, as in a reconfigure.
func mergeExtraConfig(parent, spec []types.BaseOptionValue) []types.BaseOptionValue {
	var out []types.BaseOptionValue
	index := make(map[string]int)
	for _, list := range [][]types.BaseOptionValue{parent, spec} {
		for _, v := range list {
			if v == nil || v.GetOptionValue() == nil {
				continue
			}
			ov := *v.GetOptionValue()
			if s, ok := ov.Value.(string); ok && s == "" {
				if i, ok := index[ov.Key]; ok {
					out[i] = nil
					delete(index, ov.Key)
				}
				continue
			}
			if i, ok := index[ov.Key]; ok {
				out[i] = &ov
				continue
			}
			index[ov.Key] = len(out)
			out = append(out, &ov)
		}
	}
	return slices.DeleteFunc(out, func(v types.BaseOptionValue) bool { return v == nil })
}

// soapMethodFault unwraps the vim fault carried by a SOAP fault.
func soapMethodFault(f *soap.Fault) types.BaseMethodFault {
	if mf, ok := f.VimFault().(types.BaseMethodFault); ok {
		return mf
	}
	return &types.SystemError{Reason: f.String}
}

// nicNetworks lists the networks the NIC edits of device changes connect cards to: a standard
// network's reference, or a distributed port group's by its key.
func nicNetworks(changes []types.BaseVirtualDeviceConfigSpec) []types.ManagedObjectReference {
	var out []types.ManagedObjectReference
	for _, change := range changes {
		if _, ok := change.GetVirtualDeviceConfigSpec().Device.(types.BaseVirtualEthernetCard); !ok {
			continue
		}
		switch b := change.GetVirtualDeviceConfigSpec().Device.GetVirtualDevice().Backing.(type) {
		case *types.VirtualEthernetCardNetworkBackingInfo:
			if b.Network != nil {
				out = append(out, *b.Network)
			}
		case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
			out = append(out, types.ManagedObjectReference{Type: "DistributedVirtualPortgroup", Value: b.Port.PortgroupKey})
		}
	}
	return out
}

// nicBackingsExist refuses NIC edits onto a network that does not exist: "An
// InvalidDeviceBacking exception is thrown if a device with an incompatible device backing is
// added or edited" (vim25/types). govmomi's simulator takes any backing.
func nicBackingsExist(ctx *simulator.Context, changes []types.BaseVirtualDeviceConfigSpec) types.BaseMethodFault {
	for i, n := range nicNetworks(changes) {
		if ctx.Map.Get(n) == nil {
			return &types.InvalidDeviceBacking{InvalidDeviceSpec: types.InvalidDeviceSpec{DeviceIndex: int32(i)}}
		}
	}
	return nil
}
