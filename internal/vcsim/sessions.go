package vcsim

import (
	"context"
	"fmt"
	"slices"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// SessionCounts tell what EndSessions did to the clients of a server.
type SessionCounts struct {
	// Ended is how many sessions EndSessions ended.
	Ended int
	// UsedAfterEnd is how many of those a client called with after they ended:
	// the simulator found no session for the call's cookie, so the client was
	// still relying on it and had to log in again.
	UsedAfterEnd int
}

// EndSessions ends every session of the server except those whose keys are
// in keep, one at a time, as when vCenter restarts or an administrator
// terminates sessions, and returns how many it ended. A session that logs
// out on its own meanwhile is not counted.
func (s *Server) EndSessions(ctx context.Context, keep ...string) (int, error) {
	ref := *s.local.ServiceContent.SessionManager
	var sm mo.SessionManager
	if err := property.DefaultCollector(s.local).RetrieveOne(ctx, ref, []string{"sessionList"}, &sm); err != nil {
		return 0, fmt.Errorf("vcsim: listing sessions: %w", err)
	}
	ended := 0
	for _, us := range sm.SessionList {
		if slices.Contains(keep, us.Key) {
			continue
		}
		// Marked first: a call with this cookie may arrive the moment the
		// session is gone.
		s.markEnded(us.Key, true)
		_, err := methods.TerminateSession(ctx, s.local, &types.TerminateSession{This: ref, SessionId: []string{us.Key}})
		if err != nil {
			s.markEnded(us.Key, false)
			if fault.Is(err, &types.NotFound{}) {
				continue // logged out meanwhile
			}
			return ended, fmt.Errorf("vcsim: terminating session %s: %w", us.UserName, err)
		}
		ended++
	}
	return ended, nil
}

// SessionCounts reports what EndSessions has done so far.
func (s *Server) SessionCounts() SessionCounts {
	s.sessionsMu.Lock()
	defer s.sessionsMu.Unlock()
	c := SessionCounts{Ended: len(s.ended)}
	for _, used := range s.ended {
		if used {
			c.UsedAfterEnd++
		}
	}
	return c
}

func (s *Server) markEnded(key string, ended bool) {
	s.sessionsMu.Lock()
	defer s.sessionsMu.Unlock()
	if !ended {
		delete(s.ended, key)
		return
	}
	if s.ended == nil {
		s.ended = map[string]bool{}
		s.pending = map[*simulator.Context]string{}
	}
	s.ended[key] = false
	s.anyEnded.Store(true)
}

// observeSessions makes r report the calls made with a session EndSessions
// ended. The simulator maps each HTTP request's cookie to a session through
// r.Cookie and then dispatches the call through r.Handler with the session it
// found, or none; the same *simulator.Context links the two. Neither hook
// changes what the simulator does, and both are idle until a session has
// been ended.
func (s *Server) observeSessions(r *simulator.Registry) {
	cookie := r.Cookie
	if cookie == nil {
		cookie = simulator.HTTPCookie
	}
	r.Cookie = func(ctx *simulator.Context) string {
		key := cookie(ctx)
		if s.anyEnded.Load() {
			s.sessionsMu.Lock()
			if _, ok := s.ended[key]; ok {
				s.pending[ctx] = key
			}
			s.sessionsMu.Unlock()
		}
		return key
	}
	next := r.Handler
	r.Handler = func(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
		if s.anyEnded.Load() {
			s.sessionsMu.Lock()
			if key, ok := s.pending[ctx]; ok {
				delete(s.pending, ctx)
				if _, still := s.ended[key]; still && ctx.Session == nil {
					s.ended[key] = true
				}
			}
			s.sessionsMu.Unlock()
		}
		if next != nil {
			return next(ctx, m)
		}
		return nil, nil
	}
}
