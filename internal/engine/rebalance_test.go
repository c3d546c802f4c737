package engine_test

import (
	"context"
	"errors"
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine/fake"
)

// TestAttachDetach: attaching a datastore with "immediate" moves the fewest clones that
// balance the pool; "on_provision" moves none; detaching evacuates the datastore and its
// internal VMs go.
func TestAttachDetach(t *testing.T) {
	tests := []struct {
		policy      string
		moved       int
		afterAttach string
	}{
		{engine.RebalanceImmediate, 4, "datastore-1=4 datastore-2=4 datastore-3=4"},
		{engine.RebalanceOnProvision, 0, "datastore-1=6 datastore-2=6 datastore-3=0"},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			ctx := context.Background()
			f := newOnFake(t, fake.Options{})
			ds := f.vc.Datastores()[:3]
			id := f.create(t, poolSpec("p", f.image(t, "a"), 12, ds[:2]...)).ID
			clonesBefore := f.vc.Calls("InstantClone")
			if _, err := f.engine.Attach(ctx, id, ds[2], tt.policy); err != nil {
				t.Fatal(err)
			}
			if got := f.vc.Calls("InstantClone") - clonesBefore; got != tt.moved {
				t.Errorf("attach moved %d clones, want %d", got, tt.moved)
			}
			if got := spread(f.clones(id), ds); got != tt.afterAttach {
				t.Errorf("after attach: %s, want %s", got, tt.afterAttach)
			}
			if err := f.engine.Detach(ctx, id, ds[2], ""); err != nil {
				t.Fatal(err)
			}
			if got := spread(f.clones(id), ds); got != "datastore-1=6 datastore-2=6 datastore-3=0" {
				t.Errorf("after detach: %s", got)
			}
			for _, folder := range []string{engine.ReplicaFolder, engine.ParentFolder} {
				for _, vm := range f.internal(folder) {
					if vm.Datastore == ds[2] {
						t.Errorf("internal VM %s stays on the detached datastore", vm.Name)
					}
				}
			}
			f.checkPool(t, id, 12)
		})
	}
}

// TestAttachBadInput: unknown pools, unknown datastores and datastores already attached are
// input errors on the attribute to change.
func TestAttachBadInput(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	ds := f.vc.Datastores()
	id := f.create(t, poolSpec("p", f.image(t, "a"), 4, ds[0])).ID
	tests := []struct {
		name, pool, datastore, attr string
	}{
		{"unknown pool", "group-v999", ds[1], "pool_id"},
		{"in datastore_ids", id, ds[0], "datastore_id"},
		{"unknown datastore", id, "datastore-99", "datastore_ids"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.engine.Attach(ctx, tt.pool, tt.datastore, "")
			if ie, ok := engine.AsInputError(err); !ok || ie.Attribute != tt.attr {
				t.Fatalf("want an input error on %s, got %v", tt.attr, err)
			}
		})
	}
}

// TestEvacuateStrayClone: a clone moved to a datastore the pool does not use is drift, and
// the next apply recreates it on an attached one under its own name.
func TestEvacuateStrayClone(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	ds := f.vc.Datastores()
	spec := poolSpec("p", f.image(t, "a"), 4, ds[:2]...)
	id := f.create(t, spec).ID
	stray := f.clones(id)[0]
	f.vc.Tamper(stray.ID, func(vm *engine.VM) { vm.Datastore, vm.Datastores = ds[3], []string{ds[3]} })
	p, err := f.engine.ReadPool(ctx, id, engine.LastSeen{})
	if err != nil {
		t.Fatal(err)
	}
	if !hasDrift(p, "not attached") {
		t.Fatalf("drift %q does not report the stray clone", p.Drift)
	}
	if _, err := f.engine.ApplyPool(ctx, id, spec); err != nil {
		t.Fatal(err)
	}
	if got := spread(f.clones(id), ds[:2]); got != "datastore-1=2 datastore-2=2" {
		t.Fatalf("after repair: %s", got)
	}
	f.checkPool(t, id, 4)
}

// TestCloneOnAnotherHost: a clone vCenter runs on a host the pool does not use for its
// datastore (placed elsewhere than its parent, or moved there) is drift, and the next apply
// recreates it where the pool's parents are.
func TestCloneOnAnotherHost(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{Hosts: 3})
	spec := poolSpec("p", f.image(t, "a"), 4, "datastore-1")
	id := f.create(t, spec).ID
	// The pool uses all three hosts; a host outside the cluster is none of them.
	moved := f.clones(id)[0]
	f.vc.Tamper(moved.ID, func(vm *engine.VM) { vm.Host = "host-99" })
	p, err := f.engine.ReadPool(ctx, id, engine.LastSeen{})
	if err != nil {
		t.Fatal(err)
	}
	if !hasDrift(p, "on a host the pool does not use") {
		t.Fatalf("drift %q does not name the clone on another host", p.Drift)
	}
	if _, err := f.engine.ApplyPool(ctx, id, spec); err != nil {
		t.Fatal(err)
	}
	for _, c := range f.clones(id) {
		if c.Host == "host-99" {
			t.Fatalf("clone %s still runs on host-99", c.Name)
		}
	}
	f.checkPool(t, id, 4)
}

// TestDetachCutShort: a detach that moved the clones but failed before the internal VMs on
// the datastore were collected still shows the datastore attached (leaving), so detaching
// again is not skipped and finishes the collection.
func TestDetachCutShort(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	ds := f.vc.Datastores()[:3]
	id := f.create(t, poolSpec("p", f.image(t, "a"), 12, ds[:2]...)).ID
	if _, err := f.engine.Attach(ctx, id, ds[2], engine.RebalanceImmediate); err != nil {
		t.Fatal(err)
	}
	onLeaving := map[string]bool{}
	for _, folder := range []string{engine.ReplicaFolder, engine.ParentFolder} {
		for _, vm := range f.internal(folder) {
			if vm.Datastore == ds[2] {
				onLeaving[vm.ID] = true
			}
		}
	}
	fault := f.vc.Inject(&fake.Fault{Method: "RemoveVM", Err: errors.New("SystemError: vCenter went away"),
		Match: func(arg any) bool { id, _ := arg.(string); return onLeaving[id] }})
	if err := f.engine.Detach(ctx, id, ds[2], ""); err == nil || fault.Fired == 0 {
		t.Fatalf("detach with its collection failing: %v (fault fired %d times)", err, fault.Fired)
	}
	if got := spread(f.clones(id), ds); got != "datastore-1=6 datastore-2=6 datastore-3=0" {
		t.Fatalf("the cut-short detach moved the clones to %s", got)
	}
	if attached, err := f.engine.Attached(ctx, id, ds[2]); err != nil || !attached {
		t.Fatalf("after the cut-short detach: attached %v (%v), want it still recorded while leaving", attached, err)
	}
	fault.Count = fault.Fired // it fires no more
	if err := f.engine.Detach(ctx, id, ds[2], ""); err != nil {
		t.Fatal(err)
	}
	for _, folder := range []string{engine.ReplicaFolder, engine.ParentFolder} {
		for _, vm := range f.internal(folder) {
			if vm.Datastore == ds[2] {
				t.Errorf("internal VM %s stays on the detached datastore", vm.Name)
			}
		}
	}
	if attached, _ := f.engine.Attached(ctx, id, ds[2]); attached {
		t.Error("the datastore is still recorded after the detach finished")
	}
	f.checkPool(t, id, 12)
}
