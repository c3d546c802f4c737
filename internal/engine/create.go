package engine

import (
	"context"
	"errors"
	"fmt"
)

// CreatePool validates the spec, makes the pool's folder and converges it. A create cut
// short (an error, a timeout, Ctrl-C) leaves a folder marked incomplete; the next create of
// the same pool adopts it and carries on instead of starting over.
func (e *Engine) CreatePool(ctx context.Context, spec PoolSpec) (*Pool, error) {
	env, err := e.resolve(ctx, spec, nil)
	if err != nil {
		return nil, err
	}
	parent, err := e.vc.FindFolder(ctx, spec.Folder)
	if err != nil {
		var nf *NotFoundError
		if errors.As(err, &nf) {
			return nil, inputError("folder", "Folder not found", "No VM folder %s exists; create it first (or omit folder to use the datacenter's VM folder).", nf.Name)
		}
		return nil, fmt.Errorf("finding folder %q: %w", spec.Folder, err)
	}
	id, err := e.vc.CreateFolder(ctx, parent.ID, spec.Name)
	if err != nil {
		return nil, fmt.Errorf("creating the folder of pool %s in %s: %w", spec.Name, parent.Path, err)
	}
	ctx, unlock, err := e.lock(ctx, poolKey(id))
	if err != nil {
		return nil, err
	}
	defer unlock()
	fs, vms, err := e.vc.Contents(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("reading the folder of pool %s: %w", spec.Name, err)
	}
	rec := &poolRecord{}
	if existing, derr := decodeRecord(selfOf(fs, id)); derr == nil {
		if existing.Complete {
			return nil, inputError("name", "Pool already exists", "A pool called %q already exists in %s (id %s). Import it with `terraform import` instead of creating it again.", spec.Name, parent.Path, id)
		}
		rec = existing
		e.log.Info(ctx, "adopting an unfinished pool", map[string]any{"pool": id})
	} else if directly(vms, id) > 0 {
		return nil, inputError("name", "Folder already in use", "Folder %s/%s exists and holds VMs that are not a pool's; choose another name or folder.", parent.Path, spec.Name)
	}
	rec.ImageID = spec.ImageID
	if err := e.converge(ctx, id, rec, spec, env, ""); err != nil {
		return nil, err
	}
	rec.Complete = true
	if err := e.writeRecord(ctx, id, rec); err != nil {
		return nil, err
	}
	return e.ReadPool(ctx, id, LastSeen{ResourcePool: spec.ResourcePool, Datastores: spec.Datastores})
}

// selfOf picks folder id out of a Contents read (an empty folder when absent).
func selfOf(fs []Folder, id string) *Folder {
	for i := range fs {
		if fs[i].ID == id {
			return &fs[i]
		}
	}
	return &Folder{ID: id}
}

// directly counts the VMs directly in folder id.
func directly(vms []VM, id string) int {
	n := 0
	for _, vm := range vms {
		if vm.Folder == id {
			n++
		}
	}
	return n
}
