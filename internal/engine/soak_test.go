//go:build soak

package engine_test

import (
	"context"
	"math/rand"
	"slices"
	"testing"

	"github.com/vmware/govmomi/simulator"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// TestSoak runs 50 rounds of random operations (resize, push-image, attach, detach, clones
// destroyed or relocated out of band) with vCenter faults at a low probability, then repairs
// and checks the invariant after every round: the pool as declared, balanced, on its image,
// nothing leaked, nothing duplicated, no internal VM without a user. Run it with `make soak`.
func TestSoak(t *testing.T) {
	const rounds = 50
	ctx := context.Background()
	f := newFixture(t, vcsim.Options{Datastores: 4})
	rng := rand.New(rand.NewSource(20261124))
	imgA := f.image(t)
	b, err := f.engine.PublishImage(ctx, engine.ImageSpec{Name: "b", SourceVM: vcsim.GoldenVMPath, Snapshot: vcsim.SnapshotBase})
	if err != nil {
		t.Fatal(err)
	}
	images := []string{imgA, b.ID}
	all := f.datastores(4)
	spec := f.spec("soak", imgA, 8, all[:2])
	pool, err := f.engine.CreatePool(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	attached := ""
	faults := f.srv.Faults()
	arm := func() {
		for _, m := range []string{"InstantClone_Task", "Destroy_Task", "PowerOffVM_Task", "CloneVM_Task"} {
			for _, kind := range []simulator.FaultType{simulator.FaultTypeInsufficientResourcesFault, simulator.FaultTypeGeneric} {
				faults.AddRule(&simulator.FaultInjectionRule{MethodName: m, ObjectType: "*", ObjectName: "*",
					Probability: 0.02, FaultType: kind, Enabled: true, Message: "soak fault"})
			}
		}
	}
	failed, checks := 0, 0
	for round := 1; round <= rounds; round++ {
		arm()
		var opErr error
		op := rng.Intn(6)
		switch op {
		case 0: // resize
			spec.Size = 2 + rng.Intn(14)
			_, opErr = f.engine.ApplyPool(ctx, pool.ID, spec)
		case 1: // push-image
			spec.ImageID = images[rng.Intn(2)]
			_, opErr = f.engine.ApplyPool(ctx, pool.ID, spec)
		case 2: // attach or detach the third datastore
			if attached == "" {
				attached = all[2]
				_, opErr = f.engine.Attach(ctx, pool.ID, attached, "")
			} else {
				opErr = f.engine.Detach(ctx, pool.ID, attached, "")
				attached = ""
			}
		case 3: // a datastore of the pool's own comes or goes
			if len(spec.Datastores) == 2 {
				spec.Datastores = []string{all[0], all[1], all[3]}
			} else {
				spec.Datastores = all[:2]
			}
			_, opErr = f.engine.ApplyPool(ctx, pool.ID, spec)
		case 4, 5: // out of band: destroy or relocate a clone
			p, err := f.engine.ReadPool(ctx, pool.ID, engine.LastSeen{})
			if err != nil || len(p.Clones) == 0 {
				break
			}
			c := p.Clones[rng.Intn(len(p.Clones))]
			faults.ClearRules()
			if op == 4 {
				err = f.client.DestroyVM(ctx, c.ID)
			} else {
				var elsewhere []string
				for _, ds := range all {
					if !slices.Contains(p.AllDatastores, ds) {
						elsewhere = append(elsewhere, ds)
					}
				}
				err = f.client.RelocateVM(ctx, c.ID, elsewhere[rng.Intn(len(elsewhere))])
			}
			if err != nil {
				t.Fatalf("round %d: out-of-band change: %v", round, err)
			}
			p, _ = f.engine.ReadPool(ctx, pool.ID, engine.LastSeen{})
			if len(p.Drift) == 0 {
				t.Fatalf("round %d: the out-of-band change shows no drift", round)
			}
		}
		faults.ClearRules()
		if opErr != nil {
			failed++
			t.Logf("round %d: operation %d failed under faults: %v", round, op, opErr)
			if attached != "" && op == 2 {
				if _, err := f.engine.Attach(ctx, pool.ID, attached, ""); err != nil {
					t.Fatalf("round %d: attaching again: %v", round, err)
				}
			}
		}
		// The next apply converges.
		if _, err := f.engine.ApplyPool(ctx, pool.ID, spec); err != nil {
			t.Fatalf("round %d: converging: %v", round, err)
		}
		f.checkConverged(t, pool.ID, spec.Size)
		f.checkInternalNeeded(t, spec.ImageID)
		checks++
	}
	t.Logf("soak: %d rounds, %d operations failed under injected faults and were repaired, %d invariant checks passed", rounds, failed, checks)
}

// checkInternalNeeded checks that every replica and parent belongs to the pool's image and sits
// on one of its datastores: no internal VM without a user.
func (f *fixture) checkInternalNeeded(t *testing.T, image string) {
	t.Helper()
	vms, err := f.client.AllVMs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.engine.FindPoolByName(context.Background(), "soak")
	if err != nil {
		t.Fatal(err)
	}
	for _, vm := range vms {
		role := vm.Marks[engine.MarkRole]
		if role != "replica" && role != "parent" {
			continue
		}
		if vm.Marks[engine.MarkImage] != image || !slices.Contains(p.AllDatastores, vm.Datastore) {
			t.Fatalf("internal VM %s is needed by no pool (pool on %s over %v)", vm.Name, image, p.AllDatastores)
		}
	}
}
