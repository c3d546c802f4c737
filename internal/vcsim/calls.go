package vcsim

import (
	"fmt"
	"maps"
	"slices"
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
	waiters []callWaiter
}

// callWaiter is a channel to close once remaining more calls of one of methods arrived.
// With hold set, that call waits for hold to close before the server goes on with it.
type callWaiter struct {
	methods   []string
	remaining int
	ch        chan struct{}
	hold      chan struct{}
}

func newCallLog() *callLog { return &callLog{calls: map[string]int{}} }

// observe makes r count every call it dispatches.
func (l *callLog) observe(r *simulator.Registry) {
	next := r.Handler
	r.Handler = func(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
		l.mu.Lock()
		l.calls[m.Name]++
		kept := l.waiters[:0]
		var holds []chan struct{}
		for _, w := range l.waiters {
			if slices.Contains(w.methods, m.Name) {
				w.remaining--
			}
			if w.remaining > 0 {
				kept = append(kept, w)
				continue
			}
			close(w.ch)
			if w.hold != nil {
				holds = append(holds, w.hold)
			}
		}
		l.waiters = kept
		l.mu.Unlock()
		for _, hold := range holds {
			<-hold
		}
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

// NextCall returns a channel closed when the server next answers a call of one of methods
// (for tests that act at a precise point of a client's work).
func (s *Server) NextCall(methods ...string) <-chan struct{} { return s.NthCall(1, methods...) }

// NthCall returns a channel closed when the server answers the nth call of one of methods
// from now on, counted as the calls arrive (n < 1 counts as 1).
func (s *Server) NthCall(n int, methods ...string) <-chan struct{} {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	ch := make(chan struct{})
	s.log.waiters = append(s.log.waiters, callWaiter{methods: methods, remaining: max(n, 1), ch: ch})
	return ch
}

// HoldNextCall is NextCall that also keeps that call waiting, with its session already
// checked, until release is called: a test acts at that point before the client can go on.
// release may be called more than once, and before the call arrives.
func (s *Server) HoldNextCall(methods ...string) (arrived <-chan struct{}, release func()) {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	ch, hold := make(chan struct{}), make(chan struct{})
	s.log.waiters = append(s.log.waiters, callWaiter{methods: methods, remaining: 1, ch: ch, hold: hold})
	var once sync.Once
	return ch, func() { once.Do(func() { close(hold) }) }
}

// Refused lists the calls refused so far because vCenter refuses them, as "method: fault".
func (s *Server) Refused() []string {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	return append([]string{}, s.log.refused...)
}
