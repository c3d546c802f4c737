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

// vms lists every VM of the simulator's datacenter.
func (f *fixture) vms(t *testing.T) []engine.VM {
	t.Helper()
	vms, err := f.client.AllVMs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return vms
}
