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

func imageKey(id string) string { return "image " + id }
func poolKey(id string) string  { return "pool " + id }
