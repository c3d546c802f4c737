package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine/fake"
)

// onHost lists the pool's clones and the image's parents on a host.
func (f *onFake) onHost(poolID, host string) (clones, parents []string) {
	return f.placed(poolID, func(vm engine.VM) bool { return vm.Host == host }, engine.ParentFolder)
}

// placed lists, by name, the pool's clones and the internal VMs in the given ClonePrep
// folders that are where says.
func (f *onFake) placed(poolID string, where func(engine.VM) bool, folders ...string) (clones, internal []string) {
	for _, vm := range f.clones(poolID) {
		if where(vm) {
			clones = append(clones, vm.Name)
		}
	}
	for _, folder := range folders {
		for _, vm := range f.internal(folder) {
			if where(vm) {
				internal = append(internal, vm.Name)
			}
		}
	}
	return clones, internal
}

func (f *onFake) drift(t *testing.T, poolID string) string {
	t.Helper()
	p, err := f.engine.ReadPool(context.Background(), poolID, engine.LastSeen{})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(p.Drift, "; ")
}

// TestHostMaintenance: a host entering maintenance mode is drift; apply moves its clones to
// the other host and removes its parents, a resize meanwhile puts nothing there, and when the
// host is back an immediate apply spreads the clones over both again.
func TestHostMaintenance(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	spec := poolSpec("d", f.image(t, "a"), 6, "datastore-1", "datastore-2")
	p := f.create(t, spec)
	if clones, parents := f.onHost(p.ID, "host-1"); len(clones) != 3 || len(parents) != 2 {
		t.Fatalf("before: host-1 holds clones %v and parents %v, want 3 and 2", clones, parents)
	}

	f.vc.SetHostState("host-1", "entering maintenance mode")
	drift := f.drift(t, p.ID)
	for _, want := range []string{"3 clone(s) on a host that takes no VM now", "2 parent VM(s) on a host that takes no VM now", "entering maintenance mode"} {
		if !strings.Contains(drift, want) {
			t.Errorf("drift %q does not say %q", drift, want)
		}
	}
	if _, err := f.engine.ApplyPool(ctx, p.ID, spec); err != nil {
		t.Fatal(err)
	}
	f.checkPool(t, p.ID, 6)
	if clones, parents := f.onHost(p.ID, "host-1"); len(clones)+len(parents) != 0 {
		t.Fatalf("after the apply host-1 still holds clones %v and parents %v", clones, parents)
	}
	spec.Size = 8
	if _, err := f.engine.ApplyPool(ctx, p.ID, spec); err != nil {
		t.Fatal(err)
	}
	f.checkPool(t, p.ID, 8)
	if clones, _ := f.onHost(p.ID, "host-1"); len(clones) != 0 {
		t.Fatalf("the resize put %v on host-1, which is entering maintenance mode", clones)
	}

	f.vc.SetHostState("host-1", "")
	if drift := f.drift(t, p.ID); !strings.Contains(drift, "unbalanced across hosts") {
		t.Fatalf("host-1 back: drift %q, want the hosts unbalanced", drift)
	}
	if _, err := f.engine.ApplyPool(ctx, p.ID, spec); err != nil {
		t.Fatal(err)
	}
	f.checkPool(t, p.ID, 8)
	if clones, parents := f.onHost(p.ID, "host-1"); len(clones) != 4 || len(parents) != 2 {
		t.Fatalf("after host-1 came back: clones %v and parents %v on it, want 4 and 2", clones, parents)
	}
}

// TestHostJoins: a host added to the cluster takes its share at the next immediate apply.
func TestHostJoins(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	spec := poolSpec("d", f.image(t, "a"), 6, "datastore-1")
	p := f.create(t, spec)
	f.vc.AddHost("host-3")
	if drift := f.drift(t, p.ID); !strings.Contains(drift, "unbalanced across hosts") {
		t.Fatalf("drift %q, want the hosts unbalanced", drift)
	}
	if _, err := f.engine.ApplyPool(ctx, p.ID, spec); err != nil {
		t.Fatal(err)
	}
	f.checkPool(t, p.ID, 6)
	if clones, _ := f.onHost(p.ID, "host-3"); len(clones) != 2 {
		t.Fatalf("host-3 holds %v, want 2 clones", clones)
	}
}

// TestNoUsableHost: with every host out, an apply fails naming the hosts and their states,
// and changes nothing.
func TestNoUsableHost(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	spec := poolSpec("d", f.image(t, "a"), 2, "datastore-1")
	p := f.create(t, spec)
	f.vc.SetHostState("host-1", "in maintenance mode")
	f.vc.SetHostState("host-2", "disconnected")
	before := f.vc.Calls("InstantClone") + f.vc.Calls("RemoveVM")
	spec.Size = 4
	_, err := f.engine.ApplyPool(ctx, p.ID, spec)
	ie, ok := engine.AsInputError(err)
	if !ok || ie.Attribute != "resource_pool_id" || !strings.Contains(ie.Detail, "host-1 (in maintenance mode)") || !strings.Contains(ie.Detail, "host-2 (disconnected)") {
		t.Fatalf("apply with no usable host: %v", err)
	}
	if n := f.vc.Calls("InstantClone") + f.vc.Calls("RemoveVM") - before; n != 0 {
		t.Errorf("%d VMs made or removed with no usable host", n)
	}
}
