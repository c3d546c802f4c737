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
