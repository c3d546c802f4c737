package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine/fake"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

// TestPublishImage: publishing makes the four ClonePrep folders and one template, marked as
// the image's and moved out of the resync folder; nothing is left in transit.
func TestPublishImage(t *testing.T) {
	f := newOnFake(t, fake.Options{})
	img, err := f.engine.PublishImage(context.Background(), engine.ImageSpec{Name: "win11", SourceVM: fake.GoldenPath})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range engine.ClonePrepFolders {
		if f.vc.FolderNamed(name) == "" {
			t.Errorf("folder %s missing after publish", name)
		}
	}
	templates := f.internal(engine.TemplateFolder)
	if len(templates) != 1 || templates[0].ID != img.TemplateVMID || templates[0].Name != "cp-template-"+img.ID {
		t.Fatalf("templates %+v, want one cp-template-%s (%s)", templates, img.ID, img.TemplateVMID)
	}
	if m := templates[0].Marks; m[engine.MarkImage] != img.ID || m[engine.MarkRole] != "template" || m[engine.MarkState] != "ready" {
		t.Fatalf("template marks %v", m)
	}
	if got := f.internal(engine.ResyncFolder); len(got) != 0 {
		t.Fatalf("left in the resync folder: %v", names(got))
	}
	if img.SnapshotID != fake.Snapshot || img.SnapshotName != fake.SnapshotName {
		t.Fatalf("snapshot %s (%s), want the current one", img.SnapshotID, img.SnapshotName)
	}
}

// TestPublishBadInput: a missing source VM or snapshot is an input error on its attribute,
// and nothing is created.
func TestPublishBadInput(t *testing.T) {
	tests := []struct {
		name string
		spec engine.ImageSpec
		attr string
	}{
		{"no such VM", engine.ImageSpec{Name: "x", SourceVM: "/DC0/vm/missing"}, "source_vm"},
		{"no such snapshot", engine.ImageSpec{Name: "x", SourceVM: fake.GoldenPath, Snapshot: "nope"}, "snapshot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newOnFake(t, fake.Options{})
			_, err := f.engine.PublishImage(context.Background(), tt.spec)
			ie, ok := engine.AsInputError(err)
			if !ok || ie.Attribute != tt.attr {
				t.Fatalf("want an input error on %s, got %v", tt.attr, err)
			}
			if n := f.vc.Calls("CloneVM"); n != 0 {
				t.Fatalf("%d clone(s) made for bad input", n)
			}
		})
	}
}

// TestRepublishAfterTemplateRemoved: a template removed out of band makes the image read as
// unpublished; republishing makes it again under the same image ID.
func TestRepublishAfterTemplateRemoved(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	img, err := f.engine.PublishImage(ctx, engine.ImageSpec{Name: "win11", SourceVM: fake.GoldenPath})
	if err != nil {
		t.Fatal(err)
	}
	f.vc.Delete(img.TemplateVMID)
	if _, err := f.engine.ReadImage(ctx, img.ID); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("image with its only internal VM gone: want not found, got %v", err)
	}
	again, err := f.engine.RepublishImage(ctx, *img)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != img.ID || !again.Published || again.TemplateVMID == img.TemplateVMID {
		t.Fatalf("republished %+v from %+v", again, img)
	}
}

// TestPublishFailureLeavesNothing: a template whose marking fails is removed again.
func TestPublishFailureLeavesNothing(t *testing.T) {
	f := newOnFake(t, fake.Options{})
	rule := f.vc.Inject(&fake.Fault{Method: "SetMarks", Count: 1, Err: errors.New("SystemError: marking refused")})
	if _, err := f.engine.PublishImage(context.Background(), engine.ImageSpec{Name: "x", SourceVM: fake.GoldenPath}); err == nil {
		t.Fatal("publish succeeded although marking its template failed")
	}
	if rule.Fired != 1 {
		t.Fatalf("fault fired %d times", rule.Fired)
	}
	for _, folder := range engine.ClonePrepFolders {
		if vms := f.internal(folder); len(vms) > 0 {
			t.Fatalf("left in %s: %v", folder, names(vms))
		}
	}
}

// TestParentsLinkedToReplica: on the simulator, each parent is a linked clone of its replica's
// snapshot, running in the pool's resource pool on its own host.
func TestParentsLinkedToReplica(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, vcsim.Options{})
	p := f.pool(t, "lnk", f.image(t), 2, f.datastores(1))
	pool := p.Spec.ResourcePool
	var parents, replicas []mo.VirtualMachine
	for _, vm := range f.vms(t) {
		var m mo.VirtualMachine
		if err := property.DefaultCollector(f.client.Vim()).RetrieveOne(ctx, vsphere.VMRef(vm.ID), []string{"name", "resourcePool", "runtime.host", "snapshot"}, &m); err != nil {
			t.Fatal(err)
		}
		switch vm.Marks[engine.MarkRole] {
		case "parent":
			parents = append(parents, m)
		case "replica":
			replicas = append(replicas, m)
		}
	}
	if len(replicas) != 1 || replicas[0].Snapshot == nil || len(replicas[0].Snapshot.RootSnapshotList) != 1 {
		t.Fatalf("replicas %d, want one with the snapshot parents are linked to", len(replicas))
	}
	hosts := map[string]bool{}
	for _, m := range parents {
		if m.ResourcePool == nil || m.ResourcePool.Value != pool {
			t.Errorf("parent %s runs in %v, want the pool's resource pool %s", m.Name, m.ResourcePool, pool)
		}
		hosts[m.Runtime.Host.Value] = true
	}
	if len(parents) != 2 || len(hosts) != 2 {
		t.Fatalf("%d parents on %d hosts, want one on each of the 2 hosts", len(parents), len(hosts))
	}
}

// TestPublishComputeProfile: an image's compute profile is given to its template (which its
// replicas, parents and clones copy), is read back with the image, and costs no call when
// the image sets none.
func TestPublishComputeProfile(t *testing.T) {
	f := newOnFake(t, fake.Options{})
	ctx := context.Background()
	want := engine.Hardware{NumCPUs: 4, CoresPerSocket: 2, MemoryMB: 8192}
	img, err := f.engine.PublishImage(ctx, engine.ImageSpec{Name: "win11", SourceVM: fake.GoldenPath, Hardware: &want})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.vc.Hardware(img.TemplateVMID); got != want {
		t.Fatalf("template hardware %+v, want %+v", got, want)
	}
	read, err := f.engine.ReadImage(ctx, img.ID)
	if err != nil {
		t.Fatal(err)
	}
	if read.Hardware == nil || *read.Hardware != want {
		t.Fatalf("image read back with %+v, want %+v", read.Hardware, want)
	}
	if _, err := f.engine.PublishImage(ctx, engine.ImageSpec{Name: "plain", SourceVM: fake.GoldenPath}); err != nil {
		t.Fatal(err)
	}
	if n := f.vc.Calls("SetHardware"); n != 1 {
		t.Fatalf("SetHardware called %d times for one image with a profile and one without", n)
	}
}

// TestFrozenParents: with parent_ready = frozen, no clone is made from a parent before its
// guest froze; one that never freezes fails the create, naming it.
func TestFrozenParents(t *testing.T) {
	ctx := context.Background()
	frozenImage := func(f *onFake) string {
		img, err := f.engine.PublishImage(ctx, engine.ImageSpec{Name: "w", SourceVM: fake.GoldenPath, ParentReady: engine.ParentFrozen, FreezeTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return img.ID
	}
	t.Run("never freezes", func(t *testing.T) {
		f := newOnFake(t, fake.Options{Hosts: 1})
		_, err := f.engine.CreatePool(ctx, poolSpec("d", frozenImage(f), 2, "datastore-1"))
		if err == nil || !strings.Contains(err.Error(), "did not freeze within 1s") || !strings.Contains(err.Error(), "cp-parent-") {
			t.Fatalf("create = %v, want the parent named as never frozen", err)
		}
		if n := f.vc.Calls("InstantClone"); n != 0 {
			t.Fatalf("%d clones made from an unfrozen parent", n)
		}
	})
	t.Run("freezes", func(t *testing.T) {
		f := newOnFake(t, fake.Options{Hosts: 1})
		image := frozenImage(f)
		go func() { // the parent's guest freezes itself a moment after it is built
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if ps := f.internal(engine.ParentFolder); len(ps) == 1 {
					f.vc.Tamper(ps[0].ID, func(vm *engine.VM) { vm.Frozen = true })
					return
				}
			}
		}()
		pool, err := f.engine.CreatePool(ctx, poolSpec("d", image, 2, "datastore-1"))
		if err != nil || len(pool.Clones) != 2 {
			t.Fatalf("create = %v, %v", pool, err)
		}
	})
}
