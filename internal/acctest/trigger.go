package acctest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// Trigger runs an action once, in its own goroutine, as soon as the number of VMs differs
// from what it was when the trigger was set. The goroutine is stopped, and waited for, when
// the test ends at the latest.
type Trigger struct {
	cancel context.CancelFunc
	done   chan struct{}
	fired  atomic.Bool
}

// onVMCountChange sets a trigger for act; what names it in the test's error when act fails.
func (e *Env) onVMCountChange(t *testing.T, what string, act func(context.Context) error) *Trigger {
	t.Helper()
	before := len(e.VMs(t))
	ctx, cancel := context.WithCancel(context.Background())
	tr := &Trigger{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			vms, err := e.Client.AllVMs(ctx)
			if err != nil || len(vms) == before {
				continue
			}
			if err := act(ctx); err != nil {
				if ctx.Err() == nil {
					t.Errorf("%s: %v", what, err)
				}
				return
			}
			tr.fired.Store(true)
			return
		}
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
