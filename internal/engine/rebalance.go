package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Rebalance: clones on a datastore no longer attached are evacuated (always); with
// rebalance = "immediate" the clones end within one of each other per datastore and per
// host, moving the fewest (internal/placement decides). Attachments
// (instantclone_pool_datastore) add datastores from outside the pool's resource.

// Attach adds a datastore to a pool from outside its own resource and rebalances it.
// policy overrides the pool's rebalance policy for this change when not empty. An attach that
// failed half-way stays recorded as unfinished, and attaching again carries on with it.
func (e *Engine) Attach(ctx context.Context, poolID, ds, policy string) (*Pool, error) {
	held, err := e.lockPool(ctx, poolID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, inputError("pool_id", "Pool not found", "No instant-clone pool has ID %s.", poolID)
		}
		return nil, err
	}
	defer held.unlock()
	ctx, rec, att := held.ctx, held.rec, held.att
	if att.finished(ds) || slices.Contains(rec.Datastores, ds) {
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
	return e.ReadPool(ctx, poolID, LastSeen{ResourcePool: rec.ResourcePool, Datastores: union(rec.Datastores, att.ids())})
}

// Detach removes an attached datastore; its clones are evacuated to the remaining ones. The
// datastore stays recorded as leaving until its clones are gone and the internal VMs no pool
// needs there are collected: a detach cut short after its clones moved is still seen, and
// detaching again finishes it.
func (e *Engine) Detach(ctx context.Context, poolID, ds, policy string) error {
	held, err := e.lockPool(ctx, poolID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer held.unlock()
	// Converge even when the datastore is already gone from the record: a detach cut short
	// leaves clones on it to evacuate.
	held.att.leave(ds)
	if err := e.changeAttachments(held.ctx, poolID, held.rec, held.att, policy); err != nil {
		return err
	}
	held.att.remove(ds)
	return e.writeAttachments(held.ctx, poolID, held.att)
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
	if err := e.vc.SetMarks(ctx, FolderObject(poolID), Marks{MarkAttachments: att.String()}); err != nil {
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

// attachments are the datastores attached to a pool from outside its own resource, as its
// folder records them: "datastore-40,datastore-41~,-datastore-42", where "~" marks an attach
// that has not finished (its apply failed or was interrupted) and "-" a datastore being
// detached.
type attachments struct {
	pending map[string]bool // datastore → unfinished
	leaving map[string]bool // datastores being detached
}

const (
	pendingMark = "~"
	leavingMark = "-"
)

func parseAttachments(raw string) attachments {
	a := attachments{pending: map[string]bool{}, leaving: map[string]bool{}}
	for _, item := range strings.Split(raw, ",") {
		if item == "" {
			continue
		}
		if ds, ok := strings.CutPrefix(item, leavingMark); ok {
			a.leaving[ds] = true
			continue
		}
		ds, unfinished := strings.CutSuffix(item, pendingMark)
		a.pending[ds] = unfinished
	}
	return a
}

// ids lists every attached datastore, finished or not, sorted; not those being detached.
func (a attachments) ids() []string { return sortedKeys(a.pending) }

// has reports whether ds is attached, finished or not, or still being detached.
func (a attachments) has(ds string) bool {
	_, ok := a.pending[ds]
	return ok || a.leaving[ds]
}

// finished reports whether ds is attached and its attach done.
func (a attachments) finished(ds string) bool {
	unfinished, ok := a.pending[ds]
	return ok && !unfinished
}

func (a attachments) add(ds string, unfinished bool) {
	a.pending[ds] = unfinished
	delete(a.leaving, ds)
}

// leave records ds as being detached.
func (a attachments) leave(ds string) {
	delete(a.pending, ds)
	a.leaving[ds] = true
}

func (a attachments) remove(ds string) {
	delete(a.pending, ds)
	delete(a.leaving, ds)
}

func (a attachments) String() string {
	items := a.ids()
	for i, ds := range items {
		if a.pending[ds] {
			items[i] += pendingMark
		}
	}
	for _, ds := range sortedKeys(a.leaving) {
		items = append(items, leavingMark+ds)
	}
	return strings.Join(items, ",")
}
