package acctest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

// instantClone adds a VM to the simulator: a clone of the golden VM.
func instantClone(t *testing.T, env *Env, name string) {
	t.Helper()
	vm := object.NewVirtualMachine(env.Client.Vim(), env.Inv.Golden.Ref)
	task, err := vm.InstantClone(t.Context(), types.VirtualMachineInstantCloneSpec{Name: name})
	if err == nil {
		err = task.Wait(t.Context())
	}
	if err != nil {
		t.Fatalf("instant clone %s: %v", name, err)
	}
}

// waitFired waits for tr to fire, failing the test after a while.
func waitFired(t *testing.T, tr *Trigger) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !tr.Fired(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the trigger did not fire after the number of VMs changed")
		}
	}
}

func TestTriggerFiresOnceWhenTheVMCountChanges(t *testing.T) {
	env := NewEnv(t, vcsim.Options{})
	var calls atomic.Int32
	tr := env.onVMCountChange(t, "counting", func(context.Context) error {
		calls.Add(1)
		return nil
	})
	time.Sleep(100 * time.Millisecond)
	if tr.Fired() || calls.Load() != 0 {
		t.Fatalf("fired with no change: Fired() = %v, %d call(s)", tr.Fired(), calls.Load())
	}
	instantClone(t, env, "trigger-1")
	waitFired(t, tr)
	instantClone(t, env, "trigger-2")
	time.Sleep(100 * time.Millisecond)
	tr.Stop()
	tr.Stop() // twice is fine
	if n := calls.Load(); n != 1 {
		t.Errorf("the action ran %d times, want once", n)
	}
}

// A trigger or sampler the test never stops ends with the test that started it.
func TestFixtureGoroutinesEndWithTheirTest(t *testing.T) {
	env := NewEnv(t, vcsim.Options{})
	var tr *Trigger
	var s *Sampler
	t.Run("fixture", func(t *testing.T) {
		tr = env.onVMCountChange(t, "never", func(context.Context) error { return nil })
		s = env.SampleOutOfService(t, "nothing", 0)
		time.Sleep(50 * time.Millisecond)
	})
	for what, done := range map[string]chan struct{}{"trigger": tr.done, "sampler": s.done} {
		select {
		case <-done:
		default:
			t.Errorf("the %s's goroutine outlived the test that started it", what)
		}
	}
	_, before := s.Stop()
	time.Sleep(50 * time.Millisecond)
	if _, after := s.Stop(); before == 0 || after != before {
		t.Errorf("sampler: %d samples while its test ran, %d after it ended", before, after-before)
	}
}

// DropSessionsOnChange ends the other clients' sessions, not the test's own, and the simulator
// sees a client that was using one come back with it.
func TestDropSessionsOnChange(t *testing.T) {
	env := NewEnv(t, vcsim.Options{})
	other, err := vsphere.Connect(t.Context(), vsphere.Config{
		Server: env.Server.URL().Host, User: env.Server.Username(), Password: env.Server.Password(), Insecure: true,
	})
	if err != nil {
		t.Fatalf("connecting a second client: %v", err)
	}
	t.Cleanup(func() { _ = other.Logout(context.Background()) })

	tr := env.DropSessionsOnChange(t)
	instantClone(t, env, "drop-1")
	waitFired(t, tr)
	if got := env.Server.SessionCounts(); got != (vcsim.SessionCounts{Ended: 1}) {
		t.Errorf("after the drop: %+v, want the other client's session ended and not used yet", got)
	}
	env.VMs(t) // the test's own session still works, and is not an ended one
	vms, err := other.AllVMs(t.Context())
	if err != nil {
		t.Fatalf("the other client after its session ended: %v", err)
	}
	if len(vms) != 2 {
		t.Errorf("the other client sees %d VMs, want the golden VM and its clone", len(vms))
	}
	if got := env.Server.SessionCounts(); got != (vcsim.SessionCounts{Ended: 1, UsedAfterEnd: 1}) {
		t.Errorf("after the other client called again: %+v, want 1 ended, 1 used after", got)
	}
}
