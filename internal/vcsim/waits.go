package vcsim

import (
	"slices"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// A session that ends takes its property collectors with it, and vCenter ends their waits
// then. govmomi's simulator lets a WaitForUpdatesEx of an ended session run on to its
// MaxWaitSeconds (and a server being closed waits for it). This ends the waits of a session
// when it is terminated or logged out, and every wait when the server closes.

// waits remembers the collectors each session has waited on.
type waits struct {
	mu        sync.Mutex
	bySession map[string]map[*simulator.PropertyCollector]bool
}

// trackWaits makes r note the collector of every WaitForUpdatesEx, and end the waits of
// the sessions a TerminateSession or Logout ends.
func (w *waits) trackWaits(r *simulator.Registry) {
	answer(r, func(ctx *simulator.Context, m *simulator.Method) mo.Reference {
		if ctx.Session == nil {
			return nil
		}
		switch m.Name {
		case "WaitForUpdatesEx":
			if pc, ok := ctx.Session.Get(m.This).(*simulator.PropertyCollector); ok {
				w.note(ctx.Session.Key, pc)
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

func (w *waits) note(session string, pc *simulator.PropertyCollector) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.bySession == nil {
		w.bySession = map[string]map[*simulator.PropertyCollector]bool{}
	}
	if w.bySession[session] == nil {
		w.bySession[session] = map[*simulator.PropertyCollector]bool{}
	}
	w.bySession[session][pc] = true
}

// end cancels the waits of the sessions given, or of every session when none is.
func (w *waits) end(sessions ...string) {
	w.mu.Lock()
	var pcs []*simulator.PropertyCollector
	for key, set := range w.bySession {
		if len(sessions) > 0 && !slices.Contains(sessions, key) {
			continue
		}
		for pc := range set {
			pcs = append(pcs, pc)
		}
		delete(w.bySession, key)
	}
	w.mu.Unlock()
	for _, pc := range pcs {
		pc.CancelWaitForUpdates(&types.CancelWaitForUpdates{This: pc.Self})
	}
}
