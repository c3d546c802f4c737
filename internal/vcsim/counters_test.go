package vcsim

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// currentTime makes one cheap call that needs a session.
func currentTime(t *testing.T, c *govmomi.Client) error {
	t.Helper()
	_, err := methods.GetCurrentTime(t.Context(), c.Client)
	return err
}

func TestInjectFaultCountsDeliveries(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	golden := goldenVM(t, c)

	never := s.InjectFault(simulator.FaultInjectionRule{
		MethodName: "InstantClone_Task", ObjectType: "VirtualMachine", ObjectName: "not-golden",
		Probability: 1, FaultType: simulator.FaultTypeInvalidState, Enabled: true,
	})
	third := s.InjectFault(simulator.FaultInjectionRule{
		MethodName: "InstantClone_Task", ObjectType: "VirtualMachine", ObjectName: GoldenVMName,
		Probability: 1, SkipCount: 2, MaxCount: 1, Enabled: true,
		FaultType: simulator.FaultTypeInsufficientResourcesFault, Message: "datastore full",
	})

	for i := range 5 {
		before := third.Delivered()
		err := cloneOnce(t, c, golden, fmt.Sprintf("counted-%d", i))
		var insufficient *types.InsufficientResourcesFault
		_, injected := fault.As(err, &insufficient)
		counted := third.Delivered() - before
		switch {
		case injected != (i == 2):
			t.Errorf("call %d: error %v; only the third call should get the fault", i+1, err)
		case injected && counted != 1:
			t.Errorf("call %d got the fault but the count went up by %d", i+1, counted)
		case !injected && counted != 0:
			t.Errorf("call %d got no fault (%v) but the count went up by %d", i+1, err, counted)
		}
		if injected && !strings.Contains(err.Error(), "datastore full") {
			t.Errorf("call %d: the fault lost the rule's message: %v", i+1, err)
		}
	}
	if got := third.Delivered(); got != 1 {
		t.Errorf("Delivered() = %d, want 1 (MaxCount)", got)
	}
	if got := third.Matched(); got != 3 {
		t.Errorf("Matched() = %d, want 3: two skipped calls and the one that got the fault", got)
	}
	if d, m := never.Delivered(), never.Matched(); d != 0 || m != 0 {
		t.Errorf("a rule for another VM delivered %d fault(s) and matched %d call(s), want none", d, m)
	}
	if got := s.FaultsDelivered("InstantClone_Task"); got != 1 {
		t.Errorf(`FaultsDelivered("InstantClone_Task") = %d, want 1`, got)
	}
	if got := s.FaultsDelivered("CloneVM_Task"); got != 0 {
		t.Errorf(`FaultsDelivered("CloneVM_Task") = %d, want 0`, got)
	}
}

func TestInjectFaultDisarm(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	inj := s.InjectFault(simulator.FaultInjectionRule{
		MethodName: "CurrentTime", ObjectType: "*", ObjectName: "*", Probability: 1, Enabled: true,
		FaultType: simulator.FaultTypeGeneric, Message: "host busy",
	})
	for i := range 2 {
		if err := currentTime(t, c); err == nil || !strings.Contains(err.Error(), "host busy") {
			t.Errorf("call %d with the rule armed: %v, want the injected fault", i+1, err)
		}
		if got := inj.Delivered(); got != i+1 {
			t.Errorf("after call %d: Delivered() = %d", i+1, got)
		}
	}
	inj.Disarm()
	if err := currentTime(t, c); err != nil {
		t.Errorf("call after Disarm: %v", err)
	}
	if got := inj.Delivered(); got != 2 {
		t.Errorf("after Disarm: Delivered() = %d, want it to stay 2", got)
	}

	// A rule that is not enabled never fires.
	off := s.InjectFault(simulator.FaultInjectionRule{
		MethodName: "CurrentTime", ObjectType: "*", ObjectName: "*", Probability: 1, FaultType: simulator.FaultTypeGeneric,
	})
	if err := currentTime(t, c); err != nil || off.Delivered() != 0 {
		t.Errorf("disabled rule: call error %v, Delivered() = %d", err, off.Delivered())
	}
}

// Many calls at once: the skip and the limit hold, and the count is exact.
// Run with -race, this also shows the counting itself is race-free.
func TestInjectFaultConcurrent(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	inj := s.InjectFault(simulator.FaultInjectionRule{
		MethodName: "CurrentTime", ObjectType: "*", ObjectName: "*", Probability: 1, Enabled: true,
		SkipCount: 3, MaxCount: 1, FaultType: simulator.FaultTypeGeneric,
	})
	const calls = 16
	errs := make([]error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() { errs[i] = currentTime(t, c) })
	}
	wg.Wait()
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
		}
	}
	if failed != 1 || inj.Delivered() != 1 || inj.Matched() != 4 {
		t.Errorf("%d calls: %d failed, Delivered() = %d, Matched() = %d; want 1, 1, 4", calls, failed, inj.Delivered(), inj.Matched())
	}
}

func TestEndSessionsCounts(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	kept, dropped := login(t, s), login(t, s)
	own, err := session.NewManager(kept.Client).UserSession(t.Context())
	if err != nil || own == nil {
		t.Fatalf("reading the kept session: %v", err)
	}
	if got := s.SessionCounts(); got != (SessionCounts{}) {
		t.Errorf("before any EndSessions: %+v", got)
	}

	n, err := s.EndSessions(t.Context(), own.Key)
	if err != nil || n != 1 {
		t.Fatalf("EndSessions = %d, %v; want the one other session ended", n, err)
	}
	// Ended, but nobody has come back with it yet; the kept session works and
	// does not count.
	if err := currentTime(t, kept); err != nil {
		t.Errorf("the kept session: %v", err)
	}
	if got := s.SessionCounts(); got != (SessionCounts{Ended: 1}) {
		t.Errorf("after EndSessions: %+v, want 1 ended, 0 used after", got)
	}

	// The dropped client's calls are refused; the first one is counted, once.
	for i := range 2 {
		if err := currentTime(t, dropped); !fault.Is(err, &types.NotAuthenticated{}) {
			t.Errorf("call %d with an ended session: %v, want NotAuthenticated", i+1, err)
		}
	}
	if got := s.SessionCounts(); got != (SessionCounts{Ended: 1, UsedAfterEnd: 1}) {
		t.Errorf("after calls with the ended session: %+v, want 1 ended, 1 used after", got)
	}

	// Logging in again gives a new session, which is not an ended one.
	if err := session.NewManager(dropped.Client).Login(t.Context(), url.UserPassword(s.Username(), s.Password())); err != nil {
		t.Fatalf("logging in again: %v", err)
	}
	if err := currentTime(t, dropped); err != nil {
		t.Errorf("after logging in again: %v", err)
	}
	if got := s.SessionCounts(); got != (SessionCounts{Ended: 1, UsedAfterEnd: 1}) {
		t.Errorf("after a new login: %+v, want it unchanged", got)
	}

	// Ending again counts the new session, which nobody used since.
	if n, err := s.EndSessions(t.Context(), own.Key); err != nil || n != 1 {
		t.Errorf("second EndSessions = %d, %v", n, err)
	}
	if got := s.SessionCounts(); got != (SessionCounts{Ended: 2, UsedAfterEnd: 1}) {
		t.Errorf("after the second EndSessions: %+v, want 2 ended, 1 used after", got)
	}
}

func TestHoldNextCall(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	arrived, release := s.HoldNextCall("CurrentTime")
	answered := make(chan error, 1)
	go func() { answered <- currentTime(t, c) }()

	<-arrived
	select {
	case err := <-answered:
		t.Fatalf("the held call was answered before release: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	// Other calls, of the same method too, go on while one is held.
	if err := currentTime(t, c); err != nil {
		t.Errorf("another call while one is held: %v", err)
	}
	select {
	case err := <-answered:
		t.Fatalf("the held call was answered before release: %v", err)
	default:
	}
	release()
	release() // harmless twice
	if err := <-answered; err != nil {
		t.Errorf("the held call after release: %v", err)
	}
}
