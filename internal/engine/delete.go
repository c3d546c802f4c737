package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// DeletePool removes the clones, the pool's folder, and the internal VMs no other pool needs.
func (e *Engine) DeletePool(ctx context.Context, id string) error {
	held, err := e.lockPool(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer held.unlock()
	ctx, rec := held.ctx, held.rec
	_, vms, err := e.vc.Contents(ctx, id)
	if err != nil {
		return fmt.Errorf("reading the clones of pool %s: %w", rec.Name, err)
	}
	var clones []VM
	for _, vm := range vms {
		if vm.Folder == id {
			clones = append(clones, vm)
		}
	}
	e.log.Info(ctx, "deleting pool", map[string]any{"pool": id, "clones": len(clones)})
	if err := e.removeVMs(ctx, clones, "clone"); err != nil {
		return fmt.Errorf("deleting pool %s: %w", rec.Name, err)
	}
	if err := e.vc.DeleteFolder(ctx, id); err != nil {
		return fmt.Errorf("deleting the folder of pool %s: %w", rec.Name, err)
	}
	return e.collectGarbage(ctx, nil, rec.ImageID, rec.PendingImageID)
}

// DeleteImage removes an image's internal VMs; it refuses while a pool still uses the image.
func (e *Engine) DeleteImage(ctx context.Context, id string) error {
	users, unfinished, err := e.poolsUsingImage(ctx, id)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return &InUseError{ImageID: id, Pools: users}
	}
	// A pool whose create failed and was abandoned holds clones no state knows of: it goes
	// with its image rather than being leaked.
	for _, poolID := range unfinished {
		e.log.Info(ctx, "removing an unfinished pool of the image", map[string]any{"image": id, "pool": poolID})
		if err := e.DeletePool(ctx, poolID); err != nil {
			return fmt.Errorf("removing unfinished pool %s of image %s: %w", poolID, id, err)
		}
	}
	ctx, unlock, err := e.lock(ctx, imageKey(id))
	if err != nil {
		return err
	}
	defer unlock()
	internal, err := e.internalVMs(ctx)
	if err != nil {
		return err
	}
	return e.removeVMs(ctx, internal.ofImage(id), "internal VM")
}

// removeVMs removes VMs concurrently within the engine's slots and tries every one; the
// error lists each VM it could not remove, by name.
func (e *Engine) removeVMs(ctx context.Context, vms []VM, what string) error {
	failures := &VMFailures{Action: "remove", What: what, Failures: map[string]error{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, vm := range vms {
		wg.Go(func() {
			err := e.slot(ctx, func() error { return e.vc.RemoveVM(ctx, vm.ID, vm.PoweredOn) })
			if err != nil {
				mu.Lock()
				failures.Failures[fmt.Sprintf("%s (%s)", vm.Name, vm.ID)] = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(failures.Failures) > 0 {
		return failures
	}
	return nil
}
