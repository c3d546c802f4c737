package vsphere_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// TestTasksWaitedTogether: 40 clone tasks are waited for through one collector, and each
// wait gets its own task's result. The simulator clones one source one at a time, so the
// tasks start apart and each may join the view in a ModifyListView of its own and be seen
// joining and ending in waits of its own: at most three calls a task, where a collector per
// task costs five or more (create, filter, two waits, destroy).
func TestTasksWaitedTogether(t *testing.T) {
	t.Parallel()
	srv, c := asAdmin(t, vcsim.Options{Latency: 5 * time.Millisecond, TaskLatency: 300 * time.Millisecond})
	inv := srv.Inventory()
	const n = 40
	before, methodsBefore := c.Calls(), srv.Calls()
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ids[i], errs[i] = c.CloneVM(t.Context(), engine.CloneSpec{
				Source: inv.Golden.Ref.Value, Folder: inv.VMFolder.Ref.Value, Name: fmt.Sprintf("copy-%d", i), Datastore: inv.Datastores[0].Ref.Value,
			})
		})
	}
	wg.Wait()
	watching := c.Calls() - before - n // all but the CloneVM_Task calls
	seen := map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("clone %d: %v", i, errs[i])
		}
		if seen[ids[i]] {
			t.Fatalf("clone %d got %s, another clone's result", i, ids[i])
		}
		seen[ids[i]] = true
	}
	calls := srv.Calls()
	for m, k := range calls {
		if k != methodsBefore[m] {
			t.Logf("%s %d", m, k-methodsBefore[m])
		}
	}
	if k := calls["CreatePropertyCollector"] - methodsBefore["CreatePropertyCollector"]; k != 1 {
		t.Errorf("%d property collectors made for %d tasks, want one", k, n)
	}
	if watching > 3*n {
		t.Errorf("waiting for %d tasks took %d calls: want at most three per task", n, watching)
	}
}

// TestTaskFaultSurfaces: a task that fails gives its waiter vCenter's fault.
func TestTaskFaultSurfaces(t *testing.T) {
	t.Parallel()
	srv, c := asAdmin(t, vcsim.Options{})
	inv := srv.Inventory()
	spec := engine.CloneSpec{Source: inv.Golden.Ref.Value, Folder: inv.VMFolder.Ref.Value, Name: "twice", Datastore: inv.Datastores[0].Ref.Value}
	if _, err := c.CloneVM(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	_, err := c.CloneVM(t.Context(), spec)
	if !fault.Is(err, &types.DuplicateName{}) {
		t.Fatalf("second clone of one name: %v, want vCenter's DuplicateName", err)
	}
}

// TestTaskWaitOutlivesSession: a task still running when the session ends is waited for to
// its end: the watcher makes a new collector and view in the new session. A waiter that gives
// up gets its context's error at once, and the watcher serves the next waiter.
func TestTaskWaitOutlivesSession(t *testing.T) {
	srv, c, endSession := sessions(t)
	ctx := t.Context()
	inv := srv.Inventory()
	golden := object.NewVirtualMachine(c.Vim(), inv.Golden.Ref)
	// Entering maintenance mode runs while a powered-on VM is on the host.
	enter, err := object.NewHostSystem(c.Vim(), inv.Golden.Host.Ref).EnterMaintenanceMode(ctx, 0, false, nil)
	if err != nil {
		t.Fatal(err)
	}

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := c.WaitTask(short, enter.Reference()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a wait given 300 ms for a running task: %v, want its deadline", err)
	}

	done := make(chan error, 1)
	go func() { _, err := c.WaitTask(ctx, enter.Reference()); done <- err }()
	time.Sleep(200 * time.Millisecond)
	endSession()
	select {
	case err := <-done:
		t.Fatalf("the wait ended with the session (%v), before its task", err)
	case <-time.After(time.Second):
	}
	off, err := golden.PowerOff(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitTask(ctx, off.Reference()); err != nil {
		t.Fatalf("powering the VM off: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("waiting for maintenance mode across the session's end: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the wait did not end after its task did")
	}
}
