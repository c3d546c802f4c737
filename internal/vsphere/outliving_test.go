package vsphere

import (
	"context"
	"testing"
	"time"
)

// An interrupted operation still hears back from the task it started: the context used for
// the task outlives the caller's by the grace, and no longer.
func TestOutliving(t *testing.T) {
	type key struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	out, stop := outliving(parent, time.Hour)
	cancel()
	time.Sleep(10 * time.Millisecond)
	if out.Err() != nil {
		t.Fatalf("cancelled at once with its caller: %v", out.Err())
	}
	if out.Value(key{}) != "v" {
		t.Fatal("lost the caller's values")
	}
	stop()
	if out.Err() == nil {
		t.Fatal("stop did not end it")
	}

	parent, cancel = context.WithCancel(context.Background())
	out, stop = outliving(parent, 10*time.Millisecond)
	defer stop()
	cancel()
	select {
	case <-out.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("still running long after the grace")
	}
}
