package provider_test

import (
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

// faultKind is one way vCenter can fail: arm sets it up before the apply of the operation
// and returns how to take it away again.
type faultKind struct {
	name string
	arm  func(t *testing.T, env *acctest.Env, op faultOp) (disarm func())
	// fails is what the apply's error says when the fault makes it fail (nil: the apply
	// succeeds); the next apply converges either way.
	fails *regexp.Regexp
	// taskLatency and provider, when set, replace the suite's task latency and add provider
	// settings: an interrupt must land while work is left to do.
	taskLatency time.Duration
	provider    string
}

// injected arms a simulator fault rule on the operation's method.
func injected(faultType simulator.FaultType, message string) func(*testing.T, *acctest.Env, faultOp) func() {
	return func(_ *testing.T, env *acctest.Env, op faultOp) func() {
		env.Server.Faults().AddRule(&simulator.FaultInjectionRule{
			MethodName: op.method, ObjectType: "*", ObjectName: "*", Probability: 1, Enabled: true,
			SkipCount: op.skip, MaxCount: 1, FaultType: faultType, Message: message,
		})
		return env.Server.Faults().ClearRules
	}
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
	{name: "transient fault", arm: injected(simulator.FaultTypeGeneric, "host busy")},
	{name: "session dropped", arm: func(t *testing.T, env *acctest.Env, _ faultOp) func() {
		return env.DropSessionsOnChange(t)
	}},
	// Ctrl-C in the middle of the apply, one task at a time so that work is left to interrupt.
	{name: "cancelled apply", arm: func(t *testing.T, env *acctest.Env, _ faultOp) func() {
		return env.InterruptApplyOnChange(t)
	}, taskLatency: 150 * time.Millisecond, provider: "max_concurrent_operations = 1",
		fails: regexp.MustCompile(`(?s)Interrupted (publishing|creating|updating|attaching|detaching|deleting) .*context\s+canceled.*next\s+apply\s+carries\s+on`)},
}

// TestAccFaults runs every workflow against every kind of fault: the apply either succeeds
// (retried, or logged in again) or fails naming the object; then the next apply converges, the
// plan after it is empty, and vCenter holds exactly what state says.
func TestAccFaults(t *testing.T) {
	acctest.PreCheck(t)
	for _, op := range faultOps {
		for _, kind := range faultKinds {
			t.Run(op.name+"/"+kind.name, func(t *testing.T) {
				// Slow tasks keep the operation going long enough to drop its session half-way.
				latency := 30 * time.Millisecond
				if kind.taskLatency > 0 {
					latency = kind.taskLatency
				}
				env := acctest.NewEnv(t, vcsim.Options{TaskLatency: latency})
				env.ProviderSettings = kind.provider
				disarm := func() {}
				fault := resource.TestStep{
					PreConfig: func() {
						if op.prepare != nil {
							op.prepare(t, env)
						}
						disarm = kind.arm(t, env, op)
					},
					Config: op.after(env),
				}
				fault.ExpectError = kind.fails
				// The pool's state is refreshed before checking: an attachment changes the pool
				// after the pool itself was applied.
				matches := resource.TestStep{RefreshState: true, Check: env.CheckInventoryMatchesState(t)}
				resource.Test(t, resource.TestCase{
					ProtoV6ProviderFactories: acctest.ProviderFactories,
					Steps: []resource.TestStep{
						{Config: op.before(env)},
						matches,
						fault,
						{PreConfig: func() { disarm() }, Config: op.after(env)},
						matches,
						{Config: op.after(env), PlanOnly: true},
					},
				})
				if t.Failed() {
					return
				}
				fmt.Printf("fault suite: %-10s × %-15s converged, inventory matches state\n", op.name, kind.name)
			})
		}
	}
}
