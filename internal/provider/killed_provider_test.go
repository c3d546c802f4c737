package provider_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/instantclone/terraform-provider-instantclone/internal/acctest"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// TestAccProviderKilled: the provider process is killed (SIGKILL: no deferred cleanup, its
// locks left held) in the middle of creating a pool, of pushing a new image to it, of
// attaching a datastore, of detaching it and of destroying the pool; the CLI itself is killed in the middle of a
// resize. Each time the next apply waits for the dead run's lock to expire, takes it over,
// and converges: the inventory matches state, the plan is empty, nothing is leaked or built
// twice, and no lock is left.
// lockTTL is the providers' lock_ttl in TestAccProviderKilled.
const lockTTL = 4 * time.Second

func TestAccProviderKilled(t *testing.T) {
	acctest.PreCheck(t)
	acctest.PreCheckInterrupt(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	env.ProviderSettings = fmt.Sprintf("lock_ttl = %q", lockTTL)
	run := acctest.NewCLIRun(t, env)
	images := imageHCL("a", "win11-a") + imageHCL("b", "win11-b")
	two := []string{env.Datastore(0), env.Datastore(1)}
	pool := func(image string, size int, more string) string {
		return images + poolHCL(env, poolArgs{label: "test", name: "killed", image: image, datastores: two, size: size}) + more
	}
	attached := attachHCL("extra", env.Datastore(2), "immediate")
	run.Configure(t, images)
	run.Apply(t)

	for _, step := range []struct {
		name   string
		config string
		who    acctest.Killed
		method string
		nth    int // the call of method the process dies at
		// what the converged pool holds
		image      string
		size       int
		datastores int
	}{
		{"mid-create", pool("a", 6, ""), acctest.KillProvider, "InstantClone_Task", 3, "a", 6, 2},
		{"mid-push", pool("b", 6, ""), acctest.KillProvider, "InstantClone_Task", 2, "b", 6, 2},
		{"mid-resize, CLI killed", pool("b", 9, ""), acctest.KillCLI, "InstantClone_Task", 2, "b", 9, 2},
		{"mid-attach", pool("b", 9, attached), acctest.KillProvider, "InstantClone_Task", 1, "b", 9, 3},
		{"mid-detach", pool("b", 9, ""), acctest.KillProvider, "InstantClone_Task", 1, "b", 9, 2},
	} {
		t.Logf("%s: killing the %s at %s call %d", step.name, step.who, step.method, step.nth)
		run.Configure(t, step.config)
		kill := run.KillAt(t, step.who, step.nth, step.method)
		code, out := run.Run(t, "apply", "-auto-approve")
		kill.Stop()
		if code == 0 || !kill.Fired() {
			t.Fatalf("%s: apply exit %d, killed: %v; want the apply cut short by the kill:\n%s", step.name, code, kill.Fired(), out)
		}
		if step.who == acctest.KillProvider && !strings.Contains(strings.ToLower(out), "plugin") {
			t.Fatalf("%s: the apply failed, but not because its provider died:\n%s", step.name, out)
		}
		// A provider killed mid-task cannot let its lock go. A killed CLI leaves its provider
		// running, which may finish the work and let the lock go before it dies.
		dead := env.LockFolders(t)
		if len(dead) == 0 {
			if step.who == acctest.KillProvider {
				t.Fatalf("%s: the killed run left no lock: it held none while it worked", step.name)
			}
			t.Logf("%s: the killed CLI's provider finished and let its lock go", step.name)
		}
		for _, l := range dead {
			t.Logf("%s: lock %s left by %q, expiring %s", step.name, l.Name, l.Marks[engine.MarkLockHolder], l.Marks[engine.MarkLockExpires])
		}

		run.Apply(t)
		if err := checkConverged(t, env, run, "killed", step.size, step.datastores); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		checkNoLiveLock(t, env, step.name, dead)
		run.PlanIsEmpty(t)
	}

	t.Log("mid-delete: killing the provider at Destroy_Task call 3")
	kill := run.KillAt(t, acctest.KillProvider, 3, "Destroy_Task")
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

// checkNoLiveLock fails when a lock is left after the converging apply that is not one the
// killed run left, or that is still renewed. A killed CLI leaves its provider running: when
// that provider finished the work before it died, the converging apply had none to do and
// took no lock, so the dead run's lock stays until a run needs it; it must have expired.
func checkNoLiveLock(t *testing.T, env *acctest.Env, step string, dead []engine.Folder) {
	t.Helper()
	left := env.LockFolders(t)
	if len(left) == 0 {
		return
	}
	killed := map[string]string{}
	for _, l := range dead {
		killed[l.ID] = l.Marks[engine.MarkLockHolder]
	}
	for _, l := range left {
		if holder, ok := killed[l.ID]; !ok || holder != l.Marks[engine.MarkLockHolder] {
			t.Fatalf("%s: lock %s (%s) held by %q after the converging apply", step, l.Name, l.ID, l.Marks[engine.MarkLockHolder])
		}
	}
	time.Sleep(lockTTL + time.Second)
	for _, later := range env.LockFolders(t) {
		for _, l := range left {
			if later.ID == l.ID && later.Marks[engine.MarkLockExpires] != l.Marks[engine.MarkLockExpires] {
				t.Fatalf("%s: lock %s of the killed run %q is still renewed: its run is alive", step, l.Name, l.Marks[engine.MarkLockHolder])
			}
		}
	}
	t.Logf("%s: the killed run's lock %s stays, expired, for the next run that needs it", step, left[0].Name)
}

// checkConverged checks a pool of size clones of one image on datastores datastores against
// both state and vCenter: the same clones, every internal VM once, only those the pool needs
// (a replica per datastore, a parent per datastore and host), nothing in transit.
func checkConverged(t *testing.T, env *acctest.Env, run *acctest.CLIRun, pool string, size, datastores int) error {
	if err := env.CheckPoolClones(t, pool, size); err != nil {
		return err
	}
	if err := env.CheckNoDuplicateInternalVMs(t); err != nil {
		return err
	}
	state := run.StateClones(t, "instantclone_pool.test")
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
	if len(replicas) != datastores || len(parents) != datastores*len(env.Hosts()) {
		return fmt.Errorf("replicas %v and parents %v, want the pool's %d and %d only", acctest.Names(replicas), acctest.Names(parents), datastores, datastores*len(env.Hosts()))
	}
	for _, vm := range append(replicas, parents...) {
		if vm.Marks[engine.MarkImage] != imageID {
			return fmt.Errorf("internal VM %s belongs to image %s, the pool runs %s", vm.Name, vm.Marks[engine.MarkImage], imageID)
		}
	}
	return nil
}
