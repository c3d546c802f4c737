package engine_test

import (
	"context"
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

// fixture is an engine on a fresh simulator.
type fixture struct {
	srv    *vcsim.Server
	client *vsphere.Client
	engine *engine.Engine
	inv    vcsim.Inventory
}

func newFixture(t *testing.T, opts vcsim.Options) *fixture {
	t.Helper()
	srv, err := vcsim.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c, err := vsphere.Connect(context.Background(), vsphere.Config{
		Server: srv.URL().Host, User: srv.Username(), Password: srv.Password(), Insecure: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Logout(context.Background()) })
	return &fixture{srv: srv, client: c, engine: engine.New(c, 20, nil), inv: srv.Inventory()}
}

func (f *fixture) datastores(n int) []string {
	var out []string
	for _, ds := range f.inv.Datastores[:n] {
		out = append(out, ds.Ref.Value)
	}
	return out
}

func (f *fixture) pool(t *testing.T, name, image string, size int, ds []string) *engine.Pool {
	t.Helper()
	p, err := f.engine.CreatePool(context.Background(), engine.PoolSpec{
		Name: name, ImageID: image, ResourcePool: f.inv.Clusters[0].ResourcePool.Ref.Value,
		Datastores: ds, Size: size, NamingPattern: name + "-{n}", Rebalance: engine.RebalanceImmediate,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) image(t *testing.T) string {
	t.Helper()
	img, err := f.engine.PublishImage(context.Background(), engine.ImageSpec{Name: "img", SourceVM: vcsim.GoldenVMPath})
	if err != nil {
		t.Fatal(err)
	}
	return img.ID
}

// TestReadPoolRoundTrips: one Read costs the same number of vCenter calls for a 10-clone and a
// 200-clone pool (a property-collector retrieve, never a call per VM).
func TestReadPoolRoundTrips(t *testing.T) {
	f := newFixture(t, vcsim.Options{})
	img := f.image(t)
	small := f.pool(t, "small", img, 10, f.datastores(4))
	large := f.pool(t, "large", img, 200, f.datastores(4))
	calls := func(id string) int64 {
		before := f.client.Calls()
		p, err := f.engine.ReadPool(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Drift) > 0 {
			t.Fatalf("pool %s drifted right after create: %v", p.Spec.Name, p.Drift)
		}
		return f.client.Calls() - before
	}
	cs, cl := calls(small.ID), calls(large.ID)
	t.Logf("vCenter calls for one read: 10 clones %d, 200 clones %d", cs, cl)
	if cs != cl {
		t.Fatalf("a read of 10 clones took %d calls, of 200 clones %d: reads must not grow with the pool", cs, cl)
	}
	if cs > 2 {
		t.Fatalf("a read took %d calls; want at most 2", cs)
	}
}
