package vcsim

import (
	"fmt"
	"slices"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Datastore maintenance as vCenter does it without Storage DRS, which govmomi's simulator
// lacks. Datastore.DatastoreEnterMaintenanceMode: "While this task is running and when the
// datastore is in maintenance mode, no virtual machines can be powered on and no
// provisioning operations can be performed on the datastore"; summary.maintenanceMode is
// "enteringMaintenance" until no registered VM keeps files there, then "inMaintenance". A
// datastore whose storage is lost reports summary.accessible false and takes nothing either
// (InaccessibleDatastore).

// enableDatastoreMaintenance makes r answer the datastore maintenance methods and refuse
// provisioning and power-on on a datastore in (or entering) maintenance or inaccessible.
func enableDatastoreMaintenance(r *simulator.Registry) {
	next := r.Handler
	r.Handler = func(ctx *simulator.Context, method *simulator.Method) (mo.Reference, types.BaseMethodFault) {
		switch method.Body.(type) {
		case *types.DatastoreEnterMaintenanceMode, *types.DatastoreExitMaintenanceMode_Task:
			if ds, ok := ctx.Map.Get(method.This).(*simulator.Datastore); ok {
				h := &datastoreAnswer{Datastore: ds}
				shadowInSession(ctx, ds, h)
				return h, nil
			}
		default:
			if fault := datastoreRefuses(ctx, method); fault != nil {
				return nil, fault
			}
		}
		if next != nil {
			return next(ctx, method)
		}
		return nil, nil
	}
}

// datastoreRefuses is the fault for work on a datastore that cannot take it: the datastore a
// clone is asked onto, or that holds the files of a VM to power on.
func datastoreRefuses(ctx *simulator.Context, method *simulator.Method) types.BaseMethodFault {
	var ref *types.ManagedObjectReference
	switch req := method.Body.(type) {
	case *types.CloneVM_Task:
		ref = req.Spec.Location.Datastore
	case *types.InstantClone_Task:
		ref = req.Spec.Location.Datastore
	case *types.PowerOnVM_Task:
		if vm, ok := ctx.Map.Get(req.This).(*simulator.VirtualMachine); ok {
			ctx.WithLock(vm, func() { ref = sourceDatastore(ctx, vm) })
		}
	}
	if ref == nil {
		return nil
	}
	ds, ok := ctx.Map.Get(*ref).(*simulator.Datastore)
	if !ok {
		return nil
	}
	var accessible bool
	var mode string
	ctx.WithLock(ds, func() { accessible, mode = ds.Summary.Accessible, ds.Summary.MaintenanceMode })
	switch {
	case !accessible:
		return &types.InaccessibleDatastore{InvalidDatastore: types.InvalidDatastore{Datastore: ref, Name: ds.Name}}
	case mode == string(types.DatastoreSummaryMaintenanceModeStateEnteringMaintenance), mode == string(types.DatastoreSummaryMaintenanceModeStateInMaintenance):
		return &types.InvalidDatastoreState{DatastoreName: ds.Name}
	}
	return nil
}

// datastoreAnswer answers one maintenance call on a datastore.
type datastoreAnswer struct {
	*simulator.Datastore
}

// DatastoreEnterMaintenanceMode starts entering: the datastore is in maintenance once no
// registered VM keeps files on it. Without Storage DRS there is no recommendation to return.
func (d *datastoreAnswer) DatastoreEnterMaintenanceMode(ctx *simulator.Context, _ *types.DatastoreEnterMaintenanceMode) soap.HasFault {
	ds := d.Datastore
	if ds.Summary.MaintenanceMode == string(types.DatastoreSummaryMaintenanceModeStateInMaintenance) {
		return &methods.DatastoreEnterMaintenanceModeBody{Fault_: simulator.Fault("", &types.InvalidState{})}
	}
	setDatastoreMode(ctx, ds, types.DatastoreSummaryMaintenanceModeStateEnteringMaintenance, false)
	bg := background(ctx)
	go func() {
		for {
			time.Sleep(20 * time.Millisecond)
			var mode string
			bg.WithLock(ds, func() { mode = ds.Summary.MaintenanceMode })
			if mode != string(types.DatastoreSummaryMaintenanceModeStateEnteringMaintenance) {
				return // left meanwhile
			}
			if vmsWithFilesOn(bg, ds.Self) == 0 {
				setDatastoreMode(bg, ds, types.DatastoreSummaryMaintenanceModeStateInMaintenance, true)
				return
			}
		}
	}()
	return &methods.DatastoreEnterMaintenanceModeBody{Res: &types.DatastoreEnterMaintenanceModeResponse{}}
}

// DatastoreExitMaintenanceModeTask leaves maintenance mode, or stops entering it.
func (d *datastoreAnswer) DatastoreExitMaintenanceModeTask(ctx *simulator.Context, _ *types.DatastoreExitMaintenanceMode_Task) soap.HasFault {
	ds := d.Datastore
	task := simulator.CreateTask(ds, "datastoreExitMaintenanceMode", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if ds.Summary.MaintenanceMode == string(types.DatastoreSummaryMaintenanceModeStateNormal) {
			return nil, &types.InvalidState{}
		}
		setDatastoreMode(ctx, ds, types.DatastoreSummaryMaintenanceModeStateNormal, false)
		return nil, nil
	})
	return &methods.DatastoreExitMaintenanceMode_TaskBody{Res: &types.DatastoreExitMaintenanceMode_TaskResponse{Returnval: task.Run(ctx)}}
}

// setDatastoreMode sets summary.maintenanceMode; lock says the caller does not hold the
// datastore's lock.
func setDatastoreMode(ctx *simulator.Context, ds *simulator.Datastore, mode types.DatastoreSummaryMaintenanceModeState, lock bool) {
	set := func() {
		ds.Summary.MaintenanceMode = string(mode)
		ctx.Update(ds, []types.PropertyChange{{Name: "summary.maintenanceMode", Val: string(mode)}})
	}
	if lock {
		ctx.WithLock(ds, set)
		return
	}
	set()
}

// vmsWithFilesOn counts the registered VMs that use a datastore.
func vmsWithFilesOn(ctx *simulator.Context, ds types.ManagedObjectReference) int {
	return countVMs(ctx, func(vm *simulator.VirtualMachine) bool { return slices.Contains(vm.Datastore, ds) })
}

// SetDatastoreAccessible makes a datastore's storage reachable or lost, as a storage outage
// does behind vCenter's back (summary.accessible).
func (s *Server) SetDatastoreAccessible(id string, accessible bool) error {
	ref := types.ManagedObjectReference{Type: "Datastore", Value: id}
	ctx := &simulator.Context{Map: s.model.Service.Context.Map}
	ds, ok := ctx.Map.Get(ref).(*simulator.Datastore)
	if !ok {
		return fmt.Errorf("vcsim: no datastore %s", id)
	}
	ctx = background(ctx)
	ctx.WithLock(ds, func() {
		ds.Summary.Accessible = accessible
		ctx.Update(ds, []types.PropertyChange{{Name: "summary.accessible", Val: accessible}})
	})
	return nil
}

// UseSpace takes bytes of a datastore's free space, as other VMs or files there do behind
// the pool's back (summary.freeSpace; never below zero).
func (s *Server) UseSpace(id string, bytes int64) error {
	ref := types.ManagedObjectReference{Type: "Datastore", Value: id}
	ctx := background(&simulator.Context{Map: s.model.Service.Context.Map})
	ds, ok := ctx.Map.Get(ref).(*simulator.Datastore)
	if !ok {
		return fmt.Errorf("vcsim: no datastore %s", id)
	}
	ctx.WithLock(ds, func() {
		ds.Summary.FreeSpace = max(ds.Summary.FreeSpace-bytes, 0)
		ds.Info.GetDatastoreInfo().FreeSpace = ds.Summary.FreeSpace
		ctx.Update(ds, []types.PropertyChange{{Name: "summary.freeSpace", Val: ds.Summary.FreeSpace}})
	})
	return nil
}

// MountDatastores mounts datastores on a host, as an administrator does for the shared
// storage of a host just added to a cluster (each datastore's host list, the host's
// datastore list).
func (s *Server) MountDatastores(hostID string, datastoreIDs ...string) error {
	ctx := background(&simulator.Context{Map: s.model.Service.Context.Map})
	hostRef := types.ManagedObjectReference{Type: "HostSystem", Value: hostID}
	host, ok := ctx.Map.Get(hostRef).(*simulator.HostSystem)
	if !ok {
		return fmt.Errorf("vcsim: no host %s", hostID)
	}
	for _, id := range datastoreIDs {
		ref := types.ManagedObjectReference{Type: "Datastore", Value: id}
		ds, ok := ctx.Map.Get(ref).(*simulator.Datastore)
		if !ok {
			return fmt.Errorf("vcsim: no datastore %s", id)
		}
		ctx.WithLock(ds, func() {
			mount := types.DatastoreHostMount{Key: hostRef, MountInfo: types.HostMountInfo{AccessMode: string(types.HostMountModeReadWrite), Mounted: types.NewBool(true), Accessible: types.NewBool(true)}}
			ds.Host = append(ds.Host, mount)
			ctx.Update(ds, []types.PropertyChange{{Name: "host", Val: ds.Host}})
		})
		ctx.WithLock(host, func() {
			host.Datastore = append(host.Datastore, ref)
			ctx.Update(host, []types.PropertyChange{{Name: "datastore", Val: host.Datastore}})
		})
	}
	return nil
}
