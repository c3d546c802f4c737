package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine/fake"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// TestPushImage: every clone is recreated from the new image under its own name, the old
// image's replicas and parents go, and the pool records no pending image.
func TestPushImage(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	a, b := f.image(t, "a"), f.image(t, "b")
	ds := f.vc.Datastores()[:2]
	spec := poolSpec("p", a, 6, ds...)
	id := f.create(t, spec).ID
	before := names(f.clones(id))
	spec.ImageID, spec.BatchSize = b, 2
	p, err := f.engine.ApplyPool(ctx, id, spec)
	if err != nil {
		t.Fatal(err)
	}
	if p.CurrentImageID != b || p.PendingImageID != "" {
		t.Fatalf("current %s pending %s after the push", p.CurrentImageID, p.PendingImageID)
	}
	after := f.clones(id)
	if strings.Join(names(after), ",") != strings.Join(before, ",") {
		t.Fatalf("names changed: %v → %v", before, names(after))
	}
	for _, vm := range after {
		if vm.Marks[engine.MarkImage] != b {
			t.Errorf("%s runs %s after the push", vm.Name, vm.Marks[engine.MarkImage])
		}
	}
	for _, folder := range []string{engine.ReplicaFolder, engine.ParentFolder} {
		for _, vm := range f.internal(folder) {
			if vm.Marks[engine.MarkImage] != b {
				t.Errorf("internal VM %s of the old image left in %s", vm.Name, folder)
			}
		}
	}
	f.checkPool(t, id, 6)
}

// TestPushImageResumes: a push that fails part-way keeps pending_image_id and names the
// failed clone; the next apply recreates only the clones still on the old image.
func TestPushImageResumes(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	a, b := f.image(t, "a"), f.image(t, "b")
	spec := poolSpec("p", a, 6, f.vc.Datastores()[:2]...)
	id := f.create(t, spec).ID
	spec.ImageID, spec.BatchSize, spec.StopOnFirstError = b, 1, true
	rule := f.vc.Inject(&fake.Fault{Method: "InstantClone", Skip: 2, Count: 1, Err: errors.New("InsufficientResourcesFault: datastore full")})
	_, err := f.engine.ApplyPool(ctx, id, spec)
	var failures *engine.VMFailures
	if !errors.As(err, &failures) || len(failures.Failures) != 1 || !failures.Stopped {
		t.Fatalf("want one clone named as failed and the push stopped, got %v", err)
	}
	if rule.Fired != 1 {
		t.Fatalf("fault fired %d times", rule.Fired)
	}
	p, err := f.engine.ReadPool(ctx, id, engine.LastSeen{})
	if err != nil {
		t.Fatal(err)
	}
	if p.PendingImageID != b {
		t.Fatalf("pending image %q after a failed push, want %s", p.PendingImageID, b)
	}
	onB := 0
	for _, c := range p.Clones {
		if c.ImageID == b {
			onB++
		}
	}
	if onB != 2 {
		t.Fatalf("%d clones on the new image after 2 pushed and the third failed", onB)
	}
	clonesBefore := f.vc.Calls("InstantClone")
	if _, err := f.engine.ApplyPool(ctx, id, spec); err != nil {
		t.Fatal(err)
	}
	// The failed clone was removed before its instant clone failed, so it is made again
	// with the other three still on the old image.
	if got := f.vc.Calls("InstantClone") - clonesBefore; got != 4 {
		t.Fatalf("the resumed push made %d clones, want 4 (the ones not yet on %s)", got, b)
	}
	if p := f.checkPool(t, id, 6); p.PendingImageID != "" || p.CurrentImageID != b {
		t.Fatalf("after the resumed push: current %s pending %s", p.CurrentImageID, p.PendingImageID)
	}
}

// outOfService counts clones between the start of their removal and the end of the instant
// clone that replaces them, and remembers the most at once.
type outOfService struct {
	engine.Port
	mu      sync.Mutex
	byName  map[string]bool   // clone names out of service
	names   map[string]string // old VM ID → clone name
	current int
	worst   int
}

func (o *outOfService) RemoveVM(ctx context.Context, id string, poweredOn bool) error {
	o.mu.Lock()
	if name, ok := o.names[id]; ok && !o.byName[name] {
		o.byName[name] = true
		o.current++
		o.worst = max(o.worst, o.current)
	}
	o.mu.Unlock()
	return o.Port.RemoveVM(ctx, id, poweredOn)
}

func (o *outOfService) InstantClone(ctx context.Context, s engine.InstantCloneSpec) (string, error) {
	id, err := o.Port.InstantClone(ctx, s)
	o.mu.Lock()
	if o.byName[s.Name] {
		delete(o.byName, s.Name)
		o.current--
	}
	o.mu.Unlock()
	return id, err
}

// TestPushWindow: during a push-image no more than batch_size clones are out of service at
// once, counted exactly at the engine's vCenter calls.
func TestPushWindow(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, vcsim.Options{})
	a := f.image(t)
	b, err := f.engine.PublishImage(ctx, engine.ImageSpec{Name: "b", SourceVM: vcsim.GoldenVMPath, Snapshot: vcsim.SnapshotBase})
	if err != nil {
		t.Fatal(err)
	}
	pool := f.pool(t, "w", a, 24, f.datastores(2))
	o := &outOfService{Port: f.client, byName: map[string]bool{}, names: map[string]string{}}
	for _, c := range pool.Clones {
		o.names[c.ID] = c.Name
	}
	for _, batch := range []int{1, 3, 7} {
		spec := f.spec("w", b.ID, 24, f.datastores(2))
		spec.BatchSize = batch
		spec.PushToken = string(rune('a' + batch))
		o.worst = 0
		p, err := engine.New(o, 20, nil).ApplyPool(ctx, pool.ID, spec)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("batch_size %d: at most %d clone(s) out of service", batch, o.worst)
		if o.worst > batch || o.worst < 1 {
			t.Fatalf("batch_size %d: %d clones out of service at once", batch, o.worst)
		}
		o.names = map[string]string{}
		for _, c := range p.Clones {
			o.names[c.ID] = c.Name
		}
	}
}
