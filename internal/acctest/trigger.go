package acctest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// Trigger runs an action once, in its own goroutine, as soon as what it watches for happens
// (the number of VMs changes, or a provisioning call arrives). The goroutine is stopped, and
// waited for, when the test ends at the latest.
type Trigger struct {
	cancel context.CancelFunc
	done   chan struct{}
	fired  atomic.Bool
}

// onVMCountChange sets a trigger for act; what names it in the test's error when act fails.
func (e *Env) onVMCountChange(t *testing.T, what string, act func(context.Context) error) *Trigger {
	t.Helper()
	before := len(e.VMs(t))
	return e.trigger(t, what, act, func(ctx context.Context) bool {
		for {
			select {
			case <-ctx.Done():
				return false
			case <-time.After(10 * time.Millisecond):
			}
			if vms, err := e.Client.AllVMs(ctx); err == nil && len(vms) != before {
				return true
			}
		}
	})
}

// onProvisioningCall sets a trigger for act that fires when the simulator receives the next
// call that makes or removes a VM: in the middle of the operation that made it. That call
// waits until act is done, so its client still has the call's task to wait for afterwards
// however quickly the rest of its work would go.
func (e *Env) onProvisioningCall(t *testing.T, what string, act func(context.Context) error) *Trigger {
	t.Helper()
	call, release := e.Server.HoldNextCall("CloneVM_Task", "InstantClone_Task", "Destroy_Task")
	held := func(ctx context.Context) error {
		defer release()
		return act(ctx)
	}
	return e.trigger(t, what, held, func(ctx context.Context) bool {
		select {
		case <-call:
			return true
		case <-ctx.Done():
			release() // a call arriving from now on goes through
			return false
		}
	})
}

// trigger runs act once when due reports true; due returns false when ctx ends first.
func (e *Env) trigger(t *testing.T, what string, act func(context.Context) error, due func(context.Context) bool) *Trigger {
	ctx, cancel := context.WithCancel(context.Background())
	tr := &Trigger{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		if !due(ctx) {
			return
		}
		if err := act(ctx); err != nil {
			if ctx.Err() == nil {
				t.Errorf("%s: %v", what, err)
			}
			return
		}
		tr.fired.Store(true)
	}()
	t.Cleanup(tr.Stop)
	return tr
}

// Stop stops watching and returns once the goroutine has ended; an action under way is
// cancelled. Safe to call more than once.
func (tr *Trigger) Stop() {
	tr.cancel()
	<-tr.done
}

// Fired says whether the action ran, and succeeded.
func (tr *Trigger) Fired() bool { return tr.fired.Load() }
