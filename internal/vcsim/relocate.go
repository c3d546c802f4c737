package vcsim

import (
	"fmt"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"time"
)

// enableStorageMigration makes RelocateVM_Task move a VM's files with its disks, as storage
// vMotion does on vCenter: the simulator's own relocate changes the VM's datastore property
// but leaves config.files (and so where the VM says it lives) on the old datastore.
func enableStorageMigration(r *simulator.Registry) {
	answerVMMethod(r, "RelocateVM_Task", func(vm *simulator.VirtualMachine) mo.Reference { return &migratingVM{VirtualMachine: vm} })
}

// migratingVM answers one RelocateVM_Task call; the registry's VM stays its first field (see
// instantCloneSource).
type migratingVM struct {
	*simulator.VirtualMachine
}

// RelocateVMTask runs the simulator's relocate, then moves the VM's file paths to the
// destination datastore.
func (vm *migratingVM) RelocateVMTask(ctx *simulator.Context, req *types.RelocateVM_Task) soap.HasFault {
	inner := vm.VirtualMachine
	task := simulator.CreateTask(inner, "relocateVm", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if _, fault := waitInner(ctx, inner.RelocateVMTask(ctx, req)); fault != nil {
			return nil, fault
		}
		if req.Spec.Datastore != nil {
			if ds, ok := ctx.Map.Get(*req.Spec.Datastore).(*simulator.Datastore); ok {
				moveFiles(ctx, inner, ds.Name)
			}
		}
		return nil, nil
	})
	return &methods.RelocateVM_TaskBody{Res: &types.RelocateVM_TaskResponse{Returnval: task.Run(ctx)}}
}

// moveFiles points the VM's configuration, snapshot, suspend and log paths at datastore.
func moveFiles(ctx *simulator.Context, vm *simulator.VirtualMachine, datastore string) {
	if vm.Config == nil {
		return
	}
	files := vm.Config.Files
	for _, p := range []*string{&files.VmPathName, &files.SnapshotDirectory, &files.SuspendDirectory, &files.LogDirectory} {
		var dp object.DatastorePath
		if *p != "" && dp.FromString(*p) {
			dp.Datastore = datastore
			*p = dp.String()
		}
	}
	ctx.Update(vm, []types.PropertyChange{
		{Name: "config.files", Val: files},
		{Name: "summary.config.vmPathName", Val: files.VmPathName},
	})
}

// enableFolderSafeClones makes CloneVM_Task hold the destination folder while the clone is
// made. The simulator's clone checks for a duplicate name without that lock, so concurrent
// clones into one folder race: two could take one name (vCenter refuses the second with
// DuplicateName), and a name check can meet a VM still being made and crash the handler.
func enableFolderSafeClones(r *simulator.Registry, disks *space) {
	answerVMMethod(r, "CloneVM_Task", func(vm *simulator.VirtualMachine) mo.Reference { return &cloningVM{VirtualMachine: vm, space: disks} })
}

// cloningVM answers one CloneVM_Task call (see instantCloneSource for why the VM is embedded).
type cloningVM struct {
	*simulator.VirtualMachine
	space *space
}

// CloneVMTask runs the simulator's clone inside a task that holds the destination folder.
func (vm *cloningVM) CloneVMTask(ctx *simulator.Context, req *types.CloneVM_Task) soap.HasFault {
	inner := vm.VirtualMachine
	task := simulator.CreateTask(inner, "cloneVm", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		folder := ctx.Map.Get(req.Folder)
		if folder == nil {
			return nil, &types.ManagedObjectNotFound{Obj: req.Folder}
		}
		var result types.AnyType
		var fault types.BaseMethodFault
		ctx.WithLock(folder, func() {
			result, fault = waitInner(ctx, inner.CloneVMTask(ctx, req))
		})
		if fault == nil {
			// VirtualMachineRelocateDiskMoveOptions createNewChildDiskBacking: a linked clone's
			// disks are children of the snapshot's.
			linked := req.Spec.Snapshot != nil && req.Spec.Location.DiskMoveType == string(types.VirtualMachineRelocateDiskMoveOptionsCreateNewChildDiskBacking)
			vm.space.clonedRef(ctx, result, linked)
		}
		return result, fault
	})
	return &methods.CloneVM_TaskBody{Res: &types.CloneVM_TaskResponse{Returnval: task.Run(ctx)}}
}

// waitInner waits for the task a simulator method answered with and returns its outcome.
func waitInner(ctx *simulator.Context, res soap.HasFault) (types.AnyType, types.BaseMethodFault) {
	if f := res.Fault(); f != nil {
		return nil, soapMethodFault(f)
	}
	var ref types.ManagedObjectReference
	switch body := res.(type) {
	case *methods.CloneVM_TaskBody:
		ref = body.Res.Returnval
	case *methods.CreateVM_TaskBody:
		ref = body.Res.Returnval
	case *methods.RelocateVM_TaskBody:
		ref = body.Res.Returnval
	case *methods.ReconfigVM_TaskBody:
		ref = body.Res.Returnval
	case *methods.Destroy_TaskBody:
		ref = body.Res.Returnval
	case *methods.PowerOnVM_TaskBody:
		ref = body.Res.Returnval
	default:
		return nil, &types.SystemError{Reason: fmt.Sprintf("the simulator answered %T", res)}
	}
	t, ok := ctx.Map.Get(ref).(*simulator.Task)
	if !ok {
		return nil, &types.ManagedObjectNotFound{Obj: ref}
	}
	waitTask(ctx, t)
	if t.Info.Error != nil {
		return nil, t.Info.Error.Fault
	}
	return t.Info.Result, nil
}

// enableDatastoreUsage makes ReconfigVM_Task keep a VM's datastore property as vCenter does:
// VirtualMachine.datastore is "a collection of references to the subset of datastore
// objects in the datacenter that is used by this virtual machine", so a CD-ROM backed by an
// ISO on another datastore adds that one (the simulator's reconfigure leaves it as it was).
func enableDatastoreUsage(r *simulator.Registry) {
	answerVMMethod(r, "ReconfigVM_Task", func(vm *simulator.VirtualMachine) mo.Reference { return &reconfiguringVM{VirtualMachine: vm} })
}

// reconfiguringVM answers one ReconfigVM_Task call (see instantCloneSource).
type reconfiguringVM struct {
	*simulator.VirtualMachine
}

// ReconfigVMTask runs the simulator's reconfigure, then lists every datastore the VM's files
// and devices use, and shows the guest its NICs connected or not.
func (vm *reconfiguringVM) ReconfigVMTask(ctx *simulator.Context, req *types.ReconfigVM_Task) soap.HasFault {
	inner := vm.VirtualMachine
	task := simulator.CreateTask(inner, "reconfigVm", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if _, fault := waitInner(ctx, inner.ReconfigVMTask(ctx, req)); fault != nil {
			return nil, fault
		}
		ctx.Update(inner, []types.PropertyChange{{Name: "datastore", Val: datastoresUsed(ctx, inner)}})
		syncGuestNICs(ctx, inner)
		return nil, nil
	})
	return &methods.ReconfigVM_TaskBody{Res: &types.ReconfigVM_TaskResponse{Returnval: task.Run(ctx)}}
}

// datastoresUsed lists the datastores holding a VM's configuration and its devices' files.
func datastoresUsed(ctx *simulator.Context, vm *simulator.VirtualMachine) []types.ManagedObjectReference {
	var paths []string
	if vm.Config != nil {
		paths = append(paths, vm.Config.Files.VmPathName)
		for _, d := range vm.Config.Hardware.Device {
			if b, ok := d.GetVirtualDevice().Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
				paths = append(paths, b.GetVirtualDeviceFileBackingInfo().FileName)
			}
		}
	}
	byName := map[string]types.ManagedObjectReference{}
	for _, obj := range ctx.Map.All("Datastore") {
		if ds, ok := obj.(*simulator.Datastore); ok {
			byName[ds.Name] = ds.Self
		}
	}
	var out []types.ManagedObjectReference
	seen := map[types.ManagedObjectReference]bool{}
	for _, p := range paths {
		var dp object.DatastorePath
		if !dp.FromString(p) {
			continue
		}
		if ref, ok := byName[dp.Datastore]; ok && !seen[ref] {
			seen[ref] = true
			out = append(out, ref)
		}
	}
	if len(out) == 0 {
		return vm.Datastore
	}
	return out
}

// waitTask blocks until a simulator task is done. The simulator's Task.Wait looks every
// 10 ms, and its callers here hold the destination folder meanwhile, so every clone into a
// folder would cost at least that much of the folder's time; vCenter has no such floor.
func waitTask(ctx *simulator.Context, t *simulator.Task) {
	probe := &simulator.Context{} // a lock context of its own: the task's goroutine uses ctx
	for {
		var done bool
		ctx.Map.WithLock(probe, t, func() {
			done = t.Info.State == types.TaskInfoStateSuccess || t.Info.State == types.TaskInfoStateError
		})
		if done {
			return
		}
		time.Sleep(200 * time.Microsecond)
	}
}
