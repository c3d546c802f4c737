// Package leasetest checks the engine's locks across runs (engine.Leases) against any port:
// the fake in the engine's unit tests, the simulator through govmomi in internal/vsphere. Each
// scenario plays two runs, each with its own port (its own vCenter session) on one vCenter.
package leasetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// Ports gives two ports onto one fresh vCenter, one per run.
type Ports func(t *testing.T) (engine.Port, engine.Port)

// ttl is short so that expiry can be watched; renewals come every ttl/3.
const ttl = 1500 * time.Millisecond

// Run runs every scenario.
func Run(t *testing.T, ports Ports) {
	for name, scenario := range map[string]func(*testing.T, Ports){
		"contention": contention, "expiry": expiry, "unmarked": unmarked,
		"renewal": renewal, "lost": lost, "cancellation": cancellation,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			scenario(t, ports)
		})
	}
}

// lockFolders lists the lock folders held now.
func lockFolders(t *testing.T, vc engine.Port) []engine.Folder {
	t.Helper()
	ctx := context.Background()
	parent, err := vc.CreateFolder(ctx, "", engine.LockFolder)
	if err != nil {
		t.Fatal(err)
	}
	fs, _, err := vc.Contents(ctx, parent)
	if err != nil {
		t.Fatal(err)
	}
	var out []engine.Folder
	for _, f := range fs {
		if f.Parent == parent {
			out = append(out, f)
		}
	}
	return out
}

func acquire(t *testing.T, l *engine.Leases, key string) *engine.Lease {
	t.Helper()
	lease, err := l.Acquire(context.Background(), key)
	if err != nil {
		t.Fatalf("%s taking %s: %v", l.Holder(), key, err)
	}
	return lease
}

// contention: the second run waits until the first releases, and only one holds at a time.
func contention(t *testing.T, ports Ports) {
	a, b := ports(t)
	la, lb := engine.NewLeases(a, nil, "run A", ttl), engine.NewLeases(b, nil, "run B", ttl)
	first := acquire(t, la, "image x")
	if fs := lockFolders(t, b); len(fs) != 1 || fs[0].Marks[engine.MarkLockHolder] != "run A" || fs[0].Marks[engine.MarkLockExpires] == "" {
		t.Fatalf("lock folders while A holds: %+v", fs)
	}
	other := acquire(t, lb, "pool y") // another key is free
	other.Release()
	const held = 700 * time.Millisecond
	released := make(chan time.Time, 1)
	go func() {
		time.Sleep(held)
		released <- time.Now()
		first.Release()
	}()
	start := time.Now()
	second := acquire(t, lb, "image x")
	got := time.Now()
	if at := <-released; got.Before(at) {
		t.Fatalf("B took the lock %s before A released it", at.Sub(got))
	}
	if time.Since(start) < held {
		t.Fatalf("B waited %s, less than A held the lock", time.Since(start))
	}
	if fs := lockFolders(t, a); len(fs) != 1 || fs[0].Marks[engine.MarkLockHolder] != "run B" {
		t.Fatalf("lock folders while B holds: %+v", fs)
	}
	second.Release()
	if fs := lockFolders(t, a); len(fs) != 0 {
		t.Fatalf("lock folders after both released: %+v", fs)
	}
}

// expiry: a lock whose holder died (marked, never renewed) is taken over once expired, and
// not before.
func expiry(t *testing.T, ports Ports) {
	a, b := ports(t)
	ctx := context.Background()
	dead := plantLock(t, a, "image x", "dead run", time.Second)
	lb := engine.NewLeases(b, nil, "run B", ttl)
	start := time.Now()
	lease := acquire(t, lb, "image x")
	defer lease.Release()
	if waited := time.Since(start); waited < 700*time.Millisecond {
		t.Fatalf("B took over after %s, before the dead run's lock expired (1s)", waited)
	}
	if lease.ID() == dead {
		t.Fatal("B holds the dead run's folder instead of its own")
	}
	if _, err := b.Folder(ctx, dead); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("the expired lock folder %s is still there: %v", dead, err)
	}
}

// unmarked: a lock folder left without marks (its run died between creating and marking it)
// expires a TTL after the waiting run first saw it.
func unmarked(t *testing.T, ports Ports) {
	a, b := ports(t)
	ctx := context.Background()
	parent, err := a.CreateFolder(ctx, "", engine.LockFolder)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.NewFolder(ctx, parent, engine.LockName("image x")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	lease := acquire(t, engine.NewLeases(b, nil, "run B", ttl), "image x")
	defer lease.Release()
	if waited := time.Since(start); waited < ttl {
		t.Fatalf("B took over an unmarked lock after %s, before a TTL (%s)", waited, ttl)
	}
}

// renewal: a holder that works for several TTLs keeps its lock; the waiting run gives up at
// its own deadline without taking it.
func renewal(t *testing.T, ports Ports) {
	a, b := ports(t)
	ctx := context.Background()
	holder := acquire(t, engine.NewLeases(a, nil, "run A", ttl), "image x")
	defer holder.Release()
	wctx, cancel := context.WithTimeout(ctx, 3*ttl)
	defer cancel()
	if lease, err := engine.NewLeases(b, nil, "run B", ttl).Acquire(wctx, "image x"); err == nil {
		lease.Release()
		t.Fatal("B took a lock that A kept renewing")
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("B's wait ended with %v, want its deadline", err)
	}
	if holder.Context().Err() != nil {
		t.Fatalf("A's work was stopped: %v", context.Cause(holder.Context()))
	}
	if fs := lockFolders(t, b); len(fs) != 1 || fs[0].ID != holder.ID() {
		t.Fatalf("lock folders after A renewed for %s: %+v", 3*ttl, fs)
	}
}

// lost: a holder whose lock folder another run removed (took over) stops its work.
func lost(t *testing.T, ports Ports) {
	a, b := ports(t)
	ctx := context.Background()
	holder := acquire(t, engine.NewLeases(a, nil, "run A", ttl), "image x")
	defer holder.Release()
	if err := b.DeleteFolder(ctx, holder.ID()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-holder.Context().Done():
		if !errors.Is(context.Cause(holder.Context()), engine.ErrLockLost) {
			t.Fatalf("A's work ended with %v, want ErrLockLost", context.Cause(holder.Context()))
		}
	case <-time.After(2 * ttl):
		t.Fatal("A kept working after its lock was taken over")
	}
}

// cancellation: a run waiting for a lock stops when its context ends, and leaves nothing.
func cancellation(t *testing.T, ports Ports) {
	a, b := ports(t)
	ctx := context.Background()
	holder := acquire(t, engine.NewLeases(a, nil, "run A", ttl), "image x")
	defer holder.Release()
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := engine.NewLeases(b, nil, "run B", ttl).Acquire(wctx, "image x")
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("B's wait ended with %v, want its cancellation", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("B kept waiting after its context was cancelled")
	}
	if fs := lockFolders(t, a); len(fs) != 1 || fs[0].ID != holder.ID() {
		t.Fatalf("lock folders after B gave up: %+v", fs)
	}
}

// plantLock leaves the lock folder of a run that died holding key: marked with its holder and
// an expiry `left` from now in vCenter's clock, never renewed.
func plantLock(t *testing.T, vc engine.Port, key, holder string, left time.Duration) string {
	t.Helper()
	ctx := context.Background()
	parent, err := vc.CreateFolder(ctx, "", engine.LockFolder)
	if err != nil {
		t.Fatal(err)
	}
	now, err := vc.Now(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, err := vc.NewFolder(ctx, parent, engine.LockName(key))
	if err != nil {
		t.Fatal(err)
	}
	err = vc.SetMarks(ctx, engine.FolderObject(id), engine.Marks{
		engine.MarkLockHolder: holder, engine.MarkLockExpires: now.Add(left).UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}
