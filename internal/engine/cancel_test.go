package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// interrupting cancels the operation's context after its nth vCenter provisioning call, as a
// Ctrl-C or a timeout would in the middle of an apply.
type interrupting struct {
	engine.Port
	n      int64
	calls  atomic.Int64
	cancel atomic.Pointer[context.CancelFunc]
}

func (v *interrupting) tick() {
	if v.calls.Add(1) == v.n {
		if c := v.cancel.Load(); c != nil {
			(*c)()
		}
	}
}

func (v *interrupting) CloneVM(ctx context.Context, s engine.CloneSpec) (string, error) {
	defer v.tick()
	return v.Port.CloneVM(ctx, s)
}

func (v *interrupting) InstantClone(ctx context.Context, s engine.InstantCloneSpec) (string, error) {
	defer v.tick()
	return v.Port.InstantClone(ctx, s)
}

func (v *interrupting) RemoveVM(ctx context.Context, id string, poweredOn bool) error {
	defer v.tick()
	return v.Port.RemoveVM(ctx, id, poweredOn)
}

// interrupted runs op with a context cancelled after n provisioning calls, expects it to stop
// with the cancellation, then runs it again to completion.
func (f *fixture) interrupted(t *testing.T, n int64, op func(ctx context.Context, e *engine.Engine) error) {
	t.Helper()
	v := &interrupting{Port: f.client, n: n}
	e := engine.New(v, 4, nil)
	ctx, cancel := context.WithCancel(context.Background())
	v.cancel.Store(&cancel)
	err := op(ctx, e)
	cancel()
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted operation: want a cancellation error, got %v", err)
	}
	if err := op(context.Background(), e); err != nil {
		t.Fatalf("the operation after the interruption: %v", err)
	}
}

// checkConverged checks the pool has exactly size clones, no drift, and that vCenter holds no
// unfinished internal VM and no duplicate clone.
func (f *fixture) checkConverged(t *testing.T, poolID string, size int) {
	t.Helper()
	p, err := f.engine.ReadPool(context.Background(), poolID, engine.LastSeen{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Clones) != size || len(p.Drift) > 0 {
		t.Fatalf("pool has %d clones (want %d), drift %v", len(p.Clones), size, p.Drift)
	}
	f.checkNoLeftovers(t)
}

func (f *fixture) checkNoLeftovers(t *testing.T) {
	t.Helper()
	vms, err := f.client.AllVMs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	folders, err := f.client.Folders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, fo := range folders {
		names[fo.ID] = fo.Name
	}
	seen := map[string]bool{}
	for _, vm := range vms {
		key := vm.Folder + "/" + vm.Name
		if seen[key] {
			t.Fatalf("two VMs called %s in %s", vm.Name, names[vm.Folder])
		}
		seen[key] = true
		if names[vm.Folder] == engine.ResyncFolder {
			t.Fatalf("unfinished internal VM %s left in %s", vm.Name, engine.ResyncFolder)
		}
	}
}

func (f *fixture) spec(name, image string, size int, ds []string) engine.PoolSpec {
	return engine.PoolSpec{
		Name: name, ImageID: image, ResourcePool: f.inv.Clusters[0].ResourcePool.Ref.Value,
		Datastores: ds, Size: size, NamingPattern: name + "-{n}", Rebalance: engine.RebalanceImmediate,
	}
}

// TestInterruptedOperations cancels each workflow half-way (Ctrl-C, a timeout) and checks the
// next run finishes the job with nothing leaked or duplicated.
func TestInterruptedOperations(t *testing.T) {
	ctx := context.Background()
	t.Run("publish", func(t *testing.T) {
		f := newFixture(t, vcsim.Options{})
		var img *engine.Image
		f.interrupted(t, 1, func(ctx context.Context, e *engine.Engine) (err error) {
			img, err = e.PublishImage(ctx, engine.ImageSpec{Name: "i", SourceVM: vcsim.GoldenVMPath})
			return err
		})
		vms, _ := f.client.AllVMs(ctx)
		templates := 0
		for _, vm := range vms {
			if vm.Marks[engine.MarkRole] == "template" {
				templates++
			}
		}
		if templates != 1 || img == nil {
			t.Fatalf("want exactly the one template of the finished publish, have %d", templates)
		}
		f.checkNoLeftovers(t)
	})
	ops := []struct {
		name  string
		setup func(f *fixture, img string) string // returns the pool ID
		op    func(f *fixture, img, pool string) func(context.Context, *engine.Engine) error
		size  int
	}{
		{"create", func(*fixture, string) string { return "" }, func(f *fixture, img, _ string) func(context.Context, *engine.Engine) error {
			return func(ctx context.Context, e *engine.Engine) error {
				_, err := e.CreatePool(ctx, f.spec("c", img, 8, f.datastores(2)))
				return err
			}
		}, 8},
		{"resize", nil, func(f *fixture, img, pool string) func(context.Context, *engine.Engine) error {
			return func(ctx context.Context, e *engine.Engine) error {
				_, err := e.ApplyPool(ctx, pool, f.spec("c", img, 12, f.datastores(2)))
				return err
			}
		}, 12},
		{"push-image", nil, func(f *fixture, _, pool string) func(context.Context, *engine.Engine) error {
			return func(ctx context.Context, e *engine.Engine) error {
				img, err := e.FindImageByName(ctx, "b")
				if err != nil {
					return err
				}
				_, err = e.ApplyPool(ctx, pool, f.spec("c", img.ID, 6, f.datastores(2)))
				return err
			}
		}, 6},
		{"rebalance", nil, func(f *fixture, _, pool string) func(context.Context, *engine.Engine) error {
			return func(ctx context.Context, e *engine.Engine) error {
				_, err := e.Attach(ctx, pool, f.datastores(3)[2], "")
				return err
			}
		}, 6},
		{"delete", nil, func(f *fixture, _, pool string) func(context.Context, *engine.Engine) error {
			return func(ctx context.Context, e *engine.Engine) error { return e.DeletePool(ctx, pool) }
		}, 0},
	}
	for _, tt := range ops {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, vcsim.Options{})
			img := f.image(t)
			if _, err := f.engine.PublishImage(ctx, engine.ImageSpec{Name: "b", SourceVM: vcsim.GoldenVMPath, Snapshot: vcsim.SnapshotBase}); err != nil {
				t.Fatal(err)
			}
			pool := ""
			if tt.setup == nil {
				pool = f.pool(t, "c", img, 6, f.datastores(2)).ID
			}
			f.interrupted(t, 3, tt.op(f, img, pool))
			if tt.name == "create" {
				p, err := f.engine.FindPoolByName(ctx, "c")
				if err != nil {
					t.Fatal(err)
				}
				pool = p.ID
			}
			if tt.name == "delete" {
				if _, err := f.engine.ReadPool(ctx, pool, engine.LastSeen{}); !errors.Is(err, engine.ErrNotFound) {
					t.Fatalf("pool still there after delete: %v", err)
				}
				f.checkNoLeftovers(t)
				return
			}
			f.checkConverged(t, pool, tt.size)
			fmt.Printf("interrupted %s: converged on the next run\n", tt.name)
		})
	}
}
