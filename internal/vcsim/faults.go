package vcsim

import (
	"math/rand/v2"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
)

// Injection is a fault rule armed with Server.InjectFault. It counts the
// faults it delivers, so a test can tell a fault that fired from one that
// never did.
//
// govmomi's own rules count their hits too, but only in unexported fields,
// written under the injector's read lock (so concurrent calls race on them)
// and reported by rule position through GetStats. An Injection keeps its own
// counts instead, behind its own lock: the rule's SkipCount, MaxCount and
// Probability move into the Injection, which decides in the last filter the
// simulator evaluates before it answers with the fault (the rule's
// ExclusionPropertyFilter). Once that filter lets a call through, the rule
// left in the simulator has no probability, skip or limit of its own to
// apply, so the simulator answers that call with the rule's fault: a count
// is a fault delivered.
type Injection struct {
	method string

	mu          sync.Mutex
	skip, limit int
	probability float64
	matched     int // calls that matched the rule, skipped ones included
	delivered   int
	disarmed    bool
}

// InjectFault arms rule on the server's fault injector and returns the
// handle that counts the faults it delivers. The rule's fields mean what they
// mean to govmomi's simulator.FaultInjector (MethodName, ObjectType and
// ObjectName, the property filters, Probability, SkipCount, MaxCount,
// FaultType, Fault, Message, Delay, Enabled). The rule is copied: changing
// it afterwards has no effect.
//
// Rules added to Faults() directly still work but are not counted.
func (s *Server) InjectFault(rule simulator.FaultInjectionRule) *Injection {
	inj := &Injection{
		method:      rule.MethodName,
		skip:        rule.SkipCount,
		limit:       rule.MaxCount,
		probability: rule.Probability,
	}
	exclude := rule.ExclusionPropertyFilter
	rule.ExclusionPropertyFilter = func(obj mo.Reference) bool {
		if exclude != nil && exclude(obj) {
			return true
		}
		return !inj.fire()
	}
	// Float64 is below 1, so the simulator's own probability check always
	// passes; with no skip and no limit it delivers every call fire lets through.
	rule.Probability, rule.SkipCount, rule.MaxCount = 1, 0, 0

	s.faultsMu.Lock()
	s.injections = append(s.injections, inj)
	s.faultsMu.Unlock()
	s.Faults().AddRule(&rule)
	return inj
}

// fire decides, for a call that matched the rule's method, object and
// filters, whether the fault is delivered, the way govmomi's FaultInjector
// decides it: limit, then probability, then skip.
func (i *Injection) fire() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.disarmed || (i.limit > 0 && i.delivered >= i.limit) {
		return false
	}
	if rand.Float64() > i.probability {
		return false
	}
	i.matched++
	if i.matched <= i.skip {
		return false
	}
	i.delivered++
	return true
}

// Delivered is how many faults the rule has delivered so far.
func (i *Injection) Delivered() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.delivered
}

// Matched is how many calls matched the rule (method, object, filters and
// probability) while it could still deliver, the skipped ones included.
func (i *Injection) Matched() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.matched
}

// Disarm stops the rule from delivering any more faults; its counts stay.
// Faults().ClearRules has the same effect on every rule.
func (i *Injection) Disarm() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.disarmed = true
}

// FaultsDelivered is how many faults the rules armed with InjectFault for
// method (a rule's MethodName, "*" for the rules on every method) have
// delivered.
func (s *Server) FaultsDelivered(method string) int {
	s.faultsMu.Lock()
	injections := append([]*Injection(nil), s.injections...)
	s.faultsMu.Unlock()
	n := 0
	for _, inj := range injections {
		if inj.method == method {
			n += inj.Delivered()
		}
	}
	return n
}
