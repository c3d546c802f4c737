package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine/fake"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

func hasDrift(p *engine.Pool, words string) bool {
	for _, d := range p.Drift {
		if strings.Contains(d, words) {
			return true
		}
	}
	return false
}

// TestDrift: each way a pool can be changed behind the engine's back is named in its drift,
// and an apply repairs it.
func TestDrift(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(f *onFake, poolID string)
		words  string
	}{
		{"clone destroyed", func(f *onFake, id string) { f.vc.Delete(f.clones(id)[0].ID) }, "1 clone(s) missing: p-"},
		{"clone on another image", func(f *onFake, id string) {
			f.vc.Tamper(f.clones(id)[1].ID, func(vm *engine.VM) { vm.Marks[engine.MarkImage] = "img-other" })
		}, "not on image"},
		{"extra clone", func(f *onFake, id string) {
			if _, err := f.vc.CloneVM(context.Background(), engine.CloneSpec{Source: fake.GoldenVM, Folder: id, Name: "p-9"}); err != nil {
				panic(err)
			}
		}, "beyond size"},
		{"replica removed", func(f *onFake, _ string) { f.vc.Delete(f.internal(engine.ReplicaFolder)[0].ID) }, "is missing"},
		{"parent powered off", func(f *onFake, _ string) {
			f.vc.Tamper(f.internal(engine.ParentFolder)[0].ID, func(vm *engine.VM) { vm.PoweredOn = false })
		}, "is powered off"},
		{"unbalanced", func(f *onFake, id string) {
			for _, vm := range f.clones(id) {
				f.vc.Tamper(vm.ID, func(vm *engine.VM) { vm.Datastore, vm.Datastores = "datastore-1", []string{"datastore-1"} })
			}
		}, "unbalanced"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newOnFake(t, fake.Options{})
			spec := poolSpec("p", f.image(t, "a"), 4, f.vc.Datastores()[:2]...)
			id := f.create(t, spec).ID
			f.checkPool(t, id, 4)
			tt.tamper(f, id)
			p, err := f.engine.ReadPool(ctx, id, engine.LastSeen{})
			if err != nil {
				t.Fatal(err)
			}
			if !hasDrift(p, tt.words) {
				t.Fatalf("drift %q, want a line with %q", p.Drift, tt.words)
			}
			if _, err := f.engine.ApplyPool(ctx, id, spec); err != nil {
				t.Fatal(err)
			}
			f.checkPool(t, id, 4)
		})
	}
}

// TestReadPoolFolderGone: a pool whose folder was deleted reads as not found, after one
// look-up of the ClonePrep folders, not a retry without end.
func TestReadPoolFolderGone(t *testing.T) {
	f := newOnFake(t, fake.Options{})
	id := f.create(t, poolSpec("p", f.image(t, "a"), 2, "datastore-1")).ID
	f.vc.Delete(id)
	before := f.vc.Calls("Contents")
	if _, err := f.engine.ReadPool(context.Background(), id, engine.LastSeen{}); !isNotFound(err) {
		t.Fatalf("want not found, got %v", err)
	}
	if got := f.vc.Calls("Contents") - before; got > 2 {
		t.Fatalf("a read of a deleted pool took %d reads", got)
	}
}

// TestClonePrepFolderDeleted: a ClonePrep folder removed out of band does not fail the reads
// after it, and reads do not make it again (reads never write: a read-only login must be
// able to plan); the next apply does.
func TestClonePrepFolderDeleted(t *testing.T) {
	f := newOnFake(t, fake.Options{})
	spec := poolSpec("p", f.image(t, "a"), 2, "datastore-1")
	id := f.create(t, spec).ID
	f.vc.Delete(f.vc.FolderNamed(engine.ResyncFolder))
	if _, err := f.engine.ReadPool(context.Background(), id, engine.LastSeen{}); err != nil {
		t.Fatalf("read after a ClonePrep folder was deleted: %v", err)
	}
	if f.vc.FolderNamed(engine.ResyncFolder) != "" {
		t.Fatal("a read made the resync folder again")
	}
	if _, err := f.engine.ApplyPool(context.Background(), id, spec); err != nil {
		t.Fatalf("apply after a ClonePrep folder was deleted: %v", err)
	}
	if f.vc.FolderNamed(engine.ResyncFolder) == "" {
		t.Fatal("the next apply did not make the resync folder again")
	}
}

// TestReadsCreateNoFolder: on a vCenter the provider never wrote to, reading images and
// pools finds nothing and creates no folder.
func TestReadsCreateNoFolder(t *testing.T) {
	f := newOnFake(t, fake.Options{})
	ctx := context.Background()
	if _, err := f.engine.FindImageByName(ctx, "win11"); !isNotFound(err) {
		t.Fatalf("FindImageByName on an empty vCenter: %v, want not found", err)
	}
	if _, err := f.engine.ReadImage(ctx, "vm-1"); !isNotFound(err) {
		t.Fatalf("ReadImage on an empty vCenter: %v, want not found", err)
	}
	for _, name := range engine.ClonePrepFolders {
		if f.vc.FolderNamed(name) != "" {
			t.Errorf("a read made folder %s", name)
		}
	}
}

// TestReadPoolRoundTrips: one Read costs the same number of vCenter calls for a 10-clone and a
// 200-clone pool (a property-collector retrieve, never a call per VM), on the simulator.
func TestReadPoolRoundTrips(t *testing.T) {
	f := newFixture(t, vcsim.Options{})
	img := f.image(t)
	small := f.pool(t, "small", img, 10, f.datastores(4))
	large := f.pool(t, "large", img, 200, f.datastores(4))
	calls := func(id string) int64 {
		before := f.client.Calls()
		p, err := f.engine.ReadPool(context.Background(), id, engine.LastSeen{})
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

// TestReadPoolInOneCall: a read told where the pool was takes its clones and its hosts' and
// datastores' state in one call; told wrong (another resource pool, a datastore short), it
// reads the hosts and datastores once more. Every read finds the same drift.
func TestReadPoolInOneCall(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	p := f.create(t, poolSpec("d", f.image(t, "a"), 6, "datastore-1", "datastore-2"))
	f.vc.SetHostState("host-1", "entering maintenance mode")
	want := f.drift(t, p.ID)
	if !strings.Contains(want, "host that takes no VM now") {
		t.Fatalf("drift %q does not name the host entering maintenance mode", want)
	}
	for _, tt := range []struct {
		name         string
		last         engine.LastSeen
		environments int
	}{
		{"as last seen", engine.LastSeenOf(p), 0},
		{"another resource pool", engine.LastSeen{ResourcePool: "resgroup-other", Datastores: p.AllDatastores}, 1},
		{"a datastore short", engine.LastSeen{ResourcePool: p.Spec.ResourcePool, Datastores: p.AllDatastores[:1]}, 1},
	} {
		contents, envs, observes := f.vc.Calls("Contents"), f.vc.Calls("Environment"), f.vc.Calls("Observe")
		got, err := f.engine.ReadPool(ctx, p.ID, tt.last)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if d := strings.Join(got.Drift, "; "); d != want {
			t.Errorf("%s: drift %q, want %q", tt.name, d, want)
		}
		contents, envs, observes = f.vc.Calls("Contents")-contents, f.vc.Calls("Environment")-envs, f.vc.Calls("Observe")-observes
		if observes != 1 || contents != 0 || envs != tt.environments {
			t.Errorf("%s: %d Observe, %d Contents and %d Environment calls; want 1, 0 and %d", tt.name, observes, contents, envs, tt.environments)
		}
	}
}
