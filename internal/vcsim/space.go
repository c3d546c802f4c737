package vcsim

import (
	"sync"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// deltaDiskBytes is what the delta disk of a linked or instant clone takes at first: its
// writes go to the delta, its reads to the parent's disks, so it uses almost no space of its
// own (the simulator's clone charges the full capacity of every disk, as for a full copy).
const deltaDiskBytes = 64 << 20

// space keeps datastore free space as vCenter reports it: a full clone takes its disks'
// capacity, a linked or instant clone a delta disk, and destroying a VM gives back what it
// took (the simulator's destroy gives back the full capacity of every disk, a delta's too).
type space struct {
	mu    sync.Mutex
	taken map[types.ManagedObjectReference]map[types.ManagedObjectReference]int64 // VM → datastore → bytes
}

func newSpace() *space {
	return &space{taken: map[types.ManagedObjectReference]map[types.ManagedObjectReference]int64{}}
}

// cloned records a new VM's disks: a full clone keeps what the simulator charged; a delta
// clone gets the difference back.
func (s *space) cloned(ctx *simulator.Context, vm *simulator.VirtualMachine, delta bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	taken := map[types.ManagedObjectReference]int64{}
	for ds, size := range diskUsage(ctx, vm) {
		if delta {
			credit(ctx, ds, size-deltaDiskBytes)
			size = deltaDiskBytes
		}
		taken[ds] += size
	}
	s.taken[vm.Self] = taken
}

// clonedRef is cloned for the VM a clone task returned.
func (s *space) clonedRef(ctx *simulator.Context, result types.AnyType, delta bool) {
	ref, ok := result.(types.ManagedObjectReference)
	if !ok {
		return
	}
	if vm, ok := ctx.Map.Get(ref).(*simulator.VirtualMachine); ok {
		s.cloned(ctx, vm, delta)
	}
}

// destroyed gives back what a VM took; a VM the simulator made itself took its disks. The
// simulator's destroy has already given back the full capacity of every disk it deleted (a
// delta clone's too), disks: only the difference is credited.
func (s *space) destroyed(ctx *simulator.Context, ref types.ManagedObjectReference, disks map[types.ManagedObjectReference]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	taken, ok := s.taken[ref]
	if !ok {
		taken = disks
	}
	delete(s.taken, ref)
	for ds := range union(taken, disks) {
		credit(ctx, ds, taken[ds]-disks[ds])
	}
}

func union(a, b map[types.ManagedObjectReference]int64) map[types.ManagedObjectReference]bool {
	out := map[types.ManagedObjectReference]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// diskUsage is the capacity of a VM's disks, by datastore.
func diskUsage(ctx *simulator.Context, vm *simulator.VirtualMachine) map[types.ManagedObjectReference]int64 {
	out := map[types.ManagedObjectReference]int64{}
	if vm.Config == nil {
		return out
	}
	byName := datastoresByName(ctx)
	for _, d := range vm.Config.Hardware.Device {
		disk, ok := d.(*types.VirtualDisk)
		if !ok {
			continue
		}
		b, ok := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo)
		if !ok {
			continue
		}
		var p object.DatastorePath
		if !p.FromString(b.GetVirtualDeviceFileBackingInfo().FileName) {
			continue
		}
		if ds, ok := byName[p.Datastore]; ok {
			size := disk.CapacityInBytes
			if size == 0 {
				size = disk.CapacityInKB * 1024
			}
			out[ds] += size
		}
	}
	return out
}

func datastoresByName(ctx *simulator.Context) map[string]types.ManagedObjectReference {
	out := map[string]types.ManagedObjectReference{}
	for _, obj := range ctx.Map.All("Datastore") {
		if ds, ok := obj.(*simulator.Datastore); ok {
			out[ds.Name] = ds.Self
		}
	}
	return out
}

// credit adds n bytes to a datastore's free space.
func credit(ctx *simulator.Context, ref types.ManagedObjectReference, n int64) {
	ds, ok := ctx.Map.Get(ref).(*simulator.Datastore)
	if !ok || n == 0 {
		return
	}
	ctx.WithLock(ds, func() {
		ds.Summary.FreeSpace = min(ds.Summary.FreeSpace+n, ds.Summary.Capacity)
		ds.Info.GetDatastoreInfo().FreeSpace = ds.Summary.FreeSpace
	})
}

// enableSpaceReturn makes Destroy_Task of a VM give back the space it took.
func (s *space) enableSpaceReturn(r *simulator.Registry) {
	answerVMMethod(r, "Destroy_Task", func(vm *simulator.VirtualMachine) mo.Reference { return &destroyingVM{VirtualMachine: vm, space: s} })
}

// destroyingVM answers one Destroy_Task call (see instantCloneSource).
type destroyingVM struct {
	*simulator.VirtualMachine
	space *space
}

// DestroyTask runs the simulator's destroy, then gives the VM's space back.
func (vm *destroyingVM) DestroyTask(ctx *simulator.Context, req *types.Destroy_Task) soap.HasFault {
	inner := vm.VirtualMachine
	disks := diskUsage(ctx, inner)
	task := simulator.CreateTask(inner, "destroy", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if _, fault := waitInner(ctx, inner.DestroyTask(ctx, req)); fault != nil {
			return nil, fault
		}
		vm.space.destroyed(ctx, inner.Self, disks)
		return nil, nil
	})
	return &methods.Destroy_TaskBody{Res: &types.Destroy_TaskResponse{Returnval: task.Run(ctx)}}
}
