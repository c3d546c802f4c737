package vcsim

import (
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// hostView reads what tells a host's maintenance state: the flag and its running tasks.
func hostView(t *testing.T, c *govmomi.Client, ref types.ManagedObjectReference) (inMM bool, entering bool) {
	t.Helper()
	var h mo.HostSystem
	pc := property.DefaultCollector(c.Client)
	if err := pc.RetrieveOne(t.Context(), ref, []string{"runtime.inMaintenanceMode", "recentTask"}, &h); err != nil {
		t.Fatal(err)
	}
	if len(h.RecentTask) > 0 {
		var tasks []mo.Task
		if err := pc.Retrieve(t.Context(), h.RecentTask, []string{"info"}, &tasks); err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			if task.Info.DescriptionId == "HostSystem.enterMaintenanceMode" && task.Info.State == types.TaskInfoStateRunning {
				entering = true
			}
		}
	}
	return h.Runtime.InMaintenanceMode, entering
}

// tryInstantClone instant-clones vm and waits: the call's fault or the task's.
func tryInstantClone(t *testing.T, vm *object.VirtualMachine, name string) error {
	t.Helper()
	task, err := vm.InstantClone(t.Context(), types.VirtualMachineInstantCloneSpec{Name: name})
	if err != nil {
		return err
	}
	return task.Wait(t.Context())
}

// TestHostMaintenance: entering maintenance mode waits while a powered-on VM is on the host,
// and meanwhile the host takes no power-on and no clone; once the VM is off the host is in
// maintenance mode and still takes none; leaving it, the host takes them again.
func TestHostMaintenance(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	ctx := t.Context()
	golden := goldenVM(t, c)
	hostRef := s.Inventory().Golden.Host.Ref
	host := object.NewHostSystem(c.Client, hostRef)

	enter, err := host.EnterMaintenanceMode(ctx, 0, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if inMM, entering := hostView(t, c, hostRef); inMM || !entering {
		t.Fatalf("with the golden VM running: in maintenance %v, entering %v; want entering only", inMM, entering)
	}
	if err := tryInstantClone(t, golden, "child"); !fault.Is(err, &types.InvalidState{}) {
		t.Errorf("instant clone on a host entering maintenance: %v, want InvalidState", err)
	}

	off, err := golden.PowerOff(ctx)
	if err == nil {
		err = off.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := enter.Wait(ctx); err != nil {
		t.Fatalf("entering maintenance once nothing runs: %v", err)
	}
	if inMM, entering := hostView(t, c, hostRef); !inMM || entering {
		t.Fatalf("after entering: in maintenance %v, entering %v", inMM, entering)
	}
	if on, err := golden.PowerOn(ctx); err == nil {
		if err := on.Wait(ctx); !fault.Is(err, &types.InvalidState{}) {
			t.Errorf("power-on in maintenance mode: %v, want InvalidState", err)
		}
	} else if !fault.Is(err, &types.InvalidState{}) {
		t.Errorf("power-on in maintenance mode: %v, want InvalidState", err)
	}

	exit, err := host.ExitMaintenanceMode(ctx, 0)
	if err == nil {
		err = exit.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	if inMM, _ := hostView(t, c, hostRef); inMM {
		t.Fatal("still in maintenance mode after leaving it")
	}
	on, err := golden.PowerOn(ctx)
	if err == nil {
		err = on.Wait(ctx)
	}
	if err != nil {
		t.Fatalf("power-on after maintenance: %v", err)
	}
	if _, err := cloneAndWait(t, golden, types.VirtualMachineInstantCloneSpec{Name: "child"}); err != nil {
		t.Errorf("instant clone after maintenance: %v", err)
	}

	// A timeout while VMs still run fails the task, and the host does not enter.
	enter, err = host.EnterMaintenanceMode(ctx, 1, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := enter.Wait(ctx); !fault.Is(err, &types.Timedout{}) {
		t.Errorf("entering with VMs running past the timeout: %v, want Timedout", err)
	}
	if inMM, entering := hostView(t, c, hostRef); inMM || entering {
		t.Errorf("after the timeout: in maintenance %v, entering %v", inMM, entering)
	}
}
