package provider_test

import (
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/vmware/govmomi/simulator"

	"github.com/instantclone/terraform-provider-instantclone/internal/acctest"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// faultOp is one workflow: the configuration before it and the one that runs it, and the
// vCenter method whose failure hurts it most.
type faultOp struct {
	name          string
	before, after func(env *acctest.Env) string
	method        string
	skip          int // calls of method to let through before the fault
	// prepare, when set, changes vCenter behind the provider's back before the operation.
	prepare func(t *testing.T, env *acctest.Env)
}

// faultKind is one way vCenter can fail: arm sets it up before the apply of the operation.
type faultKind struct {
	name string
	arm  func(t *testing.T, env *acctest.Env, op faultOp) armed
	// preCheck, when set, skips the cell where the fault cannot be made.
	preCheck func(t *testing.T)
	// fails is what the apply's error says when the fault makes it fail (nil: the apply
	// succeeds); the next apply converges either way.
	fails *regexp.Regexp
	// taskLatency and provider, when set, replace the suite's task latency and add provider
	// settings: an interrupt must land while work is left to do.
	taskLatency time.Duration
	provider    string
}

// armed is a fault set up for the apply of an operation.
type armed struct {
	// disarm takes the fault away; nothing fires after it returns.
	disarm func()
	// fired, called after disarm, says what the fault did to the apply, or how it failed to
	// reach it.
	fired func() (string, error)
}

// injected arms a simulator fault rule on the operation's method; the simulator counts the
// faults the rule delivers.
func injected(faultType simulator.FaultType, message string) func(*testing.T, *acctest.Env, faultOp) armed {
	return func(_ *testing.T, env *acctest.Env, op faultOp) armed {
		rule := env.Server.InjectFault(simulator.FaultInjectionRule{
			MethodName: op.method, ObjectType: "*", ObjectName: "*", Probability: 1, Enabled: true,
			SkipCount: op.skip, MaxCount: 1, FaultType: faultType, Message: message,
		})
		return armed{disarm: rule.Disarm, fired: func() (string, error) {
			if rule.Delivered() == 0 {
				return "", fmt.Errorf("the simulator delivered no %s fault (%d call(s) matched, the first %d to let through)",
					op.method, rule.Matched(), op.skip)
			}
			return fmt.Sprintf("%d %s fault(s) delivered", rule.Delivered(), op.method), nil
		}}
	}
}

// dropSessions ends the provider's vCenter sessions in the middle of the apply. It fired if
// the provider called vCenter again with a session that had been ended: it was using it.
func dropSessions(t *testing.T, env *acctest.Env, _ faultOp) armed {
	before := env.Server.SessionCounts()
	trigger := env.DropSessionsOnChange(t)
	return armed{disarm: trigger.Stop, fired: func() (string, error) {
		now := env.Server.SessionCounts()
		ended, used := now.Ended-before.Ended, now.UsedAfterEnd-before.UsedAfterEnd
		switch {
		case !trigger.Fired():
			return "", errors.New("no session was ended: the number of VMs did not change while the apply ran, or ending failed")
		case ended == 0:
			return "", errors.New("no session was ended: only the test's own was open")
		case used == 0:
			return "", fmt.Errorf("%d session(s) ended, but the provider made no call with any of them afterwards", ended)
		}
		return fmt.Sprintf("%d session(s) ended, %d in use", ended, used), nil
	}}
}

// interrupt sends the CLI's apply a Ctrl-C in the middle of the operation.
func interrupt(t *testing.T, env *acctest.Env, _ faultOp) armed {
	trigger := env.InterruptApplyOnChange(t)
	return armed{disarm: trigger.Stop, fired: func() (string, error) {
		if !trigger.Fired() {
			return "", errors.New("no apply was interrupted: the number of VMs did not change while it ran, or no apply was found")
		}
		return "apply interrupted", nil
	}}
}

func faultPool(env *acctest.Env, image string, size int, attach bool) string {
	cfg := twoImages(env) + poolHCL(env, poolArgs{
		label: "test", name: "ft", image: image, datastores: []string{env.Datastore(0), env.Datastore(1)}, size: size,
	})
	if attach {
		cfg += attachHCL("extra", env.Datastore(2), "immediate")
	}
	return cfg
}

var faultOps = []faultOp{
	{name: "publish", method: "CloneVM_Task",
		before: func(env *acctest.Env) string { return env.ProviderBlock() },
		after:  func(env *acctest.Env) string { return twoImages(env) }},
	{name: "create", method: "InstantClone_Task", skip: 2,
		before: func(env *acctest.Env) string { return twoImages(env) },
		after:  func(env *acctest.Env) string { return faultPool(env, "a", 6, false) }},
	{name: "resize", method: "InstantClone_Task", skip: 1,
		before: func(env *acctest.Env) string { return faultPool(env, "a", 6, false) },
		after:  func(env *acctest.Env) string { return faultPool(env, "a", 9, false) }},
	// A parent powered off behind the provider's back is powered on again before clones fork from it.
	{name: "power-on", method: "PowerOnVM_Task", skip: 0,
		prepare: func(t *testing.T, env *acctest.Env) { env.PowerOff(t, acctest.WithPrefix(env.VMs(t), "cp-parent-")...) },
		before:  func(env *acctest.Env) string { return faultPool(env, "a", 6, false) },
		after:   func(env *acctest.Env) string { return faultPool(env, "a", 9, false) }},
	{name: "push-image", method: "InstantClone_Task", skip: 2,
		before: func(env *acctest.Env) string { return faultPool(env, "a", 6, false) },
		after:  func(env *acctest.Env) string { return faultPool(env, "b", 6, false) }},
	{name: "rebalance", method: "InstantClone_Task", skip: 0,
		before: func(env *acctest.Env) string { return faultPool(env, "a", 6, false) },
		after:  func(env *acctest.Env) string { return faultPool(env, "a", 6, true) }},
	{name: "detach", method: "InstantClone_Task", skip: 0,
		before: func(env *acctest.Env) string { return faultPool(env, "a", 6, true) },
		after:  func(env *acctest.Env) string { return faultPool(env, "a", 6, false) }},
	{name: "delete", method: "Destroy_Task", skip: 2,
		before: func(env *acctest.Env) string { return faultPool(env, "a", 6, false) },
		after:  func(env *acctest.Env) string { return twoImages(env) }},
}

var faultKinds = []faultKind{
	{name: "failed task", arm: injected(simulator.FaultTypeInsufficientResourcesFault, "datastore full"),
		fails: regexp.MustCompile(`(?s)(ft-\d+|cp-template-img-[0-9a-f]+|vm-\d+).*InsufficientResourcesFault:.*datastore\s+full`)},
	// A SystemError vCenter raises when a host was out of reach for a moment: retried.
	{name: "transient fault", arm: injected(simulator.FaultTypeTimeout, "host busy")},
	// Tasks that take a moment, so that the apply is still running when the sessions end.
	{name: "session dropped", arm: dropSessions, taskLatency: 50 * time.Millisecond},
	// Ctrl-C in the middle of the apply, one task at a time so that work is left to interrupt.
	{name: "cancelled apply", arm: interrupt, preCheck: acctest.PreCheckInterrupt,
		taskLatency: 150 * time.Millisecond, provider: "max_concurrent_operations = 1",
		fails: regexp.MustCompile(`(?s)Interrupted (publishing|creating|updating|attaching|detaching|deleting) .*context\s+canceled.*next\s+apply\s+carries\s+on`)},
}

// TestAccFaults runs every workflow against every kind of fault: the fault fires during the
// apply, which either succeeds (retried, or logged in again) or fails naming the object; then
// the next apply converges, the plan after it is empty, and vCenter holds exactly what state
// says.
func TestAccFaults(t *testing.T) {
	acctest.PreCheck(t)
	for _, op := range faultOps {
		for _, kind := range faultKinds {
			t.Run(op.name+"/"+kind.name, func(t *testing.T) {
				if kind.preCheck != nil {
					kind.preCheck(t)
				}
				// Slow tasks keep the operation going long enough to drop its session half-way.
				latency := 30 * time.Millisecond
				if kind.taskLatency > 0 {
					latency = kind.taskLatency
				}
				env := acctest.NewEnv(t, vcsim.Options{TaskLatency: latency})
				env.ProviderSettings = kind.provider
				// The fault is taken away before the next apply, and the cell fails unless it
				// fired; also when the fault step itself fails and ends the test.
				var fault armed
				checked, what := false, ""
				checkFired := func() {
					if checked || fault.fired == nil {
						return
					}
					checked = true
					fault.disarm()
					var err error
					if what, err = fault.fired(); err != nil {
						t.Errorf("%s × %s: the fault never fired: %v", op.name, kind.name, err)
					}
				}
				defer checkFired()
				faultStep := resource.TestStep{
					PreConfig: func() {
						if op.prepare != nil {
							op.prepare(t, env)
						}
						fault = kind.arm(t, env, op)
					},
					Config:      op.after(env),
					ExpectError: kind.fails,
				}
				// The pool's state is refreshed before checking: an attachment changes the pool
				// after the pool itself was applied.
				matches := resource.TestStep{RefreshState: true, Check: env.CheckInventoryMatchesState(t)}
				resource.Test(t, resource.TestCase{
					ProtoV6ProviderFactories: acctest.ProviderFactories,
					Steps: []resource.TestStep{
						{Config: op.before(env)},
						matches,
						faultStep,
						{PreConfig: checkFired, Config: op.after(env)},
						matches,
						{Config: op.after(env), PlanOnly: true},
					},
				})
				if t.Failed() {
					return
				}
				fmt.Printf("fault suite: %-10s × %-15s converged, inventory matches state (%s)\n", op.name, kind.name, what)
			})
		}
	}
}
