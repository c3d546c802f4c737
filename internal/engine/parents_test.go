package engine_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine/fake"
)

// TestParentsReplacedBeforeTheLimit: a pool of 300 clones on one host and one datastore
// outgrows one parent (vCenter refuses the 256th instant clone of an unfrozen parent); the
// engine replaces parents well before that, marks each clone with its parent, and removes a
// replaced parent once no clone forks from it.
func TestParentsReplacedBeforeTheLimit(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{Hosts: 1, Datastores: 1})
	spec := poolSpec("big", f.image(t, "a"), 300, "datastore-1")
	id := f.create(t, spec).ID
	f.checkPool(t, id, 300)
	check := func(wantParents int) map[string]int {
		t.Helper()
		parents := f.internal(engine.ParentFolder)
		if len(parents) != wantParents {
			t.Fatalf("%d parents %v, want %d", len(parents), names(parents), wantParents)
		}
		forked := map[string]int{}
		for _, c := range f.clones(id) {
			forked[c.Marks[engine.MarkParent]]++
		}
		for _, p := range parents {
			if n := f.vc.Forks(p.ID); n >= fake.MaxForks {
				t.Fatalf("parent %s made %d instant clones", p.Name, n)
			}
			if counted, _ := strconv.Atoi(p.Marks[engine.MarkClones]); counted < f.vc.Forks(p.ID) {
				t.Fatalf("parent %s counts %d clones but made %d", p.Name, counted, f.vc.Forks(p.ID))
			}
		}
		return forked
	}
	forked := check(2)
	if len(forked) != 2 {
		t.Fatalf("clones fork from %v, want two parents", forked)
	}
	// Every clone recreated: the second parent fills up, a third takes over, and the first,
	// which no clone forks from any more, goes.
	spec.PushToken = "again"
	if _, err := f.engine.ApplyPool(ctx, id, spec); err != nil {
		t.Fatal(err)
	}
	f.checkPool(t, id, 300)
	forked = check(2)
	for _, p := range f.internal(engine.ParentFolder) {
		if p.Name == "cp-parent-"+spec.ImageID+"-datastore-1-host-1" {
			t.Fatalf("the first parent stays although no clone forks from it (%v)", forked)
		}
	}
}
