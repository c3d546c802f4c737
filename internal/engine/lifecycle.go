package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
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
		if errors.Is(err, vsphere.ErrNotFound) {
			return nil, inputError("folder", "Folder not found", "No VM folder %s exists; create it first (or omit folder to use the datacenter's VM folder).", e.vc.FolderPath(spec.Folder))
		}
		return nil, err
	}
	id, err := e.vc.EnsureFolder(ctx, parent, spec.Name)
	if err != nil {
		return nil, fmt.Errorf("creating the folder of pool %s: %w", spec.Name, err)
	}
	unlock := e.locks.lock("pool/" + id)
	defer unlock()
	info, err := e.vc.FolderInfo(ctx, id)
	if err != nil {
		return nil, err
	}
	rec := &poolRecord{}
	if existing, derr := decodeRecord(info); derr == nil {
		if existing.Complete {
			return nil, inputError("name", "Pool already exists", "A pool called %q already exists in %s (id %s). Import it with `terraform import` instead of creating it again.", spec.Name, e.vc.FolderPath(spec.Folder), id)
		}
		rec = existing
		e.log(ctx, "adopting an unfinished pool", map[string]any{"pool": id})
	} else if _, vms, cerr := e.vc.Children(ctx, []string{id}); cerr != nil || len(vms) > 0 {
		return nil, inputError("name", "Folder already in use", "Folder %s/%s exists and holds VMs that are not a pool's; choose another name or folder.", e.vc.FolderPath(spec.Folder), spec.Name)
	}
	rec.ImageID = spec.ImageID
	if err := e.converge(ctx, id, rec, spec, env, ""); err != nil {
		return nil, err
	}
	rec.Complete = true
	if err := e.writeRecord(ctx, id, rec); err != nil {
		return nil, err
	}
	return e.ReadPool(ctx, id)
}

// ApplyPool converges an existing pool to spec: resize, push-image, rebalance, repair drift.
func (e *Engine) ApplyPool(ctx context.Context, id string, spec PoolSpec) (*Pool, error) {
	unlock := e.locks.lock("pool/" + id)
	defer unlock()
	rec, attachments, err := e.record(ctx, id)
	if err != nil {
		return nil, err
	}
	env, err := e.resolve(ctx, spec, attachments.ids())
	if err != nil {
		return nil, err
	}
	if spec.Name != rec.Name {
		if err := e.vc.RenameFolder(ctx, id, spec.Name); err != nil {
			return nil, err
		}
	}
	if err := e.converge(ctx, id, rec, spec, env, ""); err != nil {
		return nil, err
	}
	return e.ReadPool(ctx, id)
}

// record reads a pool's record and attachments.
func (e *Engine) record(ctx context.Context, id string) (*poolRecord, attachments, error) {
	info, err := e.vc.FolderInfo(ctx, id)
	if err != nil {
		if errors.Is(err, vsphere.ErrNotFound) {
			return nil, attachments{}, fmt.Errorf("pool %s: %w", id, ErrNotFound)
		}
		return nil, attachments{}, err
	}
	rec, err := decodeRecord(info)
	if err != nil {
		return nil, attachments{}, err
	}
	return rec, parseAttachments(info.Fields[vsphere.FieldAttachments]), nil
}

// DeletePool removes the clones, the pool's folder, and the internal VMs no other pool needs.
func (e *Engine) DeletePool(ctx context.Context, id string) error {
	unlock := e.locks.lock("pool/" + id)
	defer unlock()
	rec, _, err := e.record(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	_, vms, err := e.vc.Children(ctx, []string{id})
	if err != nil {
		return err
	}
	var clones []vsphere.VM
	for _, vm := range vms {
		if vm.Parent == id {
			clones = append(clones, vm)
		}
	}
	e.log(ctx, "deleting pool", map[string]any{"pool": id, "clones": len(clones)})
	if err := e.destroyAll(ctx, clones, "clone"); err != nil {
		return fmt.Errorf("deleting pool %s: %w", rec.Name, err)
	}
	if err := e.vc.DeleteFolder(ctx, id); err != nil {
		return err
	}
	return e.collectGarbage(ctx, rec.ImageID, rec.PendingImageID)
}

// Attach adds a datastore to a pool from outside its own resource and rebalances it.
// policy overrides the pool's rebalance policy for this change when not empty. An attach that
// failed half-way stays recorded as unfinished, and attaching again carries on with it.
func (e *Engine) Attach(ctx context.Context, poolID, ds, policy string) (*Pool, error) {
	unlock := e.locks.lock("pool/" + poolID)
	defer unlock()
	rec, att, err := e.record(ctx, poolID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, inputError("pool_id", "Pool not found", "No instant-clone pool has ID %s.", poolID)
		}
		return nil, err
	}
	if (att.has(ds) && !att.pending[ds]) || slices.Contains(rec.Datastores, ds) {
		return nil, inputError("datastore_id", "Datastore already attached", "Datastore %s is already attached to pool %s (%s); each datastore is attached once, either in the pool's datastore_ids or by one instantclone_pool_datastore.", ds, rec.Name, poolID)
	}
	att.add(ds, true)
	if err := e.changeAttachments(ctx, poolID, rec, att, policy); err != nil {
		return nil, err
	}
	att.add(ds, false)
	if err := e.writeAttachments(ctx, poolID, att); err != nil {
		return nil, err
	}
	return e.ReadPool(ctx, poolID)
}

// Detach removes an attached datastore; its clones are evacuated to the remaining ones.
func (e *Engine) Detach(ctx context.Context, poolID, ds, policy string) error {
	unlock := e.locks.lock("pool/" + poolID)
	defer unlock()
	rec, att, err := e.record(ctx, poolID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	// Converge even when the datastore is already gone from the record: a detach cut short
	// leaves clones on it to evacuate.
	att.remove(ds)
	return e.changeAttachments(ctx, poolID, rec, att, policy)
}

func (e *Engine) changeAttachments(ctx context.Context, poolID string, rec *poolRecord, att attachments, policy string) error {
	env, err := e.resolve(ctx, rec.PoolSpec, att.ids())
	if err != nil {
		return err
	}
	if err := e.writeAttachments(ctx, poolID, att); err != nil {
		return err
	}
	// The policy override applies to this rebalance only; the pool keeps its own.
	return e.converge(ctx, poolID, rec, rec.PoolSpec, env, policy)
}

func (e *Engine) writeAttachments(ctx context.Context, poolID string, att attachments) error {
	if err := e.vc.SetFields(ctx, vsphere.FolderRef(poolID), map[string]string{vsphere.FieldAttachments: att.String()}); err != nil {
		return fmt.Errorf("recording the datastores attached to pool %s: %w", poolID, err)
	}
	return nil
}

// Attached reports whether a datastore is attached to a pool by an attachment.
func (e *Engine) Attached(ctx context.Context, poolID, ds string) (bool, error) {
	_, att, err := e.record(ctx, poolID)
	if err != nil {
		return false, err
	}
	return att.has(ds), nil
}
