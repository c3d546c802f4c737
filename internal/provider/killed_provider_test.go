package provider_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/acctest"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// TestAccProviderKilled: the provider process is killed (SIGKILL: no deferred cleanup, its
// locks left held) in the middle of creating a pool, of pushing a new image to it, and of
// destroying it. Each time the next apply waits for the dead run's lock to expire, takes it
// over, and converges: the inventory matches state, the plan is empty, nothing is leaked or
// built twice, and no lock is left.
func TestAccProviderKilled(t *testing.T) {
	acctest.PreCheck(t)
	acctest.PreCheckInterrupt(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	env.ProviderSettings = `lock_ttl = "4s"`
	run := acctest.NewCLIRun(t, env)
	images := imageHCL("a", "win11-a") + imageHCL("b", "win11-b")
	pool := func(image string) string {
		return images + poolHCL(env, poolArgs{label: "p", name: "killed", image: image, datastores: []string{env.Datastore(0), env.Datastore(1)}, size: 6})
	}
	run.Configure(t, images)
	run.Apply(t)

	for _, step := range []struct {
		name, image string
		nth         int // the InstantClone_Task call the provider dies at
	}{
		{"mid-create", "a", 3},
		{"mid-push", "b", 2},
	} {
		t.Logf("%s: killing the provider at InstantClone_Task call %d", step.name, step.nth)
		run.Configure(t, pool(step.image))
		kill := run.KillProviderAt(t, step.nth, "InstantClone_Task")
		code, out := run.Run(t, "apply", "-auto-approve")
		kill.Stop()
		if code == 0 || !kill.Fired() {
			t.Fatalf("%s: apply exit %d, provider killed: %v; want the apply cut short by the kill:\n%s", step.name, code, kill.Fired(), out)
		}
		if !strings.Contains(strings.ToLower(out), "plugin") {
			t.Fatalf("%s: the apply failed, but not because its provider died:\n%s", step.name, out)
		}
		dead := env.LockFolders(t)
		if len(dead) == 0 {
			t.Fatalf("%s: the killed run left no lock: it held none while it worked", step.name)
		}
		for _, l := range dead {
			t.Logf("%s: lock %s left by %q, expiring %s", step.name, l.Name, l.Marks[engine.MarkLockHolder], l.Marks[engine.MarkLockExpires])
		}

		run.Apply(t)
		if err := checkConverged(t, env, run, "killed", 6, step.image); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		for _, l := range env.LockFolders(t) {
			t.Fatalf("%s: lock %s (%s) still held after the converging apply", step.name, l.Name, l.ID)
		}
		run.PlanIsEmpty(t)
	}

	t.Log("mid-delete: killing the provider at Destroy_Task call 3")
	kill := run.KillProviderAt(t, 3, "Destroy_Task")
	code, out := run.Run(t, "destroy", "-auto-approve")
	kill.Stop()
	if code == 0 || !kill.Fired() {
		t.Fatalf("mid-delete: destroy exit %d, provider killed: %v; want the destroy cut short by the kill:\n%s", code, kill.Fired(), out)
	}
	if code, out := run.Run(t, "destroy", "-auto-approve"); code != 0 {
		t.Fatalf("destroy after the kill: exit %d:\n%s", code, out)
	}
	if err := env.CheckOnlyGoldenLeft(t); err != nil {
		t.Fatal(err)
	}
}

// checkConverged checks a pool of size clones, all of image (a resource label), against both
// state and vCenter: the same clones, every internal VM once, only those the pool needs (a
// replica per datastore, a parent per datastore and host), nothing in transit.
func checkConverged(t *testing.T, env *acctest.Env, run *acctest.CLIRun, pool string, size int, image string) error {
	if err := env.CheckPoolClones(t, pool, size); err != nil {
		return err
	}
	if err := env.CheckNoDuplicateInternalVMs(t); err != nil {
		return err
	}
	state := run.StateClones(t, "instantclone_pool.p")
	imageID := ""
	for _, vm := range env.VMsInFolder(t, pool) {
		if state[vm.ID] != vm.Name {
			return fmt.Errorf("clone %s (%s) in vCenter, state has %v", vm.Name, vm.ID, state)
		}
		if imageID == "" {
			imageID = vm.Marks[engine.MarkImage]
		}
		if vm.Marks[engine.MarkImage] != imageID {
			return fmt.Errorf("clones of two images in the pool: %s and %s", imageID, vm.Marks[engine.MarkImage])
		}
	}
	if len(state) != size {
		return fmt.Errorf("state holds %d clones, want %d", len(state), size)
	}
	if left := env.VMsInFolder(t, engine.ResyncFolder); len(left) > 0 {
		return fmt.Errorf("left in transit: %v", acctest.Names(left))
	}
	replicas, parents := env.VMsInFolder(t, engine.ReplicaFolder), env.VMsInFolder(t, engine.ParentFolder)
	if len(replicas) != 2 || len(parents) != 2*len(env.Hosts()) {
		return fmt.Errorf("replicas %v and parents %v, want the pool's 2 and %d only", acctest.Names(replicas), acctest.Names(parents), 2*len(env.Hosts()))
	}
	for _, vm := range append(replicas, parents...) {
		if vm.Marks[engine.MarkImage] != imageID {
			return fmt.Errorf("internal VM %s belongs to image %s, the pool runs %s (image %s)", vm.Name, vm.Marks[engine.MarkImage], imageID, image)
		}
	}
	return nil
}
