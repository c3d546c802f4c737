package engine

import (
	"context"
	"fmt"
	"sync"
)

// keyedMutex serializes work per key (an image, a pool) within this process. Waiting honours
// ctx, so a Ctrl-C or a timeout does not hang behind another operation.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

// lock takes key's lock, or fails with ctx's error; the caller runs the returned unlock.
func (k *keyedMutex) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]chan struct{}{}
	}
	l, ok := k.m[key]
	if !ok {
		l = make(chan struct{}, 1)
		k.m[key] = l
	}
	k.mu.Unlock()
	select {
	case l <- struct{}{}:
		return func() { <-l }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for another operation on %s: %w", key, ctx.Err())
	}
}

// lock takes key's lock in this process and then across runs (lease.go). The work runs under
// the returned context, which ends if another run takes the lease over; the caller runs the
// returned unlock.
func (e *Engine) lock(ctx context.Context, key string) (context.Context, func(), error) {
	unlock, err := e.locks.lock(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	lease, err := e.leases.Acquire(ctx, key)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return lease.Context(), func() {
		lease.Release()
		unlock()
	}, nil
}

// heldPool is a pool under its lock, with the record read under it.
type heldPool struct {
	ctx    context.Context // ends if the lock is lost
	unlock func()
	rec    *poolRecord
	att    attachments
}

// lockPool takes pool id's lock and reads its record under it. A pool that does not exist
// fails with ErrNotFound before any lock is taken, so that a wrong ID writes nothing.
func (e *Engine) lockPool(ctx context.Context, id string) (*heldPool, error) {
	if _, _, err := e.record(ctx, id); err != nil {
		return nil, err
	}
	ctx, unlock, err := e.lock(ctx, poolKey(id))
	if err != nil {
		return nil, err
	}
	rec, att, err := e.record(ctx, id) // again: another run may have changed it meanwhile
	if err != nil {
		unlock()
		return nil, err
	}
	return &heldPool{ctx: ctx, unlock: unlock, rec: rec, att: att}, nil
}

func imageKey(id string) string { return "image " + id }
func poolKey(id string) string  { return "pool " + id }
