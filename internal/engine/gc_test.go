package engine_test

import (
	"context"
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine/fake"
)

// TestGarbageShared: two pools on one image share its replicas and parents; deleting one
// keeps what the other needs and removes only what it alone used.
func TestGarbageShared(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	img := f.image(t, "a")
	ds := f.vc.Datastores()
	one := f.create(t, poolSpec("one", img, 4, ds[0], ds[1])).ID
	f.create(t, poolSpec("two", img, 4, ds[1], ds[2]))
	if got := len(f.internal(engine.ReplicaFolder)); got != 3 {
		t.Fatalf("%d replicas for two pools over 3 datastores, want 3", got)
	}
	if err := f.engine.DeletePool(ctx, one); err != nil {
		t.Fatal(err)
	}
	replicas := f.internal(engine.ReplicaFolder)
	if got := spread(replicas, ds[:3]); got != "datastore-1=0 datastore-2=1 datastore-3=1" {
		t.Fatalf("replicas after deleting pool one: %s", got)
	}
	if got := spread(f.internal(engine.ParentFolder), ds[:3]); got != "datastore-1=0 datastore-2=2 datastore-3=2" {
		t.Fatalf("parents after deleting pool one: %s", got)
	}
}

// TestGarbageLeftByEarlierRun: internal VMs a failed collection left behind are removed by the
// next apply of any pool.
func TestGarbageLeftByEarlierRun(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	a, b := f.image(t, "a"), f.image(t, "b")
	spec := poolSpec("p", a, 2, "datastore-1")
	id := f.create(t, spec).ID
	// An orphaned replica of image b, as a collection cut short would leave it.
	if _, err := f.engine.CreatePool(ctx, poolSpec("q", b, 1, "datastore-2")); err != nil {
		t.Fatal(err)
	}
	q := f.vc.FolderNamed("q")
	f.vc.Delete(q)
	if _, err := f.engine.ApplyPool(ctx, id, spec); err != nil {
		t.Fatal(err)
	}
	for _, vm := range f.internal(engine.ReplicaFolder) {
		if vm.Marks[engine.MarkImage] == b {
			t.Fatalf("replica %s of an image no pool uses is left", vm.Name)
		}
	}
}

// TestGarbageSkipsImageInUse: an apply that leaves its pool's image whole (a resize) does not
// read every pool's record to collect that image's garbage; a push to another image collects
// the old one's.
func TestGarbageSkipsImageInUse(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	a, b := f.image(t, "a"), f.image(t, "b")
	spec := poolSpec("p", a, 2, "datastore-1", "datastore-2")
	id := f.create(t, spec).ID
	spec.Size = 4
	before := f.vc.Calls("Folders")
	if _, err := f.engine.ApplyPool(ctx, id, spec); err != nil {
		t.Fatal(err)
	}
	if n := f.vc.Calls("Folders") - before; n != 0 {
		t.Errorf("a resize read every pool's record %d time(s)", n)
	}
	f.checkPool(t, id, 4)

	spec.ImageID = b
	before = f.vc.Calls("Folders")
	if _, err := f.engine.ApplyPool(ctx, id, spec); err != nil {
		t.Fatal(err)
	}
	if n := f.vc.Calls("Folders") - before; n == 0 {
		t.Error("a push did not read the pools' records to collect the old image")
	}
	for _, vm := range append(f.internal(engine.ReplicaFolder), f.internal(engine.ParentFolder)...) {
		if vm.Marks[engine.MarkImage] == a {
			t.Errorf("%s of image a is left after the push to b", vm.Name)
		}
	}
}

// TestImageLockOncePerApply: an apply that publishes and then makes clones takes its image's
// lock once (the publish hands it to the parent assignment), not once for each.
func TestImageLockOncePerApply(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	a := f.image(t, "a")
	spec := poolSpec("p", a, 2, "datastore-1", "datastore-2")
	id := f.create(t, spec).ID
	taken := 0
	f.vc.Inject(&fake.Fault{Method: "NewFolder", Match: func(arg any) bool {
		if arg == engine.LockName("image "+a) {
			taken++
		}
		return false // counts, never fails
	}})
	spec.Size = 4
	if _, err := f.engine.ApplyPool(ctx, id, spec); err != nil {
		t.Fatal(err)
	}
	if taken != 1 {
		t.Errorf("a resize took the lock on image %s %d time(s), want 1", a, taken)
	}
	f.checkPool(t, id, 4)
}
