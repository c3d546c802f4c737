package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine/fake"
)

// otherRunsTemplate publishes an image, removes its template out of band and starts, as
// another run would, a new template of the same name in the resync folder.
func otherRunsTemplate(t *testing.T, f *onFake) (*engine.Image, string) {
	t.Helper()
	ctx := context.Background()
	img, err := f.engine.PublishImage(ctx, engine.ImageSpec{Name: "win11", SourceVM: fake.GoldenPath})
	if err != nil {
		t.Fatal(err)
	}
	f.vc.Delete(img.TemplateVMID)
	theirs, err := f.vc.CloneVM(ctx, engine.CloneSpec{Source: fake.GoldenVM, SnapshotID: fake.Snapshot, Folder: f.vc.FolderNamed(engine.ResyncFolder), Name: "cp-template-" + img.ID})
	if err != nil {
		t.Fatal(err)
	}
	return img, theirs
}

// TestInternalVMAnotherRunBuilds: finding the internal VM it is about to build under
// construction by another run, the engine waits for it and uses it instead of failing with
// DuplicateName or building a second one.
func TestInternalVMAnotherRunBuilds(t *testing.T) {
	f := newOnFake(t, fake.Options{})
	img, theirs := otherRunsTemplate(t, f)
	go func() {
		time.Sleep(300 * time.Millisecond)
		ctx := context.Background()
		_ = f.vc.SetMarks(ctx, engine.VMObject(theirs), engine.Marks{engine.MarkImage: img.ID, engine.MarkRole: "template", engine.MarkState: "ready"})
		_ = f.vc.MoveIntoFolder(ctx, f.vc.FolderNamed(engine.TemplateFolder), theirs)
	}()
	got, err := f.engine.RepublishImage(context.Background(), *img)
	if err != nil {
		t.Fatal(err)
	}
	if got.TemplateVMID != theirs {
		t.Fatalf("template %s, want the other run's %s", got.TemplateVMID, theirs)
	}
	if ts := f.internal(engine.TemplateFolder); len(ts) != 1 || len(f.internal(engine.ResyncFolder)) != 0 {
		t.Fatalf("templates %v, resync %v: want the one template only", names(ts), names(f.internal(engine.ResyncFolder)))
	}
}

// TestInternalVMLeftUnfinished: an internal VM that stays unfinished for a whole lock TTL was
// left by a run that died; it is removed and built again.
func TestInternalVMLeftUnfinished(t *testing.T) {
	f := newOnFake(t, fake.Options{})
	f.engine.SetLockTTL(time.Second)
	img, leftover := otherRunsTemplate(t, f)
	start := time.Now()
	got, err := f.engine.RepublishImage(context.Background(), *img)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < time.Second {
		t.Fatalf("the unfinished VM was removed after %s, before a lock TTL", time.Since(start))
	}
	if got.TemplateVMID == leftover {
		t.Fatal("the unfinished VM was taken as the template")
	}
	if ts := f.internal(engine.TemplateFolder); len(ts) != 1 || ts[0].ID != got.TemplateVMID || len(f.internal(engine.ResyncFolder)) != 0 {
		t.Fatalf("templates %v, resync %v: want the new template only", names(ts), names(f.internal(engine.ResyncFolder)))
	}
}
