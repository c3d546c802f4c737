package vcsim

import (
	"context"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// The property collectors' waits (WaitForUpdatesEx, CancelWaitForUpdates) are answered here
// rather than by govmomi's simulator, for two reasons:
//
//   - Its wait re-reads every filter of the collector, deep-copying each object through XML,
//     once for each change anywhere in the inventory since its last look. A filter over the
//     tasks of a busy client is read hundreds of times a second, and the simulator spends
//     most of its time there: dozens of instant clones a second are its ceiling, where vCenter
//     makes hundreds. Here a wait reads its filters once per look, and looks only after a
//     change, at most every lookInterval.
//   - A session that ends takes its property collectors with it, and vCenter ends their waits
//     then. The simulator let a WaitForUpdatesEx of an ended session run on to its
//     MaxWaitSeconds (and a server being closed waited for it).
//
// A wait reports what changed since the version it is given: each object its filters select
// that entered, changed (the properties whose values differ) or left, as vCenter does
// (PropertyCollector.WaitForUpdatesEx). An unknown version is refused with
// InvalidCollectorVersion, vCenter's fault for it.

// lookInterval is the shortest time between two reads of a collector's filters (the
// simulator's own wait looked as often): changes made
// meanwhile are reported together, as vCenter batches them.
const lookInterval = 20 * time.Millisecond

// waits holds the wait state of every collector waited on, by session.
type waits struct {
	mu        sync.Mutex
	bySession map[string]map[*simulator.PropertyCollector]*collectorWaits
}

// handlerSeq numbers the collectors' change listeners: the registry keys its listeners by
// reference, and a listener's must differ from its collector's.
var handlerSeq struct {
	sync.Mutex
	n int
}

// answerWaits makes r answer the collectors' waits, and end the waits of the sessions a
// TerminateSession or Logout ends and of the collectors destroyed.
func (w *waits) answerWaits(r *simulator.Registry) {
	answer(r, func(ctx *simulator.Context, m *simulator.Method) mo.Reference {
		if ctx.Session == nil {
			return nil
		}
		switch m.Name {
		case "WaitForUpdatesEx", "CancelWaitForUpdates":
			pc, ok := ctx.Session.Get(m.This).(*simulator.PropertyCollector)
			if !ok {
				return nil
			}
			h := &collectorCall{PropertyCollector: pc, waits: w.of(ctx, pc)}
			h.session = shadowInSession(ctx, pc, h)
			return h
		case "DestroyPropertyCollector":
			if pc, ok := ctx.Session.Get(m.This).(*simulator.PropertyCollector); ok {
				w.drop(ctx.Session.Key, pc)
			}
		case "TerminateSession":
			if req, ok := m.Body.(*types.TerminateSession); ok {
				w.end(req.SessionId...)
			}
		case "Logout":
			w.end(ctx.Session.Key)
		}
		return nil // the call itself goes on as before
	})
}

// of is the wait state of pc in ctx's session, made on first use.
func (w *waits) of(ctx *simulator.Context, pc *simulator.PropertyCollector) *collectorWaits {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.bySession == nil {
		w.bySession = map[string]map[*simulator.PropertyCollector]*collectorWaits{}
	}
	set := w.bySession[ctx.Session.Key]
	if set == nil {
		set = map[*simulator.PropertyCollector]*collectorWaits{}
		w.bySession[ctx.Session.Key] = set
	}
	cw := set[pc]
	if cw == nil {
		handlerSeq.Lock()
		handlerSeq.n++
		self := types.ManagedObjectReference{Type: "PropertyCollector", Value: "waits-" + strconv.Itoa(handlerSeq.n)}
		handlerSeq.Unlock()
		cw = &collectorWaits{self: self, registry: ctx.Map, changed: make(chan struct{}, 1)}
		ctx.Map.AddHandler(cw)
		set[pc] = cw
	}
	return cw
}

// drop ends the waits of one collector, which is being destroyed.
func (w *waits) drop(session string, pc *simulator.PropertyCollector) {
	w.mu.Lock()
	cw := w.bySession[session][pc]
	delete(w.bySession[session], pc)
	w.mu.Unlock()
	if cw != nil {
		cw.end()
	}
}

// end ends the waits of the sessions given, or of every session when none is.
func (w *waits) end(sessions ...string) {
	w.mu.Lock()
	var ended []*collectorWaits
	for key, set := range w.bySession {
		if len(sessions) > 0 && !slices.Contains(sessions, key) {
			continue
		}
		for _, cw := range set {
			ended = append(ended, cw)
		}
		delete(w.bySession, key)
	}
	w.mu.Unlock()
	for _, cw := range ended {
		cw.end()
	}
}

// collectorWaits is what one collector has reported, and its wait in flight.
type collectorWaits struct {
	self     types.ManagedObjectReference // its key among the registry's change listeners
	registry *simulator.Registry
	changed  chan struct{} // something in the inventory changed since the last look

	mu      sync.Mutex
	version int
	// reported is, per filter, the properties of each object as last reported.
	reported map[types.ManagedObjectReference]map[types.ManagedObjectReference]map[string]types.AnyType
	cancel   context.CancelFunc // ends the wait in flight
	ended    bool
}

func (cw *collectorWaits) Reference() types.ManagedObjectReference { return cw.self }

// PutObject, UpdateObject and RemoveObject hear of every change in the inventory.
func (cw *collectorWaits) PutObject(*simulator.Context, mo.Reference) { cw.poke() }
func (cw *collectorWaits) UpdateObject(*simulator.Context, mo.Reference, []types.PropertyChange) {
	cw.poke()
}
func (cw *collectorWaits) RemoveObject(*simulator.Context, types.ManagedObjectReference) { cw.poke() }

func (cw *collectorWaits) poke() {
	select {
	case cw.changed <- struct{}{}:
	default:
	}
}

// cancelWait ends the wait in flight with RequestCanceled, as CancelWaitForUpdates does.
func (cw *collectorWaits) cancelWait() {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if cw.cancel != nil {
		cw.cancel()
	}
}

// end cancels the wait in flight and stops listening: the collector is gone.
func (cw *collectorWaits) end() {
	cw.mu.Lock()
	cw.ended = true
	cw.mu.Unlock()
	cw.cancelWait()
	cw.registry.RemoveHandler(cw)
}

// collectorCall answers one WaitForUpdatesEx or CancelWaitForUpdates call on a collector.
// It opts out of the lock the simulator takes around a call (Lock and Unlock do nothing): on
// vCenter a collector takes new filters and a cancel while one of its waits is under way.
type collectorCall struct {
	*simulator.PropertyCollector
	waits   *collectorWaits
	session *simulator.Registry // the session's own objects: its filters and views
}

func (*collectorCall) Lock()   {}
func (*collectorCall) Unlock() {}

func (c *collectorCall) CancelWaitForUpdates(*types.CancelWaitForUpdates) soap.HasFault {
	c.waits.cancelWait()
	return &methods.CancelWaitForUpdatesBody{Res: new(types.CancelWaitForUpdatesResponse)}
}

func (c *collectorCall) WaitForUpdatesEx(ctx *simulator.Context, req *types.WaitForUpdatesEx) soap.HasFault {
	ctx.Session.Registry = c.session // the call is found; its filters are the session's
	body := &methods.WaitForUpdatesExBody{}
	fail := func(fault types.BaseMethodFault) soap.HasFault {
		body.Fault_ = simulator.Fault("", fault)
		return body
	}
	cw := c.waits
	wait, cancel := context.WithCancel(context.Background())
	oneLook, maxObjects := false, 0
	if o := req.Options; o != nil {
		if o.MaxWaitSeconds != nil {
			// "A value of 0 ... do one update calculation and return any results" (WaitOptions).
			oneLook = *o.MaxWaitSeconds == 0
			if *o.MaxWaitSeconds > 0 {
				wait, cancel = context.WithTimeout(context.Background(), time.Duration(*o.MaxWaitSeconds)*time.Second)
			}
		}
		maxObjects = int(o.MaxObjectUpdates)
	}
	defer cancel()

	cw.mu.Lock()
	switch {
	case cw.ended:
		cw.mu.Unlock()
		return fail(new(types.RequestCanceled))
	case req.Version == "":
		cw.reported = nil // a wait from the start reports everything
	case req.Version != strconv.Itoa(cw.version):
		cw.mu.Unlock()
		return fail(new(types.InvalidCollectorVersion))
	}
	if cw.cancel != nil {
		cw.cancel() // one wait at a time per collector
	}
	cw.cancel = cancel
	cw.mu.Unlock()

	for {
		select {
		case <-cw.changed: // what changed before this look is in it
		default:
		}
		set, fault := c.look(ctx, maxObjects)
		if fault != nil {
			return fail(fault)
		}
		// The first wait answers at once, with the current state.
		if set != nil || req.Version == "" {
			if set == nil {
				set = &types.UpdateSet{Version: strconv.Itoa(cw.current())}
			}
			body.Res = &types.WaitForUpdatesExResponse{Returnval: set}
			return body
		}
		if oneLook {
			body.Res = &types.WaitForUpdatesExResponse{}
			return body
		}
		select {
		case <-cw.changed:
			time.Sleep(lookInterval)
		case <-wait.Done():
			if wait.Err() == context.Canceled {
				return fail(new(types.RequestCanceled)) // CancelWaitForUpdates, or the session ended
			}
			body.Res = &types.WaitForUpdatesExResponse{} // MaxWaitSeconds ran out: no updates
			return body
		}
	}
}

func (cw *collectorWaits) current() int {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	return cw.version
}

// look reads the collector's filters and returns what changed since the last report, as the
// next version, or nil when nothing did. At most maxObjects objects are reported (0: no
// limit); the rest stay unreported until the next wait, and the set says it is truncated.
func (c *collectorCall) look(ctx *simulator.Context, maxObjects int) (*types.UpdateSet, types.BaseMethodFault) {
	var filters []types.ManagedObjectReference
	ctx.WithLock(c.PropertyCollector, func() { filters = slices.Clone(c.Filter) })

	cw := c.waits
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if cw.reported == nil {
		cw.reported = map[types.ManagedObjectReference]map[types.ManagedObjectReference]map[string]types.AnyType{}
	}
	set := &types.UpdateSet{}
	room := maxObjects
	for _, ref := range filters {
		filter, ok := ctx.Session.Get(ref).(*simulator.PropertyFilter)
		if !ok {
			continue
		}
		now, fault := c.read(ctx, filter.Spec)
		if fault != nil {
			return nil, fault
		}
		was := cw.reported[ref]
		if was == nil {
			was = map[types.ManagedObjectReference]map[string]types.AnyType{}
			cw.reported[ref] = was
		}
		update := types.PropertyFilterUpdate{Filter: ref}
		for _, obj := range now.order {
			if maxObjects > 0 && room == 0 {
				set.Truncated = types.NewBool(true)
				break
			}
			if u, changed := objectUpdate(obj, was[obj], now.props[obj]); changed {
				update.ObjectSet = append(update.ObjectSet, u)
				was[obj] = now.props[obj]
				room--
			}
		}
		for _, obj := range sortedRefs(was) {
			if _, here := now.props[obj]; here {
				continue
			}
			if maxObjects > 0 && room == 0 {
				set.Truncated = types.NewBool(true)
				break
			}
			update.ObjectSet = append(update.ObjectSet, types.ObjectUpdate{Obj: obj, Kind: types.ObjectUpdateKindLeave})
			delete(was, obj)
			room--
		}
		if len(update.ObjectSet) > 0 {
			set.FilterSet = append(set.FilterSet, update)
		}
	}
	if len(set.FilterSet) == 0 {
		return nil, nil
	}
	cw.version++
	set.Version = strconv.Itoa(cw.version)
	return set, nil
}

// objects is what a filter selects now: each object's properties, in the order read.
type objects struct {
	order []types.ManagedObjectReference
	props map[types.ManagedObjectReference]map[string]types.AnyType
}

// read retrieves what spec selects, as RetrievePropertiesEx does.
func (c *collectorCall) read(ctx *simulator.Context, spec types.PropertyFilterSpec) (objects, types.BaseMethodFault) {
	out := objects{props: map[types.ManagedObjectReference]map[string]types.AnyType{}}
	res := c.RetrievePropertiesEx(ctx, &types.RetrievePropertiesEx{SpecSet: []types.PropertyFilterSpec{spec}})
	if f := res.Fault(); f != nil {
		return out, soapMethodFault(f)
	}
	body, ok := res.(*methods.RetrievePropertiesExBody)
	if !ok || body.Res == nil || body.Res.Returnval == nil {
		return out, nil
	}
	for _, o := range body.Res.Returnval.Objects {
		props := make(map[string]types.AnyType, len(o.PropSet))
		for _, p := range o.PropSet {
			props[p.Name] = p.Val
		}
		if _, seen := out.props[o.Obj]; !seen {
			out.order = append(out.order, o.Obj)
		}
		out.props[o.Obj] = props
	}
	return out, nil
}

// objectUpdate is how obj changed from was (nil: not reported yet) to now: it entered with
// every property, or was modified in the properties whose values differ.
func objectUpdate(obj types.ManagedObjectReference, was, now map[string]types.AnyType) (types.ObjectUpdate, bool) {
	u := types.ObjectUpdate{Obj: obj, Kind: types.ObjectUpdateKindModify}
	if was == nil {
		u.Kind = types.ObjectUpdateKindEnter
	}
	for _, name := range sortedKeys(now) {
		if old, ok := was[name]; ok && reflect.DeepEqual(old, now[name]) {
			continue
		}
		u.ChangeSet = append(u.ChangeSet, types.PropertyChange{Name: name, Op: types.PropertyChangeOpAssign, Val: now[name]})
	}
	for _, name := range sortedKeys(was) {
		if _, ok := now[name]; !ok { // unset now
			u.ChangeSet = append(u.ChangeSet, types.PropertyChange{Name: name, Op: types.PropertyChangeOpAssign})
		}
	}
	return u, u.Kind == types.ObjectUpdateKindEnter || len(u.ChangeSet) > 0
}

func sortedKeys(m map[string]types.AnyType) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func sortedRefs(m map[types.ManagedObjectReference]map[string]types.AnyType) []types.ManagedObjectReference {
	refs := make([]types.ManagedObjectReference, 0, len(m))
	for r := range m {
		refs = append(refs, r)
	}
	slices.SortFunc(refs, func(a, b types.ManagedObjectReference) int {
		if a.Type != b.Type {
			return compareStrings(a.Type, b.Type)
		}
		return compareStrings(a.Value, b.Value)
	})
	return refs
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
