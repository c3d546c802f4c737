package vcsim

import (
	"fmt"
	"maps"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// callLog counts the SOAP calls the server answers, by method, and keeps the calls it refused
// because vCenter would have (the rules of rules.go and instantclone.go), so a test can show
// that the provider sends only what vCenter takes.
type callLog struct {
	mu      sync.Mutex
	calls   map[string]int
	refused []string
}

func newCallLog() *callLog { return &callLog{calls: map[string]int{}} }

// observe makes r count every call it dispatches.
func (l *callLog) observe(r *simulator.Registry) {
	next := r.Handler
	r.Handler = func(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
		l.mu.Lock()
		l.calls[m.Name]++
		l.mu.Unlock()
		if next != nil {
			return next(ctx, m)
		}
		return nil, nil
	}
}

// refuse records a call refused with fault f.
func (l *callLog) refuse(method string, f types.BaseMethodFault) {
	l.mu.Lock()
	defer l.mu.Unlock()
	what := fmt.Sprintf("%s: %T", method, f)
	if ia, ok := f.(*types.InvalidArgument); ok {
		what += " " + ia.InvalidProperty
	}
	l.refused = append(l.refused, what)
}

// Calls counts the SOAP calls answered so far, by method.
func (s *Server) Calls() map[string]int {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	return maps.Clone(s.log.calls)
}

// Refused lists the calls refused so far because vCenter refuses them, as "method: fault".
func (s *Server) Refused() []string {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	return append([]string{}, s.log.refused...)
}
