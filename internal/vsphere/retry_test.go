package vsphere_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

// retryFixture is a simulator, an administrator's client and a powered-off VM to power on.
func retryFixture(t *testing.T) (*vcsim.Server, *vsphere.Client, string) {
	t.Helper()
	srv, c := asAdmin(t, vcsim.Options{})
	vm := srv.Inventory().Golden.Ref.Value
	if err := c.PowerOff(context.Background(), vm); err != nil {
		t.Fatal(err)
	}
	return srv, c, vm
}

// taskInProgress arms a TaskInProgress naming busy on the next PowerOnVM_Task calls.
func taskInProgress(srv *vcsim.Server, busy *vcsim.BusyTask, count int) *vcsim.Injection {
	return srv.InjectFault(simulator.FaultInjectionRule{
		MethodName: "PowerOnVM_Task", ObjectType: "*", ObjectName: "*", Probability: 1, Enabled: true, MaxCount: count,
		FaultType: simulator.FaultTypeCustom, Fault: &types.TaskInProgress{Task: busy.Ref},
	})
}

// TestTaskInProgressWaitsForTheTask: a call refused because another task runs on the object
// waits for that task, however long it takes within the operation's time, then succeeds.
func TestTaskInProgressWaitsForTheTask(t *testing.T) {
	srv, c, vm := retryFixture(t)
	ctx := context.Background()
	busy, err := srv.StartTask(ctx, vsphere.VMRef(vm))
	if err != nil {
		t.Fatal(err)
	}
	rule := taskInProgress(srv, busy, 1)
	const runs = 2 * time.Second // longer than the ~1.4 s a backoff retry would try for
	go func() {
		time.Sleep(runs)
		_ = busy.Finish(context.Background())
	}()
	start := time.Now()
	if err := c.PowerOn(ctx, vm); err != nil {
		t.Fatalf("PowerOn after the task in the way ended: %v", err)
	}
	if took := time.Since(start); took < runs {
		t.Errorf("PowerOn succeeded after %v, before the task in the way ended (%v)", took, runs)
	}
	if n := rule.Delivered(); n != 1 {
		t.Errorf("%d TaskInProgress faults delivered, want 1 (then wait, then one more try)", n)
	}
}

// TestTaskInProgressBoundedByTimeout: a task in the way that outlasts the operation's timeout
// ends the wait at the timeout, with the fault and the deadline in the error.
func TestTaskInProgressBoundedByTimeout(t *testing.T) {
	srv, c, vm := retryFixture(t)
	busy, err := srv.StartTask(context.Background(), vsphere.VMRef(vm))
	if err != nil {
		t.Fatal(err)
	}
	rule := taskInProgress(srv, busy, 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err = c.PowerOn(ctx, vm)
	if !fault.Is(err, &types.TaskInProgress{}) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), busy.Ref.Value) {
		t.Fatalf("PowerOn with a task in the way past the timeout: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the wait took %v past a 1 s timeout", took)
	}
	if n := rule.Delivered(); n != 1 {
		t.Errorf("%d TaskInProgress faults delivered, want 1: the call waited rather than retried", n)
	}
}

// TestSystemErrorRetriedOnlyWhenTransient: a SystemError whose words say a service was out
// of reach for a moment is tried again; any other is reported at once.
func TestSystemErrorRetriedOnlyWhenTransient(t *testing.T) {
	tests := []struct {
		reason    string
		transient bool
	}{
		{"Connection refused: The remote service is not running, OR is overloaded, OR a firewall is rejecting connections.", true},
		{"Operation timed out", true},
		{"Unexpected exception", false},
		{"vix error codes = (1, 0).", false},
	}
	for _, tt := range tests {
		srv, c, vm := retryFixture(t)
		rule := srv.InjectFault(simulator.FaultInjectionRule{
			MethodName: "PowerOnVM_Task", ObjectType: "*", ObjectName: "*", Probability: 1, Enabled: true, MaxCount: 1,
			FaultType: simulator.FaultTypeCustom, Fault: &types.SystemError{Reason: tt.reason}, Message: "A general system error occurred: " + tt.reason,
		})
		err := c.PowerOn(context.Background(), vm)
		if tt.transient && err != nil {
			t.Errorf("%q: not retried: %v", tt.reason, err)
		}
		if !tt.transient && !strings.Contains(fmtErr(err), tt.reason) {
			t.Errorf("%q: %v, want the SystemError reported", tt.reason, err)
		}
		if n := rule.Delivered(); n != 1 {
			t.Errorf("%q: %d faults delivered, want 1", tt.reason, n)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
