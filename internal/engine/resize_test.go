package engine_test

import (
	"context"
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine/fake"
)

// TestResize: growing adds only the missing numbers on the least-loaded datastores, shrinking
// removes the highest numbers; neither recreates a clone that stays, and every step ends
// balanced within one.
func TestResize(t *testing.T) {
	steps := []struct {
		size      int
		spread    string
		created   int // instant clones made by this step
		removed   int
		remaining []string // a few clone names that must exist after it
	}{
		{10, "datastore-1=3 datastore-2=3 datastore-3=2 datastore-4=2", 10, 0, []string{"d-1", "d-10"}},
		{13, "datastore-1=4 datastore-2=3 datastore-3=3 datastore-4=3", 3, 0, []string{"d-11", "d-13"}},
		{5, "datastore-1=1 datastore-2=2 datastore-3=1 datastore-4=1", 0, 8, []string{"d-1", "d-5"}},
		{0, "datastore-1=0 datastore-2=0 datastore-3=0 datastore-4=0", 0, 5, nil},
	}
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	img := f.image(t, "img")
	ds := f.vc.Datastores()
	spec := poolSpec("d", img, steps[0].size, ds...)
	id := f.create(t, spec).ID
	for i, s := range steps {
		if i > 0 {
			clonesBefore, removesBefore := f.vc.Calls("InstantClone"), f.vc.Calls("RemoveVM")
			spec.Size = s.size
			if _, err := f.engine.ApplyPool(ctx, id, spec); err != nil {
				t.Fatalf("resize to %d: %v", s.size, err)
			}
			if got := f.vc.Calls("InstantClone") - clonesBefore; got != s.created {
				t.Errorf("resize to %d made %d clones, want %d", s.size, got, s.created)
			}
			// Removing internal VMs no pool needs counts too once the pool is empty.
			if got := f.vc.Calls("RemoveVM") - removesBefore; s.size > 0 && got != s.removed {
				t.Errorf("resize to %d removed %d VMs, want %d", s.size, got, s.removed)
			}
		}
		clones := f.clones(id)
		if got := spread(clones, ds); got != s.spread {
			t.Errorf("size %d: spread %s, want %s", s.size, got, s.spread)
		}
		have := map[string]bool{}
		for _, n := range names(clones) {
			have[n] = true
		}
		for _, n := range s.remaining {
			if !have[n] {
				t.Errorf("size %d: clone %s missing; have %v", s.size, n, names(clones))
			}
		}
		f.checkPool(t, id, s.size)
	}
	// A pool resized to 0 keeps its running parents, so that it can grow again at once;
	// deleting the pool removes them.
	if parents := f.internal("ClonePrepParentVmFolder"); len(parents) != 8 {
		t.Errorf("an empty pool has parents %v, want one per datastore and host", names(parents))
	}
}
