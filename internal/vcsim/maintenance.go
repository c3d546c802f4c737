package vcsim

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Host maintenance as vCenter does it without DRS. HostSystem.EnterMaintenanceMode_Task:
// "While this task is running and when the host is in maintenance mode, no virtual machines
// can be powered on and no provisioning operations can be performed on the host ... The task
// completes once there are no powered-on virtual machines on the host and no provisioning
// operations in progress on the host. The operation does not directly initiate any operation
// to evacuate or power-down powered-on virtual machines." runtime.inMaintenanceMode "is set
// when the host has entered the maintenance mode. It is not set during the entering phase".
// govmomi's simulator flips the flag at once whatever runs on the host, and lets VMs be
// cloned onto it; this file makes it wait and refuse instead.

// maintenance tracks the hosts entering maintenance mode.
type maintenance struct {
	mu       sync.Mutex
	entering map[types.ManagedObjectReference]chan struct{} // closed when the host stops entering
	tasks    atomic.Int64
}

// enableMaintenance makes r model entering and leaving maintenance mode, and refuse power-on
// and provisioning on a host that is entering it, is in it, or is not connected.
func enableMaintenance(r *simulator.Registry) {
	m := &maintenance{entering: map[types.ManagedObjectReference]chan struct{}{}}
	next := r.Handler
	r.Handler = func(ctx *simulator.Context, method *simulator.Method) (mo.Reference, types.BaseMethodFault) {
		switch req := method.Body.(type) {
		case *types.EnterMaintenanceMode_Task:
			if host, ok := ctx.Map.Get(req.This).(*simulator.HostSystem); ok {
				return m.enter(ctx, host, req), nil
			}
		case *types.ExitMaintenanceMode_Task:
			if host, ok := ctx.Map.Get(req.This).(*simulator.HostSystem); ok {
				return m.exit(ctx, host), nil
			}
		default:
			if fault := m.refuse(ctx, method); fault != nil {
				return nil, fault
			}
		}
		if next != nil {
			return next(ctx, method)
		}
		return nil, nil
	}
}

// refuse turns away power-on and provisioning on a host that cannot take them: the host a
// VM to power on or instant-clone runs on, or the host a clone is asked onto.
func (m *maintenance) refuse(ctx *simulator.Context, method *simulator.Method) types.BaseMethodFault {
	var host *types.ManagedObjectReference
	switch req := method.Body.(type) {
	case *types.PowerOnVM_Task:
		host = vmHost(ctx, req.This)
	case *types.InstantClone_Task:
		host = vmHost(ctx, req.This)
	case *types.CloneVM_Task:
		host = req.Spec.Location.Host
		if host == nil {
			host = vmHost(ctx, req.This)
		}
	default:
		return nil
	}
	if host == nil {
		return nil
	}
	return m.hostRefuses(ctx, *host)
}

// hostRefuses is the fault a host gives work it cannot take, nil when it takes it.
func (m *maintenance) hostRefuses(ctx *simulator.Context, ref types.ManagedObjectReference) types.BaseMethodFault {
	h, ok := ctx.Map.Get(ref).(*simulator.HostSystem)
	if !ok {
		return nil
	}
	var inMM bool
	var state types.HostSystemConnectionState
	ctx.WithLock(h, func() { inMM, state = h.Runtime.InMaintenanceMode, h.Runtime.ConnectionState })
	m.mu.Lock()
	_, entering := m.entering[ref]
	m.mu.Unlock()
	switch {
	case state != "" && state != types.HostSystemConnectionStateConnected:
		// HostNotConnected: "the host is not connected" (its connection state says why).
		return &types.HostNotConnected{}
	case inMM:
		return invalidState("host %s is in maintenance mode", h.Name)
	case entering:
		return invalidState("host %s is entering maintenance mode", h.Name)
	}
	return nil
}

func invalidState(format string, args ...any) *types.InvalidState {
	return &types.InvalidState{VimFault: types.VimFault{MethodFault: types.MethodFault{
		FaultMessage: []types.LocalizableMessage{{Key: "vcsim.invalidState", Message: fmt.Sprintf(format, args...)}},
	}}}
}

func vmHost(ctx *simulator.Context, ref types.ManagedObjectReference) *types.ManagedObjectReference {
	vm, ok := ctx.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return nil
	}
	var host *types.ManagedObjectReference
	ctx.WithLock(vm, func() { host = vm.Runtime.Host })
	return host
}

// enter starts a host's entering: a task on the host that runs until no powered-on VM is
// left on it (or the timeout passes), then sets runtime.inMaintenanceMode. It returns the
// object that answers the call with that task. The task is made here, before the simulator
// takes the host's lock for the call, so that the host can be read while it enters.
func (m *maintenance) enter(call *simulator.Context, host *simulator.HostSystem, req *types.EnterMaintenanceMode_Task) mo.Reference {
	ctx := call
	task := m.newTask(ctx, host, "EnterMaintenanceMode_Task", "HostSystem.enterMaintenanceMode")
	m.mu.Lock()
	stop, already := m.entering[host.Self]
	if !already {
		stop = make(chan struct{})
		m.entering[host.Self] = stop
	}
	m.mu.Unlock()
	var deadline <-chan time.Time
	if req.Timeout > 0 {
		deadline = time.After(time.Duration(req.Timeout) * time.Second)
	}
	ctx = background(ctx)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if poweredOnVMs(ctx, host.Self) == 0 {
				m.stopEntering(host.Self, stop)
				setMaintenance(ctx, host, true)
				finishTask(ctx, task, nil)
				return
			}
			select {
			case <-stop:
				finishTask(ctx, task, &types.RequestCanceled{})
				return
			case <-deadline:
				m.stopEntering(host.Self, stop)
				finishTask(ctx, task, &types.Timedout{})
				return
			case <-tick.C:
			}
		}
	}()
	h := &hostAnswer{HostSystem: host, task: task.Self}
	shadowInSession(call, host, h)
	return h
}

// background is a context of the simulator's own for work that outlives the call: the
// call's context holds the call's locks.
func background(ctx *simulator.Context) *simulator.Context {
	return &simulator.Context{Context: context.Background(), Map: ctx.Map}
}

// exit ends maintenance mode, or cancels entering it.
func (m *maintenance) exit(call *simulator.Context, host *simulator.HostSystem) mo.Reference {
	ctx := call
	m.mu.Lock()
	if stop, ok := m.entering[host.Self]; ok {
		delete(m.entering, host.Self)
		close(stop)
	}
	m.mu.Unlock()
	task := m.newTask(ctx, host, "ExitMaintenanceMode_Task", "HostSystem.exitMaintenanceMode")
	ctx = background(ctx)
	go func() {
		setMaintenance(ctx, host, false)
		finishTask(ctx, task, nil)
	}()
	h := &hostAnswer{HostSystem: host, task: task.Self}
	shadowInSession(call, host, h)
	return h
}

func (m *maintenance) stopEntering(host types.ManagedObjectReference, stop chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entering[host] == stop {
		delete(m.entering, host)
	}
}

// newTask registers a running task on host, visible in the host's recentTask.
func (m *maintenance) newTask(ctx *simulator.Context, host *simulator.HostSystem, name, description string) *simulator.Task {
	t := &simulator.Task{}
	t.Self = types.ManagedObjectReference{Type: "Task", Value: fmt.Sprintf("task-maintenance-%d", m.tasks.Add(1))}
	now := time.Now()
	t.Info = types.TaskInfo{
		Key: t.Self.Value, Task: t.Self, Name: name, DescriptionId: description,
		Entity: &host.Self, EntityName: host.Name, State: types.TaskInfoStateRunning,
		QueueTime: now, StartTime: &now, Reason: &types.TaskReasonUser{UserName: "vcsim"},
	}
	ctx.Map.Put(t)
	return t
}

func finishTask(ctx *simulator.Context, t *simulator.Task, fault types.BaseMethodFault) {
	state := types.TaskInfoStateSuccess
	var err any
	if fault != nil {
		state = types.TaskInfoStateError
		err = types.LocalizedMethodFault{Fault: fault, LocalizedMessage: fmt.Sprintf("%T", fault)}
	}
	ctx.Map.AtomicUpdate(ctx, t, []types.PropertyChange{
		{Name: "info.completeTime", Val: time.Now()},
		{Name: "info.state", Val: state},
		{Name: "info.error", Val: err},
	})
}

func setMaintenance(ctx *simulator.Context, host *simulator.HostSystem, on bool) {
	ctx.WithLock(host, func() {
		host.Runtime.InMaintenanceMode = on
		ctx.Update(host, []types.PropertyChange{
			{Name: "runtime.inMaintenanceMode", Val: on},
			{Name: "summary.runtime.inMaintenanceMode", Val: on},
		})
	})
}

// poweredOnVMs counts the powered-on VMs on a host.
func poweredOnVMs(ctx *simulator.Context, host types.ManagedObjectReference) int {
	return countVMs(ctx, func(vm *simulator.VirtualMachine) bool {
		return vm.Runtime.Host != nil && *vm.Runtime.Host == host && vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn
	})
}

// countVMs counts the VMs for which match, called under each VM's lock, is true.
func countVMs(ctx *simulator.Context, match func(*simulator.VirtualMachine) bool) int {
	n := 0
	for _, obj := range ctx.Map.All("VirtualMachine") {
		if vm, ok := obj.(*simulator.VirtualMachine); ok {
			ctx.WithLock(vm, func() {
				if match(vm) {
					n++
				}
			})
		}
	}
	return n
}

// hostAnswer answers one maintenance call on a host with the task already made for it.
type hostAnswer struct {
	*simulator.HostSystem
	task types.ManagedObjectReference
}

// EnterMaintenanceModeTask answers EnterMaintenanceMode_Task.
func (h *hostAnswer) EnterMaintenanceModeTask(*simulator.Context, *types.EnterMaintenanceMode_Task) soap.HasFault {
	return &methods.EnterMaintenanceMode_TaskBody{Res: &types.EnterMaintenanceMode_TaskResponse{Returnval: h.task}}
}

// ExitMaintenanceModeTask answers ExitMaintenanceMode_Task.
func (h *hostAnswer) ExitMaintenanceModeTask(*simulator.Context, *types.ExitMaintenanceMode_Task) soap.HasFault {
	return &methods.ExitMaintenanceMode_TaskBody{Res: &types.ExitMaintenanceMode_TaskResponse{Returnval: h.task}}
}
