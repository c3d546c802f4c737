package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine/fake"
)

// onDatastore lists the pool's clones and the image's internal VMs on a datastore.
func (f *onFake) onDatastore(poolID, ds string) (clones, internal []string) {
	return f.placed(poolID, func(vm engine.VM) bool { return vm.Datastore == ds }, engine.ReplicaFolder, engine.ParentFolder)
}

// TestDatastoreTakesNoClones: a datastore in maintenance mode, inaccessible, or below the
// pool's free-space floor takes no new clone; with immediate its clones and the image's
// internal VMs there leave it, with on_provision its clones stay.
func TestDatastoreTakesNoClones(t *testing.T) {
	for _, tt := range []struct {
		name  string
		state engine.DatastoreState
		floor int
		why   string
	}{
		{"entering maintenance", engine.DatastoreState{Accessible: true, Maintenance: "enteringMaintenance", Capacity: fake.DatastoreCapacity, Free: fake.DatastoreCapacity}, 0, "entering maintenance mode"},
		{"inaccessible", engine.DatastoreState{Capacity: fake.DatastoreCapacity}, 0, "inaccessible"},
		{"below the floor", engine.DatastoreState{Accessible: true, Capacity: fake.DatastoreCapacity, Free: 3 << 30}, 10, "below the pool's floor of 10 GB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newOnFake(t, fake.Options{})
			spec := poolSpec("d", f.image(t, "a"), 6, "datastore-1", "datastore-2")
			spec.MinFreeSpaceGB = tt.floor
			p := f.create(t, spec)
			f.vc.SetDatastoreState("datastore-2", tt.state)
			drift := f.drift(t, p.ID)
			for _, want := range []string{"3 clone(s) on a datastore that takes no clone now", tt.why, "internal VM(s) on a datastore that takes no clone now"} {
				if !strings.Contains(drift, want) {
					t.Errorf("drift %q does not say %q", drift, want)
				}
			}
			if _, err := f.engine.ApplyPool(ctx, p.ID, spec); err != nil {
				t.Fatal(err)
			}
			f.checkPool(t, p.ID, 6)
			if clones, internal := f.onDatastore(p.ID, "datastore-2"); len(clones)+len(internal) != 0 {
				t.Fatalf("datastore-2 still holds clones %v and internal VMs %v", clones, internal)
			}

			// on_provision: the clones stay, and a resize puts none there.
			f.vc.SetDatastoreState("datastore-2", engine.DatastoreState{})
			spec.Rebalance = engine.RebalanceOnProvision
			if _, err := f.engine.ApplyPool(ctx, p.ID, spec); err != nil {
				t.Fatal(err)
			}
			spec.Size = 8
			if _, err := f.engine.ApplyPool(ctx, p.ID, spec); err != nil {
				t.Fatal(err)
			}
			before, _ := f.onDatastore(p.ID, "datastore-2")
			f.vc.SetDatastoreState("datastore-2", tt.state)
			if drift := f.drift(t, p.ID); drift != "" {
				t.Errorf("on_provision: drift %q, want none: its clones stay", drift)
			}
			spec.Size = 10
			if _, err := f.engine.ApplyPool(ctx, p.ID, spec); err != nil {
				t.Fatal(err)
			}
			if after, _ := f.onDatastore(p.ID, "datastore-2"); len(after) != len(before) {
				t.Errorf("on_provision: datastore-2 held %v, then %v after a resize", before, after)
			}
		})
	}
}

// TestDatastoreLimit: no datastore holds more than max_clones_per_datastore; a pool that
// cannot fit fails on datastore_ids saying how many fit where, and makes nothing.
func TestDatastoreLimit(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	spec := poolSpec("d", f.image(t, "a"), 4, "datastore-1", "datastore-2")
	spec.MaxClonesPerDatastore = 2
	p := f.create(t, spec)
	f.checkPool(t, p.ID, 4)
	before := f.vc.Calls("InstantClone")
	spec.Size = 5
	_, err := f.engine.ApplyPool(ctx, p.ID, spec)
	ie, ok := engine.AsInputError(err)
	if !ok || ie.Attribute != "datastore_ids" || !strings.Contains(ie.Detail, "needs 5 clones and its datastores hold at most 4 (datastore-1: 2, datastore-2: 2)") {
		t.Fatalf("apply past the limit: %v", err)
	}
	if n := f.vc.Calls("InstantClone") - before; n != 0 {
		t.Errorf("%d clones made for a pool that does not fit", n)
	}
	spec.Datastores = append(spec.Datastores, "datastore-3")
	if _, err := f.engine.ApplyPool(ctx, p.ID, spec); err != nil {
		t.Fatal(err)
	}
	f.checkPool(t, p.ID, 5)
	for _, ds := range spec.Datastores {
		if clones, _ := f.onDatastore(p.ID, ds); len(clones) > 2 {
			t.Errorf("%s holds %v, past the limit of 2", ds, clones)
		}
	}
}

// TestReplicaDatastore: with a replica datastore the image has one replica for the pool,
// there; the parents, linked clones of it, and the clones are on the pool's datastores.
func TestReplicaDatastore(t *testing.T) {
	f := newOnFake(t, fake.Options{})
	spec := poolSpec("d", f.image(t, "a"), 4, "datastore-1", "datastore-2")
	spec.ReplicaDatastore = "datastore-3"
	p := f.create(t, spec)
	f.checkPool(t, p.ID, 4)
	replicas := f.internal(engine.ReplicaFolder)
	if len(replicas) != 1 || replicas[0].Datastore != "datastore-3" {
		t.Fatalf("replicas %v, want one on datastore-3", replicas)
	}
	for _, vm := range f.internal(engine.ParentFolder) {
		if vm.Datastore == "datastore-3" {
			t.Errorf("parent %s on the replica datastore", vm.Name)
		}
	}
	if clones, internal := f.onDatastore(p.ID, "datastore-3"); len(clones) != 0 || len(internal) != 1 {
		t.Errorf("datastore-3 holds clones %v and internal VMs %v, want only the replica", clones, internal)
	}
	if _, err := f.engine.CreatePool(context.Background(), engine.PoolSpec{Name: "e", ImageID: spec.ImageID, ResourcePool: fake.ResourcePool, Datastores: []string{"datastore-1"}, Size: 1, NamingPattern: "e-{n}", Rebalance: engine.RebalanceImmediate, ReplicaDatastore: "datastore-99"}); err == nil {
		t.Fatal("a missing replica datastore was taken")
	} else if ie, ok := engine.AsInputError(err); !ok || ie.Attribute != "replica_datastore_id" {
		t.Fatalf("missing replica datastore: %v", err)
	}
}
