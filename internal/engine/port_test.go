package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine/fake"
)

// onFake is an engine on an in-memory vCenter, for fast workflow tests.
type onFake struct {
	vc     *fake.VCenter
	engine *engine.Engine
}

func newOnFake(t *testing.T, o fake.Options) *onFake {
	t.Helper()
	vc := fake.New(o)
	return &onFake{vc: vc, engine: engine.New(vc, 8, nil)}
}

func (f *onFake) image(t *testing.T, name string) string {
	t.Helper()
	img, err := f.engine.PublishImage(context.Background(), engine.ImageSpec{Name: name, SourceVM: fake.GoldenPath})
	if err != nil {
		t.Fatal(err)
	}
	return img.ID
}

func poolSpec(name, image string, size int, datastores ...string) engine.PoolSpec {
	return engine.PoolSpec{
		Name: name, ImageID: image, ResourcePool: fake.ResourcePool, Datastores: datastores,
		Size: size, NamingPattern: name + "-{n}", Rebalance: engine.RebalanceImmediate,
	}
}

func (f *onFake) create(t *testing.T, spec engine.PoolSpec) *engine.Pool {
	t.Helper()
	p, err := f.engine.CreatePool(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// clones lists the VMs in a pool's folder, from the fake's side.
func (f *onFake) clones(poolID string) []engine.VM {
	var out []engine.VM
	for _, vm := range f.vc.VMs() {
		if vm.Folder == poolID {
			out = append(out, vm)
		}
	}
	return out
}

// internal lists the internal VMs of one role (by ClonePrep folder) from the fake's side.
func (f *onFake) internal(folder string) []engine.VM {
	id := f.vc.FolderNamed(folder)
	var out []engine.VM
	for _, vm := range f.vc.VMs() {
		if vm.Folder == id {
			out = append(out, vm)
		}
	}
	return out
}

// spread counts VMs per datastore, as "datastore-1=3 datastore-2=3 ...", in datastore order.
func spread(vms []engine.VM, datastores []string) string {
	counts := map[string]int{}
	for _, vm := range vms {
		counts[vm.Datastore]++
	}
	out := ""
	for i, ds := range datastores {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("%s=%d", ds, counts[ds])
	}
	return out
}

func names(vms []engine.VM) []string {
	out := make([]string, 0, len(vms))
	for _, vm := range vms {
		out = append(out, vm.Name)
	}
	sort.Strings(out)
	return out
}

// checkPool checks a pool read back through the engine has no drift and size clones.
func (f *onFake) checkPool(t *testing.T, id string, size int) *engine.Pool {
	t.Helper()
	p, err := f.engine.ReadPool(context.Background(), id, engine.LastSeen{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Drift) > 0 || len(p.Clones) != size {
		t.Fatalf("pool %s: %d clones (want %d), drift %q", p.Spec.Name, len(p.Clones), size, p.Drift)
	}
	return p
}

func isNotFound(err error) bool { return errors.Is(err, engine.ErrNotFound) }
