package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
)

// collectGarbage removes the replicas and parents of the given images that no pool needs any
// more, in the same apply (Horizon takes up to 30 minutes). A pool needs an image's replica on
// each datastore it places clones on and a parent on each of those (datastore, host) pairs,
// for its current image and for one it is being pushed to. Templates stay: they go with the
// image resource.
//
// converged, when set, is the record of the pool just converged: an image it holds whole
// (wholeInUse) has nothing to collect, and is neither locked nor read.
func (e *Engine) collectGarbage(ctx context.Context, converged *poolRecord, imageIDs ...string) error {
	// Also every other image with replicas or parents: a collection that failed earlier
	// (a fault, an interrupted apply) is finished by the next one.
	internal, err := e.internalVMs(ctx)
	if err != nil {
		return err
	}
	for _, vm := range internal.vms {
		if role := vm.Marks[MarkRole]; role == roleReplica || role == roleParent {
			imageIDs = append(imageIDs, vm.Marks[MarkImage])
		}
	}
	for _, imageID := range union(imageIDs, nil) {
		if converged != nil && wholeInUse(internal, imageID, converged) {
			continue
		}
		if err := e.collectImage(ctx, imageID); err != nil {
			return err
		}
	}
	return nil
}

// wholeInUse: every replica and parent of the image is where rec, a pool on the image, needs
// one, and no place holds two parents (an older generation to retire). Whatever other pools
// need, nothing of the image is unused.
func wholeInUse(internal *internalSet, imageID string, rec *poolRecord) bool {
	replicas, parents := neededPlaces(map[string]*poolRecord{"": rec}, imageID)
	seen := map[placementKey]bool{}
	for _, vm := range internal.ofImage(imageID, roleReplica, roleParent) {
		switch key := (placementKey{vm.Datastore, vm.Host}); vm.Marks[MarkRole] {
		case roleReplica:
			if !replicas[vm.Datastore] {
				return false
			}
		case roleParent:
			if !parents[key] || seen[key] {
				return false
			}
			seen[key] = true
		}
	}
	return true
}

func (e *Engine) collectImage(ctx context.Context, imageID string) error {
	ctx, unlock, err := e.lock(ctx, imageKey(imageID))
	if err != nil {
		return err
	}
	defer unlock()
	recs, folders, vms, err := e.imageUsers(ctx, imageID)
	if err != nil {
		return fmt.Errorf("collecting unused internal VMs of image %s: %w", imageID, err)
	}
	replicas, parents := neededPlaces(recs, imageID)
	pools := poolsOf(recs, imageID)
	internal := &internalSet{folders: folders}
	var clones []VM
	for _, vm := range vms {
		if slices.Contains(pools, vm.Folder) {
			clones = append(clones, vm)
		} else {
			internal.vms = append(internal.vms, vm)
		}
	}
	now, err := e.leases.now(ctx)
	if err != nil {
		return err
	}
	retired := retiredParents(internal, imageID, clones, func(p VM) bool {
		return e.inFlight.busy(p.ID) || e.otherReservation(p, now)
	})
	var unused []VM
	for _, vm := range internal.ofImage(imageID, roleReplica, roleParent) {
		switch {
		case vm.Marks[MarkRole] == roleReplica && !replicas[vm.Datastore]:
			unused = append(unused, vm)
		case vm.Marks[MarkRole] == roleParent && (!parents[placementKey{vm.Datastore, vm.Host}] || slices.ContainsFunc(retired, func(r VM) bool { return r.ID == vm.ID })):
			unused = append(unused, vm)
		}
	}
	if len(unused) == 0 {
		return nil
	}
	e.log.Info(ctx, "removing internal VMs no pool needs", map[string]any{"image": imageID, "count": len(unused)})
	return e.removeVMs(ctx, unused, "unused internal VM")
}

// imageUsers reads the records of every pool, and in one retrieve the clones of the pools
// that use an image with the internal VMs. A pool deleted between the two reads (by another
// apply of this run) makes the retrieve miss its folder: the records are read again.
func (e *Engine) imageUsers(ctx context.Context, imageID string) (map[string]*poolRecord, map[string]string, []VM, error) {
	for attempt := 1; ; attempt++ {
		recs, err := e.poolRecords(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		folders, _, vms, err := e.readWithClonePrep(ctx, poolsOf(recs, imageID)...)
		if errors.Is(err, ErrNotFound) && attempt < 3 {
			continue
		}
		return recs, folders, vms, err
	}
}

// neededPlaces names the datastores (for replicas) and (datastore, host) pairs (for parents)
// where some pool's record places clones of an image, as its current image or the one it is
// being pushed to.
func neededPlaces(recs map[string]*poolRecord, imageID string) (map[string]bool, map[placementKey]bool) {
	replicas, parents := map[string]bool{}, map[placementKey]bool{}
	for _, rec := range recs {
		if rec.ImageID != imageID && rec.PendingImageID != imageID {
			continue
		}
		for ds, hosts := range rec.Placement {
			replicas[rec.replicaOn(ds)] = true
			for _, h := range hosts {
				parents[placementKey{ds, h}] = true
			}
		}
	}
	return replicas, parents
}

// poolsOf lists the pools whose clones may fork from an image's parents.
func poolsOf(recs map[string]*poolRecord, imageID string) []string {
	var out []string
	for id, rec := range recs {
		if rec.ImageID == imageID || rec.PendingImageID == imageID {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}
