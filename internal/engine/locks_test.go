package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestKeyedMutex: a second holder of a key waits; waiting ends with the context; other keys
// never wait; the key is free again once unlocked.
func TestKeyedMutex(t *testing.T) {
	var k keyedMutex
	ctx := context.Background()
	unlock, err := k.lock(ctx, "pool a")
	if err != nil {
		t.Fatal(err)
	}
	other, err := k.lock(ctx, "pool b")
	if err != nil {
		t.Fatalf("another key waited: %v", err)
	}
	other()
	waiting, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := k.lock(waiting, "pool a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a held key with a context that ends: want its deadline, got %v", err)
	}
	got := make(chan error)
	go func() {
		u, err := k.lock(ctx, "pool a")
		if err == nil {
			u()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("took a held key: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	unlock()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}
