package engine_test

import (
	"context"
	"errors"
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine/fake"
)

// TestDeletePoolAndImage: an image is refused deletion while a pool uses it; deleting the pool
// removes its clones, folder, replicas and parents; then the image goes with its template.
func TestDeletePoolAndImage(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	img := f.image(t, "a")
	id := f.create(t, poolSpec("p", img, 6, f.vc.Datastores()[:2]...)).ID
	var inUse *engine.InUseError
	if err := f.engine.DeleteImage(ctx, img); !errors.As(err, &inUse) {
		t.Fatalf("deleting an image in use: want InUseError, got %v", err)
	}
	if err := f.engine.DeletePool(ctx, id); err != nil {
		t.Fatal(err)
	}
	if f.vc.FolderNamed("p") != "" {
		t.Fatal("the pool's folder is left")
	}
	for _, folder := range []string{engine.ReplicaFolder, engine.ParentFolder} {
		if vms := f.internal(folder); len(vms) > 0 {
			t.Fatalf("left in %s: %v", folder, names(vms))
		}
	}
	if err := f.engine.DeletePool(ctx, id); err != nil {
		t.Fatalf("deleting a deleted pool: %v", err)
	}
	if err := f.engine.DeleteImage(ctx, img); err != nil {
		t.Fatal(err)
	}
	if vms := f.vc.VMs(); len(vms) != 1 || vms[0].ID != fake.GoldenVM {
		t.Fatalf("left after deleting everything: %v", names(vms))
	}
}

// TestRemoveVMsTriesEvery: a delete whose removals fail for some clones removes the others and
// names each failure.
func TestRemoveVMsTriesEvery(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	id := f.create(t, poolSpec("p", f.image(t, "a"), 6, "datastore-1")).ID
	rule := f.vc.Inject(&fake.Fault{Method: "RemoveVM", Count: 2, Err: errors.New("HostCommunication: host not responding")})
	err := f.engine.DeletePool(ctx, id)
	var failures *engine.VMFailures
	if !errors.As(err, &failures) || len(failures.Failures) != 2 || rule.Fired != 2 {
		t.Fatalf("want two clones named as not removed, got %v (fired %d)", err, rule.Fired)
	}
	if left := f.clones(id); len(left) != 2 {
		t.Fatalf("%d clones left, want the 2 whose removal failed", len(left))
	}
	if err := f.engine.DeletePool(ctx, id); err != nil {
		t.Fatalf("deleting again: %v", err)
	}
	if f.vc.FolderNamed("p") != "" {
		t.Fatal("the pool's folder is left")
	}
}
