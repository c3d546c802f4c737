package vcsim

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// FreezeAfterKnob is the extraConfig key of a VM whose simulated guest freezes itself once it
// has run that long after power-on (a Go duration, "300ms"), as a real guest does by running
// `vmware-rpctool instantclone.freeze` once it is prepared (vSphere Web Services SDK
// programming guide, "Run State of the Instant Clone Source"): runtime.instantCloneFrozen
// turns true. A test sets it on the golden VM; the image's template, replicas and parents
// copy it as clones copy extraConfig. Instant clones of a VM do not inherit it: their guests
// run. A VM powered off is no longer frozen.
const FreezeAfterKnob = "vcsim.guest.freezeAfter"

// freezingGuests plays the guests that carry FreezeAfterKnob. It looks at them at every call
// the server answers, before the call itself, so that what a call reads is what a guest
// running all along would have done by then. It sleeps until a reconfigure first sets the
// knob: other tests pay nothing for it.
type freezingGuests struct {
	armed atomic.Bool
	mu    sync.Mutex
	on    map[types.ManagedObjectReference]time.Time // since when each knob VM runs
}

func enableFreezingGuests(r *simulator.Registry) {
	g := &freezingGuests{on: map[types.ManagedObjectReference]time.Time{}}
	next := r.Handler
	r.Handler = func(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
		if req, ok := m.Body.(*types.ReconfigVM_Task); ok {
			if _, set := freezeAfter(req.Spec.ExtraConfig); set {
				g.armed.Store(true)
			}
		}
		if g.armed.Load() {
			g.tick(ctx)
		}
		if next != nil {
			return next(ctx, m)
		}
		return nil, nil
	}
}

// tick freezes the knob VMs that have run long enough, and thaws those powered off.
func (g *freezingGuests) tick(ctx *simulator.Context) {
	now := time.Now()
	for _, obj := range ctx.Map.All("VirtualMachine") {
		vm, ok := obj.(*simulator.VirtualMachine)
		if !ok {
			continue
		}
		ctx.WithLock(vm, func() {
			after, set := freezeAfter(vm.Config.ExtraConfig)
			frozen := vm.Runtime.InstantCloneFrozen != nil && *vm.Runtime.InstantCloneFrozen
			g.mu.Lock()
			defer g.mu.Unlock()
			if !set || vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
				delete(g.on, vm.Self)
				if frozen {
					setFrozen(ctx, vm, false)
				}
				return
			}
			since, seen := g.on[vm.Self]
			if !seen {
				g.on[vm.Self] = now
				return
			}
			if !frozen && now.Sub(since) >= after {
				setFrozen(ctx, vm, true)
			}
		})
	}
}

func setFrozen(ctx *simulator.Context, vm *simulator.VirtualMachine, frozen bool) {
	vm.Runtime.InstantCloneFrozen = &frozen
	vm.Summary.Runtime.InstantCloneFrozen = &frozen
	ctx.Map.Update(ctx, vm, []types.PropertyChange{
		{Name: "runtime.instantCloneFrozen", Val: frozen},
		{Name: "summary.runtime.instantCloneFrozen", Val: frozen},
	})
}

// freezeAfter reads the knob from extraConfig.
func freezeAfter(options []types.BaseOptionValue) (time.Duration, bool) {
	for _, o := range options {
		if ov := o.GetOptionValue(); ov != nil && ov.Key == FreezeAfterKnob {
			if s, ok := ov.Value.(string); ok {
				if d, err := time.ParseDuration(s); err == nil {
					return d, true
				}
			}
		}
	}
	return 0, false
}
