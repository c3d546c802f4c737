package vsphere

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// taskWatcher waits for all of a client's tasks at once. One ListView holds the tasks being
// waited for and one filter of one property collector follows their state, so a task costs
// its share of ModifyListView and WaitForUpdatesEx calls (tasks started or ended together
// share one) instead of a collector, a filter and their waits of its own. vCenter sends a
// task's state, result and fault together when it ends.
type taskWatcher struct {
	c      *Client
	ctx    context.Context // the watcher's life: ended by Logout
	cancel context.CancelFunc

	mu        sync.Mutex
	waiting   map[types.ManagedObjectReference]*taskWait
	add       []types.ManagedObjectReference // view changes not yet sent
	remove    []types.ManagedObjectReference
	sending   bool                         // a ModifyListView is under way
	queued    bool                         // a flush is due in addDelay
	running   bool                         // the loop is up
	view      types.ManagedObjectReference // the loop's ListView, once made
	collector types.ManagedObjectReference // and its collector
	stop      context.CancelFunc           // cuts the loop's current wait short
}

// taskWait is one task being waited for.
type taskWait struct {
	done   chan struct{}
	state  types.TaskInfoState
	result types.AnyType
	fault  *types.LocalizedMethodFault
	err    error // set instead when the wait itself failed
}

// taskProps are what the filter follows of each task: not its progress, which vCenter
// updates often and nobody here reads.
var taskProps = []string{"info.state", "info.result", "info.error"}

// Each WaitForUpdatesEx is bounded, so that a wait given up by a process that died ends on
// vCenter's side too. A watcher that had nothing to wait for during a whole wait ends its
// collector and view. A shorter bound while idle would end them between the steps of one
// apply whenever the calls that start the next tasks take longer than it (a busy vCenter), and
// make them again for each step: five calls each time.
const waitSeconds = 10

// addDelay is how long a task waits to join the view, so that tasks started about together
// join in one ModifyListView. A task that ends meanwhile is seen ended when it joins.
const addDelay = 10 * time.Millisecond

// removeBatch is how many ended tasks are kept in the view before they are taken out on
// their own rather than with the next tasks added.
const removeBatch = 64

// maxWatchFailures is how many times in a row the collector may fail to start or to wait
// before the tasks being waited for fail with its error.
const maxWatchFailures = 4

func newTaskWatcher(c *Client) *taskWatcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &taskWatcher{c: c, ctx: ctx, cancel: cancel, waiting: map[types.ManagedObjectReference]*taskWait{}}
}

// close stops the watcher before its session is logged out; tasks still waited for fail. The
// wait in flight is cancelled on vCenter's side too, rather than left to run out.
func (w *taskWatcher) close() {
	w.mu.Lock()
	pc := w.collector
	w.mu.Unlock()
	if pc.Value != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, _ = methods.CancelWaitForUpdates(ctx, w.c.vim, &types.CancelWaitForUpdates{This: pc})
		cancel()
	}
	w.cancel()
}

// wait blocks until the task ends or ctx is done, and returns the task's result or fault.
func (w *taskWatcher) wait(ctx context.Context, ref types.ManagedObjectReference) (types.AnyType, error) {
	tw, err := w.watch(ref)
	if err != nil {
		return nil, err
	}
	select {
	case <-tw.done:
	case <-ctx.Done():
		w.forget(ref, tw)
		return nil, ctx.Err()
	}
	switch {
	case tw.err != nil:
		return nil, tw.err
	case tw.state == types.TaskInfoStateError && tw.fault != nil:
		return nil, task.Error{LocalizedMethodFault: tw.fault}
	case tw.state == types.TaskInfoStateError:
		return nil, fmt.Errorf("task %s failed without a fault", ref.Value)
	}
	return tw.result, nil
}

// watch registers a task and has the view take it in.
func (w *taskWatcher) watch(ref types.ManagedObjectReference) (*taskWait, error) {
	w.mu.Lock()
	if err := w.ctx.Err(); err != nil {
		w.mu.Unlock()
		return nil, errors.New("the vCenter session was logged out")
	}
	tw := w.waiting[ref]
	if tw == nil {
		tw = &taskWait{done: make(chan struct{})}
		w.waiting[ref] = tw
		if w.running {
			w.add = append(w.add, ref)
		}
	}
	if !w.running {
		w.running = true
		go w.run()
	}
	if !w.queued {
		w.queued = true
		time.AfterFunc(addDelay, func() {
			w.mu.Lock()
			w.queued = false
			w.mu.Unlock()
			w.flush()
		})
	}
	w.mu.Unlock()
	return tw, nil
}

// forget stops waiting for a task whose waiter gave up.
func (w *taskWatcher) forget(ref types.ManagedObjectReference, tw *taskWait) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting[ref] == tw {
		delete(w.waiting, ref)
		w.remove = append(w.remove, ref)
	}
}

// flush sends the view changes waiting, in as few ModifyListView calls as callers allow: one
// caller sends, and what others queue meanwhile goes in its next call.
func (w *taskWatcher) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sending || w.view.Value == "" {
		return
	}
	w.sending = true
	defer func() { w.sending = false }()
	// Ended tasks leave the view with the next tasks added, or on their own once many.
	for len(w.add) > 0 || len(w.remove) >= removeBatch {
		req := types.ModifyListView{This: w.view, Add: w.add, Remove: w.remove}
		w.add, w.remove = nil, nil
		w.mu.Unlock()
		res, err := methods.ModifyListView(w.ctx, w.c.vim, &req)
		w.mu.Lock()
		if err != nil {
			// The loop starts again with a new view of every task still waited for.
			w.c.log.Debug(w.ctx, "vCenter task view change failed; watching the tasks anew", map[string]any{"error": err.Error()})
			if w.stop != nil {
				w.stop()
			}
			return
		}
		for _, gone := range res.Returnval {
			w.endLocked(gone, fmt.Errorf("task %s is gone from vCenter", gone.Value))
		}
	}
}

// endLocked ends the wait for a task; err non-nil means the wait failed, not the task.
func (w *taskWatcher) endLocked(ref types.ManagedObjectReference, err error) {
	tw := w.waiting[ref]
	if tw == nil {
		return
	}
	tw.err = err
	delete(w.waiting, ref)
	w.remove = append(w.remove, ref)
	close(tw.done)
}

// run keeps a collector watching while tasks are waited for, making it anew when vCenter
// loses it (a session that ended takes its collector and view along).
func (w *taskWatcher) run() {
	failures := 0
	for {
		progressed, err := w.serve()
		if err == nil {
			return // idle: serve has marked the loop down
		}
		if progressed {
			failures = 0
		}
		failures++
		w.c.log.Debug(w.ctx, "vCenter task watch failed", map[string]any{"error": err.Error(), "failures": failures})
		if w.ctx.Err() != nil || failures == maxWatchFailures {
			w.failAll(fmt.Errorf("waiting for vCenter tasks: %w", err))
			return
		}
		select {
		case <-w.ctx.Done():
		case <-time.After(time.Duration(failures) * 200 * time.Millisecond):
		}
	}
}

// failAll ends every wait with err and marks the loop down.
func (w *taskWatcher) failAll(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ref := range w.waiting {
		w.endLocked(ref, err)
	}
	w.add, w.remove, w.view, w.running = nil, nil, types.ManagedObjectReference{}, false
}

// serve sets up a collector, a view of every task waited for and a filter, and hands out
// task endings until nothing is waited for (nil) or a call fails. progressed says whether any
// wait succeeded.
func (w *taskWatcher) serve() (progressed bool, err error) {
	ctx, stop := context.WithCancel(w.ctx)
	defer stop()
	pc, err := property.DefaultCollector(w.c.vim).Create(ctx)
	if err != nil {
		return false, err
	}
	defer func() { _ = pc.Destroy(w.ctx) }() // its filter goes with it

	w.mu.Lock()
	refs := make([]types.ManagedObjectReference, 0, len(w.waiting))
	for ref := range w.waiting {
		refs = append(refs, ref)
	}
	w.add, w.remove = nil, nil
	w.mu.Unlock()
	lv, err := view.NewManager(w.c.vim).CreateListView(ctx, refs)
	if err != nil {
		return false, err
	}
	defer func() { _ = lv.Destroy(w.ctx) }()
	_, err = pc.CreateFilter(ctx, types.CreateFilter{Spec: types.PropertyFilterSpec{
		ObjectSet: []types.ObjectSpec{{
			Obj: lv.Reference(), Skip: types.NewBool(true),
			SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: "ListView", Path: "view"}},
		}},
		PropSet: []types.PropertySpec{{Type: "Task", PathSet: taskProps}},
	}})
	if err != nil {
		return false, err
	}
	w.mu.Lock()
	w.view, w.collector, w.stop = lv.Reference(), pc.Reference(), stop
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		if w.view == lv.Reference() { // not yet a new loop's
			w.view, w.collector, w.stop = types.ManagedObjectReference{}, types.ManagedObjectReference{}, nil
		}
		w.mu.Unlock()
	}()
	w.flush() // tasks that came while the view was being made

	bound := int32(waitSeconds)
	req := types.WaitForUpdatesEx{This: pc.Reference(), Options: &types.WaitOptions{MaxWaitSeconds: &bound}}
	for {
		res, err := methods.WaitForUpdatesEx(ctx, w.c.vim, &req)
		if err != nil {
			return progressed, err
		}
		progressed = true
		set := res.Returnval
		if set != nil {
			req.Version = set.Version
			w.apply(set)
		}
		w.mu.Lock()
		// Idle once a whole wait passed with nothing waited for: work in steps (a publish,
		// then the clones) keeps one collector.
		idle := set == nil && len(w.waiting) == 0 && len(w.add) == 0
		if idle {
			w.running = false
		}
		sweep := len(w.remove) >= removeBatch
		w.mu.Unlock()
		if idle {
			return true, nil
		}
		if sweep {
			w.flush()
		}
	}
}

// apply records what an update set says of the tasks, and ends the waits of those done.
func (w *taskWatcher) apply(set *types.UpdateSet) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, fs := range set.FilterSet {
		for _, u := range fs.ObjectSet {
			tw := w.waiting[u.Obj]
			if tw == nil {
				continue
			}
			if u.Kind == types.ObjectUpdateKindLeave {
				w.endLocked(u.Obj, fmt.Errorf("task %s is gone from vCenter", u.Obj.Value))
				continue
			}
			for _, ch := range u.ChangeSet {
				switch ch.Name {
				case "info.state":
					if s, ok := ch.Val.(types.TaskInfoState); ok {
						tw.state = s
					}
				case "info.result":
					tw.result = ch.Val
				case "info.error":
					switch f := ch.Val.(type) {
					case types.LocalizedMethodFault:
						tw.fault = &f
					case *types.LocalizedMethodFault:
						tw.fault = f
					}
				}
			}
			if tw.state == types.TaskInfoStateSuccess || tw.state == types.TaskInfoStateError {
				w.endLocked(u.Obj, nil)
			}
		}
	}
}
