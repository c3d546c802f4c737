package engine

import (
	"context"
	"fmt"

	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
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
		if role := vm.Fields[vsphere.FieldRole]; role == roleReplica || role == roleParent {
			imageIDs = append(imageIDs, vm.Fields[vsphere.FieldImage])
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
	unlock := e.locks.lock("image/" + imageID)
	defer unlock()
	recs, err := e.poolRecords(ctx)
	if err != nil {
		return fmt.Errorf("collecting unused internal VMs of image %s: %w", imageID, err)
	}
	needed := map[string]bool{}
	for _, rec := range recs {
		for _, img := range []string{rec.ImageID, rec.PendingImageID} {
			if img != imageID {
				continue
			}
			for ds, hosts := range rec.Placement {
				needed[replicaName(img, ds)] = true
				for _, h := range hosts {
					needed[parentName(img, ds, h)] = true
				}
			}
		}
	}
	internal, err := e.internalVMs(ctx)
	if err != nil {
		return err
	}
	var unused []vsphere.VM
	for _, vm := range internal.vms {
		role := vm.Fields[vsphere.FieldRole]
		if vm.Fields[vsphere.FieldImage] == imageID && (role == roleReplica || role == roleParent) && !needed[vm.Name] {
			unused = append(unused, vm)
		}
	}
	if len(unused) == 0 {
		return nil
	}
	e.log(ctx, "removing internal VMs no pool needs", map[string]any{"image": imageID, "count": len(unused)})
	return e.destroyAll(ctx, unused, "unused internal VM")
}
