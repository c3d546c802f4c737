package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Publishing, as Horizon does it: an image's template is a full clone of the golden VM's
// snapshot (ClonePrepInternalTemplateFolder); each datastore a pool uses gets one full replica
// of it with a snapshot (ClonePrepReplicaVmFolder), and each (datastore, host) pair a running
// parent, a linked clone of the replica's snapshot in the pool's resource pool
// (ClonePrepParentVmFolder), which clones fork from. Every internal VM is built in
// ClonePrepResyncVmFolder and moved to its own folder only once marked ready.

// replicaSnapshot is the snapshot of each replica that parents are linked to.
const replicaSnapshot = "instantclone-replica"

// PublishImage publishes a new image: the ClonePrep folders if missing, then its template
// VM cloned from the snapshot and marked as the image's own.
func (e *Engine) PublishImage(ctx context.Context, spec ImageSpec) (*Image, error) {
	img, err := e.ResolveImage(ctx, spec)
	if err != nil {
		return nil, err
	}
	if img.ID, err = newImageID(); err != nil {
		return nil, fmt.Errorf("making an image ID: %w", err)
	}
	return e.publish(ctx, img)
}

// RepublishImage makes sure an image's template exists again (after it was removed out of band).
func (e *Engine) RepublishImage(ctx context.Context, img Image) (*Image, error) {
	resolved, err := e.ResolveImage(ctx, ImageSpec{
		Name: img.Name, SourceVM: img.SourceVM, Snapshot: img.SnapshotRequested, Hardware: img.Hardware,
		ParentReady: img.ParentReady, FreezeTimeout: img.freezeTimeout(),
	})
	if err != nil {
		return nil, err
	}
	if img.SnapshotID != "" && resolved.SnapshotID != img.SnapshotID {
		return nil, inputError("snapshot", "Snapshot changed", "Image %s was published from snapshot %s, which the source VM no longer has as %q; publish a new image instead.", img.ID, img.SnapshotID, img.SnapshotRequested)
	}
	resolved.ID = img.ID
	return e.publish(ctx, resolved)
}

func (e *Engine) publish(ctx context.Context, img *Image) (*Image, error) {
	ctx, unlock, err := e.lock(ctx, imageKey(img.ID))
	if err != nil {
		return nil, err
	}
	defer unlock()
	internal, err := e.internalVMs(ctx)
	if err != nil {
		return nil, err
	}
	if t := internal.template(img.ID); t != nil {
		img.TemplateVMID, img.Published = t.ID, true
		return img, nil
	}
	e.log.Info(ctx, "publishing image", map[string]any{"image": img.ID, "source_vm": img.SourceVMID, "snapshot": img.SnapshotName})
	id, err := e.buildInternal(ctx, img, internal.folders, roleTemplate, CloneSpec{
		Source: img.SourceVMID, SnapshotID: img.SnapshotID, Name: templateName(img.ID),
	})
	if err != nil {
		return nil, fmt.Errorf("publishing image %s: %w", img.ID, err)
	}
	img.TemplateVMID, img.Published = id, true
	return img, nil
}

// placementKey is one (datastore, host) pair clones of an image fork on.
type placementKey struct{ Datastore, Host string }

// publishOnto makes sure the image has a replica on every datastore and a running parent on
// every (datastore, host) pair, building what is missing in parallel, and returns them.
// Pools sharing an image share these VMs: the image lock keeps two pools from building one twice.
// The publication returned still holds the image lock, for the first assignParents to use
// (one lock per apply, not two); the caller releases it with pub.releaseLock.
func (e *Engine) publishOnto(ctx context.Context, imageID string, spec PoolSpec, hostsByDatastore map[string][]string) (*publication, error) {
	resourcePool := spec.ResourcePool
	ctx, unlock, err := e.lock(ctx, imageKey(imageID))
	if err != nil {
		return nil, err
	}
	kept := false
	defer func() {
		if !kept {
			unlock()
		}
	}()
	internal, err := e.internalVMs(ctx)
	if err != nil {
		return nil, err
	}
	img := internal.imageOf(imageID)
	tmpl := internal.template(imageID)
	if img == nil || tmpl == nil {
		return nil, inputError("image_id", "Image not published", "Image %s has no template VM in %s: apply its instantclone_image resource first (it republishes a template removed out of band).", imageID, TemplateFolder)
	}
	if err := e.removeStale(ctx, internal, imageID); err != nil {
		return nil, err
	}
	pub := &publication{img: img, folders: internal.folders, replicas: map[string]string{}, parents: map[placementKey]*parentSlot{}, resourcePool: resourcePool,
		lockCtx: ctx, unlock: unlock}
	if spec.ReplicaDatastore != "" {
		// One replica for every datastore, made before the parents that link to it.
		if _, err := e.ensureReplica(ctx, internal, img, tmpl.ID, spec.ReplicaDatastore); err != nil {
			return nil, fmt.Errorf("publishing image %s onto replica datastore %s: %w", imageID, spec.ReplicaDatastore, err)
		}
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for _, ds := range sortedKeys(hostsByDatastore) {
		g.Go(func() error {
			replicaID, err := e.ensureReplica(gctx, internal, img, tmpl.ID, spec.replicaOn(ds))
			if err != nil {
				return err
			}
			mu.Lock()
			pub.replicas[ds] = replicaID
			mu.Unlock()
			pg, pctx := errgroup.WithContext(gctx)
			for _, host := range hostsByDatastore[ds] {
				pg.Go(func() error {
					slot, err := e.ensureParent(pctx, internal, pub, replicaID, placementKey{ds, host})
					if err != nil {
						return err
					}
					if err := e.awaitFrozen(pctx, pub, slot.id); err != nil {
						return err
					}
					mu.Lock()
					pub.parents[slot.key] = slot
					mu.Unlock()
					return nil
				})
			}
			return pg.Wait()
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("publishing image %s onto the pool's datastores: %w", imageID, err)
	}
	kept = true
	return pub, nil
}

// ensureReplica returns the image's replica on ds, building it (a full clone of the template)
// when missing.
func (e *Engine) ensureReplica(ctx context.Context, internal *internalSet, img *Image, templateID, ds string) (string, error) {
	if replica := internal.replica(img.ID, ds); replica != nil {
		return replica.ID, nil
	}
	return e.buildInternal(ctx, img, internal.folders, roleReplica, CloneSpec{Source: templateID, Name: replicaName(img.ID, ds), Datastore: ds})
}

// ensureParent returns the image's current running parent on key, building the first
// generation when there is none.
func (e *Engine) ensureParent(ctx context.Context, internal *internalSet, pub *publication, replicaID string, key placementKey) (*parentSlot, error) {
	if ps := internal.parents(pub.img.ID, key.Datastore, key.Host); len(ps) > 0 {
		current := ps[len(ps)-1]
		return slotOf(current, key), e.powerOnParent(ctx, pub.img, &current.VM)
	}
	id, err := e.buildParent(ctx, pub, replicaID, key, 1)
	if err != nil {
		return nil, err
	}
	return &parentSlot{key: key, id: id, generation: 1}, nil
}

// replicaSnapshot is the snapshot of a replica that parents are linked to, taken when the
// first parent is built from it (parents of several hosts are built at once: the lock makes
// one of them take it).
func (e *Engine) replicaSnapshot(ctx context.Context, replicaID string) (string, error) {
	e.snapshotMu.Lock()
	defer e.snapshotMu.Unlock()
	src, err := e.vc.SourceVM(ctx, replicaID)
	if err != nil {
		return "", fmt.Errorf("reading the snapshots of replica %s: %w", replicaID, err)
	}
	for _, s := range src.Snapshots {
		if s.Name == replicaSnapshot {
			return s.ID, nil
		}
	}
	var id string
	err = e.slot(ctx, func() error {
		id, err = e.vc.Snapshot(ctx, replicaID, replicaSnapshot)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("taking the snapshot of replica %s that parents are linked to: %w", replicaID, err)
	}
	return id, nil
}

// powerOnParent turns a parent powered off behind the engine's back on again: clones fork
// from a running parent.
func (e *Engine) powerOnParent(ctx context.Context, img *Image, p *VM) error {
	if p.PoweredOn {
		return nil
	}
	e.log.Warn(ctx, "parent VM found powered off; powering it on", map[string]any{"image": img.ID, "vm": p.ID, "name": p.Name})
	if err := e.slot(ctx, func() error { return e.vc.PowerOn(ctx, p.ID) }); err != nil {
		return fmt.Errorf("powering on parent VM %s: %w", p.Name, err)
	}
	return nil
}

// buildInternal clones an internal VM into the resync folder, marks it as the image's and
// moves it into its role's folder. One that cannot be finished is removed again. A name
// already taken means another run is building or has built the same VM (its lock lapsed, or
// it died mid-build): the engine waits for that VM and uses it rather than fail.
func (e *Engine) buildInternal(ctx context.Context, img *Image, folders map[string]string, role string, spec CloneSpec) (string, error) {
	spec.Folder = folders[ResyncFolder]
	final := map[string]string{roleTemplate: folders[TemplateFolder], roleReplica: folders[ReplicaFolder], roleParent: folders[ParentFolder]}[role]
	for attempt := 1; ; attempt++ {
		var id string
		err := e.slot(ctx, func() error {
			var err error
			id, err = e.vc.CloneVM(ctx, spec)
			return err
		})
		if err == nil && role == roleTemplate && !img.Hardware.IsZero() {
			// The template takes the compute profile; replicas, parents and clones copy it.
			if err = e.vc.SetHardware(ctx, id, *img.Hardware); err != nil {
				err = fmt.Errorf("giving template VM %s of image %s its compute profile: %w", id, img.ID, err)
				e.discard(ctx, id)
			}
		}
		if err == nil {
			if err = e.finishInternal(ctx, id, final, img, role); err != nil {
				e.discard(ctx, id)
			}
		}
		if err == nil {
			e.log.Info(ctx, "published internal VM", map[string]any{"image": img.ID, "role": role, "name": spec.Name, "vm": id, "datastore": spec.Datastore, "host": spec.Host})
			return id, nil
		}
		if !errors.Is(err, ErrExists) || attempt > 2 {
			return "", err
		}
		theirs, werr := e.awaitInternal(ctx, folders[ResyncFolder], final, spec.Name)
		if werr != nil || theirs != "" {
			return theirs, werr
		}
	}
}

// awaitInternal waits for the internal VM called name that another run is building: it
// returns the VM once ready in folder final, or "" once the name is free to build it. One
// left in the resync folder for a whole lock TTL was left by a run that died: it is removed.
func (e *Engine) awaitInternal(ctx context.Context, resync, final, name string) (string, error) {
	deadline := time.Now().Add(e.leases.TTL())
	for told := false; ; told = true {
		_, vms, err := e.vc.Contents(ctx, resync, final)
		if err != nil {
			return "", fmt.Errorf("looking for internal VM %s: %w", name, err)
		}
		var building *VM
		for i, vm := range vms {
			switch {
			case vm.Name != name:
			case vm.Folder == final && vm.Marks[MarkState] == stateReady:
				e.log.Info(ctx, "using the internal VM another run built", map[string]any{"name": name, "vm": vm.ID})
				return vm.ID, nil
			case vm.Folder == resync:
				building = &vms[i]
			}
		}
		if building == nil {
			return "", nil
		}
		if time.Now().After(deadline) {
			e.log.Warn(ctx, "removing an internal VM a run left unfinished", map[string]any{"name": name, "vm": building.ID})
			if err := e.vc.RemoveVM(ctx, building.ID, building.PoweredOn); err != nil {
				return "", fmt.Errorf("removing unfinished internal VM %s: %w", name, err)
			}
			return "", nil
		}
		if !told {
			e.log.Info(ctx, "waiting for another run to finish an internal VM", map[string]any{"name": name, "vm": building.ID})
		}
		if err := sleep(ctx, e.leases.poll()); err != nil {
			return "", fmt.Errorf("waiting for another run to finish internal VM %s: %w", name, err)
		}
	}
}

// finishInternal marks a freshly built internal VM as the image's and moves it out of the
// resync folder into its own.
func (e *Engine) finishInternal(ctx context.Context, vmID, folder string, img *Image, role string) error {
	spec, err := json.Marshal(img)
	if err != nil {
		return err
	}
	if err := e.vc.SetMarks(ctx, VMObject(vmID), Marks{
		MarkImage: img.ID, MarkRole: role, MarkSpec: string(spec), MarkState: stateReady,
	}); err != nil {
		return fmt.Errorf("marking %s VM %s of image %s: %w", role, vmID, img.ID, err)
	}
	if err := e.vc.MoveIntoFolder(ctx, folder, vmID); err != nil {
		return fmt.Errorf("finishing %s VM %s of image %s: %w", role, vmID, img.ID, err)
	}
	return nil
}

// discard removes an internal VM that could not be finished, even when ctx was cancelled, so
// that a failed publish leaves nothing behind; what it cannot remove stays in the resync folder
// for the next publish to clean up.
func (e *Engine) discard(ctx context.Context, vmID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := e.vc.RemoveVM(ctx, vmID, true); err != nil {
		e.log.Warn(ctx, "could not remove an unfinished internal VM; the next publish will", map[string]any{"vm": vmID, "error": err.Error()})
	}
}

// removeStale deletes this image's leftovers: VMs in the resync folder (a publish cut short)
// and internal VMs that are not marked ready.
func (e *Engine) removeStale(ctx context.Context, internal *internalSet, imageID string) error {
	var stale []VM
	for _, vm := range internal.vms {
		if !strings.HasPrefix(vm.Name, "cp-") || !strings.Contains(vm.Name, imageID) {
			continue
		}
		if vm.Folder == internal.folders[ResyncFolder] || vm.Marks[MarkState] != stateReady {
			stale = append(stale, vm)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	e.log.Info(ctx, "removing unfinished internal VMs", map[string]any{"image": imageID, "count": len(stale)})
	return e.removeVMs(ctx, stale, "unfinished internal VM")
}
