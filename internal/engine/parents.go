package engine

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Parents wear out. An instant clone of a running parent that is not frozen adds a delta disk
// to the parent, and "once this number reaches 255, InstantClone operation will start
// failing" (VMware KB 67186). So each parent counts the instant clones asked of it (mark
// instantclone.clones, written before the clones are made, so a run cut short over-counts,
// never under-counts), and once it reaches parentCloneLimit the next generation of parent
// for that datastore and host is built from the replica and takes over. Each clone is marked
// with the parent it forked from (instantclone.parent); an older generation is removed once
// no clone is marked with it and no clone of this process is being made from it.

// parentCloneLimit is how many instant clones a parent makes before it is replaced: well
// before the 255 delta disks at which vCenter refuses more.
const parentCloneLimit = 200

// parentSlot is the current parent of an image on one (datastore, host).
type parentSlot struct {
	key        placementKey
	id         string
	generation int
	made       int // instant clones asked of it, as its mark says
}

// parentName is the name of an image's parent on (ds, host) of a generation (1, 2, ...).
func parentName(imageID, ds, host string, generation int) string {
	base := "cp-parent-" + imageID + "-" + ds + "-" + host
	if generation <= 1 {
		return base
	}
	return base + "-g" + strconv.Itoa(generation)
}

// parentGeneration tells which generation of parent name is for (ds, host), or 0.
func parentGeneration(name, imageID, ds, host string) int {
	base := parentName(imageID, ds, host, 1)
	if name == base {
		return 1
	}
	g, err := strconv.Atoi(strings.TrimPrefix(name, base+"-g"))
	if !strings.HasPrefix(name, base+"-g") || err != nil || g < 2 {
		return 0
	}
	return g
}

// parentVM is one ready parent with its generation.
type parentVM struct {
	VM
	generation int
}

// parents lists the image's ready parents on (ds, host), oldest generation first.
func (s *internalSet) parents(imageID, ds, host string) []parentVM {
	var out []parentVM
	for _, vm := range s.vms {
		if vm.Folder != s.folders[ParentFolder] || vm.Marks[MarkImage] != imageID ||
			vm.Marks[MarkRole] != roleParent || vm.Marks[MarkState] != stateReady {
			continue
		}
		if g := parentGeneration(vm.Name, imageID, ds, host); g > 0 {
			out = append(out, parentVM{vm, g})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].generation < out[j].generation })
	return out
}

// parent is the image's current parent on (ds, host): its newest generation.
func (s *internalSet) parent(imageID, ds, host string) *VM {
	ps := s.parents(imageID, ds, host)
	if len(ps) == 0 {
		return nil
	}
	return &ps[len(ps)-1].VM
}

func slotOf(p parentVM, key placementKey) *parentSlot {
	made, _ := strconv.Atoi(p.Marks[MarkClones])
	return &parentSlot{key: key, id: p.ID, generation: p.generation, made: made}
}

// publication is an image published onto a pool's datastores and hosts: what assigning
// parents to clones needs.
type publication struct {
	img          *Image
	folders      map[string]string
	replicas     map[string]string // datastore → replica
	parents      map[placementKey]*parentSlot
	resourcePool string
	lockCtx      context.Context // the image lock the publish took, until handed over or released
	unlock       func()
}

// imageLock hands over the image lock the publish took, the first time; after that it takes
// the lock again. The caller runs the returned unlock.
func (e *Engine) imageLock(ctx context.Context, pub *publication) (context.Context, func(), error) {
	if pub.unlock == nil {
		return e.lock(ctx, imageKey(pub.img.ID))
	}
	lctx, unlock := pub.lockCtx, pub.unlock
	pub.lockCtx, pub.unlock = nil, nil
	return lctx, unlock, nil
}

// releaseLock lets go of the image lock the publish took if nothing took it over; nil-safe.
func (pub *publication) releaseLock() {
	if pub != nil && pub.unlock != nil {
		pub.unlock()
		pub.lockCtx, pub.unlock = nil, nil
	}
}

// assignParents gives every job the parent it forks from, replacing parents that reached
// parentCloneLimit, and records on each parent the clones it is about to make.
func (e *Engine) assignParents(ctx context.Context, pub *publication, jobs []cloneJob) error {
	if len(jobs) == 0 {
		return nil
	}
	ctx, unlock, err := e.imageLock(ctx, pub)
	if err != nil {
		return err
	}
	defer unlock()
	byKey := map[placementKey][]int{}
	for i, j := range jobs {
		k := placementKey{j.Datastore, j.Host}
		byKey[k] = append(byKey[k], i)
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for key, idx := range byKey {
		g.Go(func() error {
			mu.Lock()
			slot, ok := pub.parents[key]
			mu.Unlock()
			if !ok {
				return fmt.Errorf("no parent VM of image %s on %s/%s", pub.img.ID, key.Datastore, key.Host)
			}
			taken := 0
			for _, i := range idx {
				if slot.made+taken >= parentCloneLimit {
					next, err := e.replaceParent(gctx, pub, slot, taken)
					if err != nil {
						return err
					}
					slot, taken = next, 0
				}
				mu.Lock()
				jobs[i].Parent = slot.id
				mu.Unlock()
				e.inFlight.add(slot.id, 1)
				taken++
			}
			if err := e.reserve(gctx, slot, taken); err != nil {
				return err
			}
			mu.Lock()
			pub.parents[key] = slot
			mu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

// reserve records on a parent the clones about to be asked of it, and which run asked when:
// another run's garbage collection leaves a replaced parent alone while this run may still
// be forking clones from it (otherReservation).
func (e *Engine) reserve(ctx context.Context, slot *parentSlot, n int) error {
	if n == 0 {
		return nil
	}
	now, err := e.leases.now(ctx)
	if err != nil {
		return err
	}
	slot.made += n
	marks := Marks{MarkClones: strconv.Itoa(slot.made), MarkReserved: stamp(now) + " " + e.leases.Holder()}
	if err := e.vc.SetMarks(ctx, VMObject(slot.id), marks); err != nil {
		return fmt.Errorf("counting the clones of parent VM %s: %w", slot.id, err)
	}
	return nil
}

// reservationGrace is how long after another run reserved clones of a parent the parent is
// kept for them: a run makes the clones it reserved well within it (a thousand clones, twenty
// at once, half a minute each, take 25 minutes).
const reservationGrace = time.Hour

// otherReservation tells whether another run reserved clones of parent p less than
// reservationGrace before now; this run's own are counted in flight instead.
func (e *Engine) otherReservation(p VM, now time.Time) bool {
	at, holder, _ := strings.Cut(p.Marks[MarkReserved], " ")
	t, err := time.Parse(time.RFC3339Nano, at)
	return err == nil && holder != e.leases.Holder() && now.Sub(t) < reservationGrace
}

// replaceParent records the last clones of a worn parent and builds its successor.
func (e *Engine) replaceParent(ctx context.Context, pub *publication, old *parentSlot, taken int) (*parentSlot, error) {
	if err := e.reserve(ctx, old, taken); err != nil {
		return nil, err
	}
	e.log.Info(ctx, "replacing a parent VM before its delta chain nears vCenter's limit", map[string]any{
		"image": pub.img.ID, "parent": old.id, "clones": old.made, "datastore": old.key.Datastore, "host": old.key.Host,
	})
	next := old.generation + 1
	id, err := e.buildParent(ctx, pub, pub.replicas[old.key.Datastore], old.key, next)
	if err != nil {
		return nil, err
	}
	if err := e.awaitFrozen(ctx, pub, id); err != nil {
		return nil, err
	}
	return &parentSlot{key: old.key, id: id, generation: next}, nil
}

// buildParent builds an image's parent of a generation on (ds, host): a linked clone of the
// replica's snapshot, run in the pool's resource pool on that host.
func (e *Engine) buildParent(ctx context.Context, pub *publication, replicaID string, key placementKey, generation int) (string, error) {
	snapshot, err := e.replicaSnapshot(ctx, replicaID)
	if err != nil {
		return "", err
	}
	return e.buildInternal(ctx, pub.img, pub.folders, roleParent, CloneSpec{
		Source: replicaID, SnapshotID: snapshot, Linked: true, Name: parentName(pub.img.ID, key.Datastore, key.Host, generation),
		Datastore: key.Datastore, Host: key.Host, Pool: pub.resourcePool, PowerOn: true,
	})
}

// retiredParents lists the image's parents that a newer generation replaced, that no clone is
// marked as forked from and that no clone is being made from (busy).
func retiredParents(internal *internalSet, imageID string, clones []VM, busy func(VM) bool) []VM {
	forked := map[string]bool{}
	for _, c := range clones {
		forked[c.Marks[MarkParent]] = true
	}
	keys := map[placementKey]bool{}
	for _, vm := range internal.ofImage(imageID, roleParent) {
		keys[placementKey{vm.Datastore, vm.Host}] = true
	}
	var out []VM
	for k := range keys {
		ps := internal.parents(imageID, k.Datastore, k.Host)
		for _, p := range ps[:max(0, len(ps)-1)] {
			if !forked[p.ID] && !busy(p.VM) {
				out = append(out, p.VM)
			}
		}
	}
	return out
}

// inFlight counts, per parent, the clones this process is making from it, so that garbage
// collection (which another pool's apply may run meanwhile) leaves those parents alone.
type inFlight struct {
	mu sync.Mutex
	n  map[string]int
}

func (f *inFlight) add(parent string, d int) {
	if parent == "" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == nil {
		f.n = map[string]int{}
	}
	f.n[parent] += d
	if f.n[parent] <= 0 {
		delete(f.n, parent)
	}
}

func (f *inFlight) busy(parent string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n[parent] > 0
}
