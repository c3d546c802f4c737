package engine

import (
	"context"
	"fmt"
)

// collectGarbage removes the replicas and parents of the given images that no pool needs any
// more, in the same apply (Horizon takes up to 30 minutes). A pool needs an image's replica on
// each datastore it places clones on and a parent on each of those (datastore, host) pairs,
// for its current image and for one it is being pushed to. Templates stay: they go with the
// image resource.
func (e *Engine) collectGarbage(ctx context.Context, imageIDs ...string) error {
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
		if err := e.collectImage(ctx, imageID); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) collectImage(ctx context.Context, imageID string) error {
	unlock, err := e.locks.lock(ctx, imageKey(imageID))
	if err != nil {
		return err
	}
	defer unlock()
	recs, err := e.poolRecords(ctx)
	if err != nil {
		return fmt.Errorf("collecting unused internal VMs of image %s: %w", imageID, err)
	}
	needed := neededInternal(recs, imageID)
	internal, err := e.internalVMs(ctx)
	if err != nil {
		return err
	}
	var unused []VM
	for _, vm := range internal.ofImage(imageID, roleReplica, roleParent) {
		if !needed[vm.Name] {
			unused = append(unused, vm)
		}
	}
	if len(unused) == 0 {
		return nil
	}
	e.log.Info(ctx, "removing internal VMs no pool needs", map[string]any{"image": imageID, "count": len(unused)})
	return e.removeVMs(ctx, unused, "unused internal VM")
}

// neededInternal names the replicas and parents of an image that some pool's record places
// clones on, for the pool's current image or the one it is being pushed to.
func neededInternal(recs map[string]*poolRecord, imageID string) map[string]bool {
	needed := map[string]bool{}
	for _, rec := range recs {
		if rec.ImageID != imageID && rec.PendingImageID != imageID {
			continue
		}
		for ds, hosts := range rec.Placement {
			needed[replicaName(imageID, ds)] = true
			for _, h := range hosts {
				needed[parentName(imageID, ds, h)] = true
			}
		}
	}
	return needed
}
