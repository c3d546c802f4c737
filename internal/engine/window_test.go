package engine_test

import (
	"context"
	"sync"
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

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
