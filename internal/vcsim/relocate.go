package vcsim

import (
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// enableStorageMigration makes RelocateVM_Task move a VM's files with its disks, as storage
// vMotion does on vCenter: the simulator's own relocate changes the VM's datastore property
// but leaves config.files (and so where the VM says it lives) on the old datastore.
func enableStorageMigration(r *simulator.Registry) {
	next := r.Handler
	r.Handler = func(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
		if m.Name == "RelocateVM_Task" && m.This.Type == "VirtualMachine" {
			if vm, ok := ctx.Map.Get(m.This).(*simulator.VirtualMachine); ok {
				h := &migratingVM{VirtualMachine: vm}
				shadowInSession(ctx, vm, h)
				return h, nil
			}
		}
		if next != nil {
			return next(ctx, m)
		}
		return nil, nil
	}
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
		res := inner.RelocateVMTask(ctx, req)
		body, ok := res.(*methods.RelocateVM_TaskBody)
		if !ok || body.Res == nil {
			if f := res.Fault(); f != nil {
				return nil, soapMethodFault(f)
			}
			return nil, &types.SystemError{Reason: "the simulator's relocate gave no task"}
		}
		t, ok := ctx.Map.Get(body.Res.Returnval).(*simulator.Task)
		if !ok {
			return nil, &types.ManagedObjectNotFound{Obj: body.Res.Returnval}
		}
		t.Wait()
		if t.Info.Error != nil {
			return nil, t.Info.Error.Fault
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
