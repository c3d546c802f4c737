package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine/fake"
)

// TestCreateBadInput: every input the engine checks is an error on its attribute, and
// nothing is cloned.
func TestCreateBadInput(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *engine.PoolSpec)
		attr   string
	}{
		{"pattern without {n}", func(s *engine.PoolSpec) { s.NamingPattern = "desk" }, "naming_pattern"},
		{"pattern too narrow", func(s *engine.PoolSpec) { s.NamingPattern = "d-{n:fixed=1}"; s.Size = 12 }, "naming_pattern"},
		{"rebalance policy", func(s *engine.PoolSpec) { s.Rebalance = "sometimes" }, "rebalance"},
		{"unknown image", func(s *engine.PoolSpec) { s.ImageID = "img-0000000000" }, "image_id"},
		{"unknown resource pool", func(s *engine.PoolSpec) { s.ResourcePool = "resgroup-99" }, "resource_pool_id"},
		{"unknown datastore", func(s *engine.PoolSpec) { s.Datastores = []string{"datastore-99"} }, "datastore_ids"},
		{"no datastore", func(s *engine.PoolSpec) { s.Datastores = nil }, "datastore_ids"},
		{"unknown folder", func(s *engine.PoolSpec) { s.Folder = "nowhere" }, "folder"},
		{"unknown network", func(s *engine.PoolSpec) { s.Networks = []string{"dvportgroup-99"} }, "network_ids"},
		{"more networks than NICs", func(s *engine.PoolSpec) { s.Networks = []string{fake.PortGroup, fake.Network} }, "network_ids"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newOnFake(t, fake.Options{})
			spec := poolSpec("d", f.image(t, "a"), 4, "datastore-1")
			tt.change(&spec)
			_, err := f.engine.CreatePool(context.Background(), spec)
			if ie, ok := engine.AsInputError(err); !ok || ie.Attribute != tt.attr {
				t.Fatalf("want an input error on %s, got %v", tt.attr, err)
			}
			if n := f.vc.Calls("InstantClone"); n != 0 {
				t.Fatalf("%d clones made for bad input", n)
			}
		})
	}
}

// TestCreateAdoptsUnfinished: a create cut short is carried on by the next create of the same
// pool; a finished pool of that name is refused with a pointer to import.
func TestCreateAdoptsUnfinished(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	spec := poolSpec("d", f.image(t, "a"), 6, "datastore-1", "datastore-2")
	f.vc.Inject(&fake.Fault{Method: "InstantClone", Skip: 3, Count: 1, Err: context.Canceled})
	if _, err := f.engine.CreatePool(ctx, spec); err == nil {
		t.Fatal("the first create did not fail")
	}
	p := f.create(t, spec)
	f.checkPool(t, p.ID, 6)
	_, err := f.engine.CreatePool(ctx, spec)
	if ie, ok := engine.AsInputError(err); !ok || ie.Attribute != "name" || !strings.Contains(ie.Detail, "import") {
		t.Fatalf("creating a finished pool again: %v", err)
	}
}

// TestCreateInForeignFolder: a folder of that name holding VMs that are not a pool's is
// refused; one that cannot be read is an error, not "in use".
func TestCreateInForeignFolder(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	img := f.image(t, "a")
	folder, err := f.vc.CreateFolder(ctx, "", "d")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.vc.CloneVM(ctx, engine.CloneSpec{Source: fake.GoldenVM, Folder: folder, Name: "someone-else"}); err != nil {
		t.Fatal(err)
	}
	_, err = f.engine.CreatePool(ctx, poolSpec("d", img, 2, "datastore-1"))
	if ie, ok := engine.AsInputError(err); !ok || ie.Attribute != "name" {
		t.Fatalf("want an input error on name, got %v", err)
	}
	f.vc.Inject(&fake.Fault{Method: "Contents", Count: 1, Err: context.DeadlineExceeded, Match: func(arg any) bool {
		ids, _ := arg.([]string)
		return len(ids) == 1 && ids[0] == folder
	}})
	_, err = f.engine.CreatePool(ctx, poolSpec("d", img, 2, "datastore-1"))
	if _, ok := engine.AsInputError(err); ok || err == nil {
		t.Fatalf("a failed read of the folder: want a plain error, got %v", err)
	}
}

// TestClonesPlacedElsewhere: when vCenter puts instant clones in the datacenter's VM folder
// whatever the spec asks, the engine moves them into the pool's folder, and the pool reads
// back whole.
func TestClonesPlacedElsewhere(t *testing.T) {
	f := newOnFake(t, fake.Options{InstantCloneIgnoresLocation: true})
	ds := f.vc.Datastores()[:2]
	id := f.create(t, poolSpec("p", f.image(t, "a"), 6, ds...)).ID
	if got := spread(f.clones(id), ds); got != "datastore-1=3 datastore-2=3" {
		t.Fatalf("clones in the pool's folder: %s", got)
	}
	f.checkPool(t, id, 6)
	if n := f.vc.Calls("MoveIntoFolder"); n < 1 {
		t.Fatal("no clone was moved")
	}
}

// TestCreateOnNetworks: network_ids reaches every clone's NICs in the InstantClone call, and
// only the clones': the parents stay on the image's network.
func TestCreateOnNetworks(t *testing.T) {
	f := newOnFake(t, fake.Options{})
	spec := poolSpec("d", f.image(t, "a"), 3, "datastore-1")
	spec.Networks = []string{fake.PortGroup}
	pool, err := f.engine.CreatePool(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range pool.Clones {
		nics, err := f.vc.NICs(context.Background(), c.ID)
		if err != nil || len(nics) != 1 || nics[0].Network != fake.PortGroup {
			t.Fatalf("clone %s NICs %+v (%v), want one on %s", c.Name, nics, err, fake.PortGroup)
		}
	}
	for _, p := range f.internal(engine.ParentFolder) {
		if nics, _ := f.vc.NICs(context.Background(), p.ID); len(nics) != 1 || nics[0].Network != fake.Network {
			t.Fatalf("parent %s NICs %+v, want the image's network", p.Name, nics)
		}
	}
}
