package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine/fake"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine/leasetest"
)

func TestLeasesOnFake(t *testing.T) {
	t.Parallel()
	leasetest.Run(t, func(*testing.T) (engine.Port, engine.Port) {
		v := fake.New(fake.Options{})
		return v, v
	})
}

// A lease expires by vCenter's clock, not this machine's: with vCenter an hour behind, a
// waiting run must not count a fresh lock as long expired.
func TestLeaseExpiryInVCentersClock(t *testing.T) {
	t.Parallel()
	v := fake.New(fake.Options{})
	v.Skew(-time.Hour)
	ctx := context.Background()
	holder, err := engine.NewLeases(v, nil, "run A", time.Second).Acquire(ctx, "pool p")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Release()
	wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := engine.NewLeases(v, nil, "run B", time.Second).Acquire(wctx, "pool p"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("B's Acquire = %v, want it still waiting at its deadline", err)
	}
}

// TestWorkflowsWaitForAnotherRunsLock: while another run holds an image's lock (its lock
// folder in vCenter, named as the failures guide says), a pool create on that image builds
// none of the image's internal VMs and makes no clone; once the other run releases it, the
// create carries on and finishes.
func TestWorkflowsWaitForAnotherRunsLock(t *testing.T) {
	t.Parallel()
	v := fake.New(fake.Options{})
	e := engine.New(v, 8, nil)
	ctx := context.Background()
	img, err := e.PublishImage(ctx, engine.ImageSpec{Name: "w", SourceVM: fake.GoldenPath})
	if err != nil {
		t.Fatal(err)
	}
	parent, err := v.CreateFolder(ctx, "", engine.LockFolder)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := v.NewFolder(ctx, parent, "image-"+img.ID)
	if err != nil {
		t.Fatal(err)
	}
	now, _ := v.Now(ctx)
	if err := v.SetMarks(ctx, engine.FolderObject(lock), engine.Marks{
		engine.MarkLockHolder: "another run", engine.MarkLockExpires: now.Add(time.Hour).UTC().Format(time.RFC3339Nano),
	}); err != nil {
		t.Fatal(err)
	}
	clonesBefore := v.Calls("CloneVM")
	done := make(chan error, 1)
	go func() {
		_, err := e.CreatePool(ctx, engine.PoolSpec{
			Name: "d", ImageID: img.ID, ResourcePool: fake.ResourcePool, Datastores: []string{"datastore-1"},
			Size: 2, NamingPattern: "d-{n}", Rebalance: engine.RebalanceImmediate,
		})
		done <- err
	}()
	time.Sleep(time.Second)
	if n := v.Calls("CloneVM") - clonesBefore + v.Calls("InstantClone"); n != 0 {
		t.Fatalf("%d VMs made while another run held the image's lock", n)
	}
	select {
	case err := <-done:
		t.Fatalf("the create ended while another run held the image's lock: %v", err)
	default:
	}
	if err := v.DeleteFolder(ctx, lock); err != nil { // the other run releases its lock
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the create did not carry on once the lock was released")
	}
	if n := v.Calls("InstantClone"); n != 2 {
		t.Fatalf("%d clones made, want 2", n)
	}
}
