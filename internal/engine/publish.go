package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

// The four folders Horizon keeps its internal VMs in.
const (
	TemplateFolder = "ClonePrepInternalTemplateFolder"
	ParentFolder   = "ClonePrepParentVmFolder"
	ReplicaFolder  = "ClonePrepReplicaVmFolder"
	// ResyncFolder holds internal VMs in transit: a replica or parent is built here and moved
	// to its own folder only once complete, so a publish cut short leaves nothing half-made
	// among the VMs clones fork from; the next publish removes what it finds here.
	ResyncFolder = "ClonePrepResyncVmFolder"
)

// ClonePrepFolders lists the four folders in the order they are created.
var ClonePrepFolders = []string{TemplateFolder, ParentFolder, ReplicaFolder, ResyncFolder}

// Roles of internal VMs.
const (
	roleTemplate = "template"
	roleReplica  = "replica"
	roleParent   = "parent"
	stateReady   = "ready"
)

// ImageSpec is what a user asks to publish.
type ImageSpec struct {
	Name     string
	SourceVM string // path or ID
	Snapshot string // name; empty means the current snapshot
}

// Image is a published image as vCenter shows it.
type Image struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	SourceVMID   string `json:"source_vm_id"`
	SourceVM     string `json:"source_vm"`
	SnapshotID   string `json:"snapshot_id"`
	SnapshotName string `json:"snapshot"`
	// SnapshotRequested is the snapshot name the user asked for; empty means "the current one".
	SnapshotRequested string `json:"snapshot_requested,omitempty"`
	TemplateVMID      string `json:"-"`
	Published         bool   `json:"-"`
}

func templateName(imageID string) string { return "cp-template-" + imageID }
func replicaName(imageID, ds string) string {
	return "cp-replica-" + imageID + "-" + ds
}
func parentName(imageID, ds, host string) string {
	return "cp-parent-" + imageID + "-" + ds + "-" + host
}

func newImageID() (string, error) {
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "img-" + hex.EncodeToString(b), nil
}

// ResolveImage checks the source VM and snapshot of a spec, creating nothing.
func (e *Engine) ResolveImage(ctx context.Context, spec ImageSpec) (*Image, error) {
	src, err := e.vc.FindSourceVM(ctx, spec.SourceVM)
	if err != nil {
		if errors.Is(err, vsphere.ErrNotFound) {
			return nil, inputError("source_vm", "Source VM not found", "No virtual machine %q exists in the datacenter: name it by inventory path (e.g. /DC0/vm/golden, or golden relative to the VM folder) or by ID (vm-42).", spec.SourceVM)
		}
		return nil, fmt.Errorf("looking up source VM %q: %w", spec.SourceVM, err)
	}
	img := &Image{Name: spec.Name, SourceVMID: src.ID, SourceVM: spec.SourceVM, SnapshotRequested: spec.Snapshot}
	if len(src.Snapshots) == 0 {
		return nil, inputError("source_vm", "Source VM has no snapshots", "Virtual machine %q (%s) has no snapshot: an image is a snapshot of a parent VM. Take a snapshot of it first.", spec.SourceVM, src.ID)
	}
	if spec.Snapshot == "" {
		if src.Current == nil {
			return nil, inputError("snapshot", "Source VM has no current snapshot", "Virtual machine %q has snapshots but none is current; name one with snapshot.", spec.SourceVM)
		}
		img.SnapshotID, img.SnapshotName = src.Current.ID, src.Current.Name
		return img, nil
	}
	var names []string
	for _, s := range src.Snapshots {
		if s.Name == spec.Snapshot {
			if img.SnapshotID != "" {
				return nil, inputError("snapshot", "Snapshot name is ambiguous", "Virtual machine %q has more than one snapshot called %q; rename one so the image is unambiguous.", spec.SourceVM, spec.Snapshot)
			}
			img.SnapshotID, img.SnapshotName = s.ID, s.Name
		}
		names = append(names, s.Name)
	}
	if img.SnapshotID == "" {
		return nil, inputError("snapshot", "Snapshot not found", "Virtual machine %q has no snapshot called %q; it has: %s.", spec.SourceVM, spec.Snapshot, strings.Join(names, ", "))
	}
	return img, nil
}

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
	resolved, err := e.ResolveImage(ctx, ImageSpec{Name: img.Name, SourceVM: img.SourceVM, Snapshot: img.SnapshotRequested})
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
	unlock := e.locks.lock("image/" + img.ID)
	defer unlock()
	internal, err := e.internalVMs(ctx)
	if err != nil {
		return nil, err
	}
	if t := internal.template(img.ID); t != nil {
		img.TemplateVMID, img.Published = t.ID, true
		return img, nil
	}
	e.log(ctx, "publishing image", map[string]any{"image": img.ID, "source_vm": img.SourceVMID, "snapshot": img.SnapshotName})
	var id string
	err = e.slot(ctx, func() error {
		id, err = e.vc.CloneVM(ctx, vsphere.CloneSpec{
			Source: img.SourceVMID, SnapshotID: img.SnapshotID,
			Folder: internal.folders[ResyncFolder], Name: templateName(img.ID),
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("publishing image %s: %w", img.ID, err)
	}
	if err := e.finishInternal(ctx, id, internal.folders[TemplateFolder], img, roleTemplate); err != nil {
		e.discard(ctx, id)
		return nil, err
	}
	img.TemplateVMID, img.Published = id, true
	return img, nil
}

// discard removes an internal VM that could not be finished, even when ctx was cancelled, so
// that a failed publish leaves nothing behind; what it cannot remove stays in the resync folder
// for the next publish to clean up.
func (e *Engine) discard(ctx context.Context, vmID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := e.vc.RemoveVM(ctx, vmID, true); err != nil {
		e.log(ctx, "could not remove unfinished internal VM", map[string]any{"vm": vmID, "error": err.Error()})
	}
}

// finishInternal marks a freshly built internal VM as the image's and moves it out of the
// resync folder into its own.
func (e *Engine) finishInternal(ctx context.Context, vmID, folder string, img *Image, role string) error {
	spec, err := json.Marshal(img)
	if err != nil {
		return err
	}
	if err := e.vc.SetFields(ctx, vsphere.VMRef(vmID), map[string]string{
		vsphere.FieldImage: img.ID, vsphere.FieldRole: role, vsphere.FieldSpec: string(spec), vsphere.FieldState: stateReady,
	}); err != nil {
		return fmt.Errorf("marking %s VM %s of image %s: %w", role, vmID, img.ID, err)
	}
	if err := e.vc.MoveIntoFolder(ctx, folder, vmID); err != nil {
		return fmt.Errorf("finishing %s VM %s of image %s: %w", role, vmID, img.ID, err)
	}
	return nil
}

func (e *Engine) ensureClonePrepFolders(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range ClonePrepFolders {
		id, err := e.vc.ClonePrepFolder(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("creating folder %s: %w", name, err)
		}
		out[name] = id
	}
	return out, nil
}

// internalSet is every internal VM found in the ClonePrep folders.
type internalSet struct {
	folders map[string]string
	vms     []vsphere.VM
}

// internalVMs reads every VM in the ClonePrep folders (one retrieve), creating the folders
// if missing.
func (e *Engine) internalVMs(ctx context.Context) (*internalSet, error) {
	for attempt := 0; ; attempt++ {
		folders, err := e.ensureClonePrepFolders(ctx)
		if err != nil {
			return nil, err
		}
		ids := make([]string, 0, len(folders))
		for _, name := range ClonePrepFolders {
			ids = append(ids, folders[name])
		}
		_, vms, err := e.vc.Children(ctx, ids)
		if errors.Is(err, vsphere.ErrNotFound) && attempt == 0 {
			// A ClonePrep folder was deleted out of band: find or create them again.
			e.vc.ForgetFolders()
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading internal VMs: %w", err)
		}
		return &internalSet{folders: folders, vms: vms}, nil
	}
}

func (s *internalSet) find(imageID, role, name, folder string) *vsphere.VM {
	for i := range s.vms {
		vm := &s.vms[i]
		if vm.Name == name && vm.Parent == s.folders[folder] && vm.Fields[vsphere.FieldImage] == imageID &&
			vm.Fields[vsphere.FieldRole] == role && vm.Fields[vsphere.FieldState] == stateReady {
			return vm
		}
	}
	return nil
}

func (s *internalSet) template(imageID string) *vsphere.VM {
	return s.find(imageID, roleTemplate, templateName(imageID), TemplateFolder)
}

func (s *internalSet) replica(imageID, ds string) *vsphere.VM {
	return s.find(imageID, roleReplica, replicaName(imageID, ds), ReplicaFolder)
}

func (s *internalSet) parent(imageID, ds, host string) *vsphere.VM {
	return s.find(imageID, roleParent, parentName(imageID, ds, host), ParentFolder)
}

// imageOf recovers an image's description from any of its internal VMs.
func (s *internalSet) imageOf(imageID string) *Image {
	for _, vm := range s.vms {
		if vm.Fields[vsphere.FieldImage] != imageID || vm.Fields[vsphere.FieldSpec] == "" {
			continue
		}
		var img Image
		if json.Unmarshal([]byte(vm.Fields[vsphere.FieldSpec]), &img) == nil && img.ID == imageID {
			return &img
		}
	}
	return nil
}

// ReadImage reads a published image; ErrNotFound when its template is gone. The image's
// description survives on its other internal VMs, returned with Published false.
func (e *Engine) ReadImage(ctx context.Context, id string) (*Image, error) {
	internal, err := e.internalVMs(ctx)
	if err != nil {
		return nil, err
	}
	img := internal.imageOf(id)
	if img == nil {
		return nil, fmt.Errorf("image %s: %w", id, ErrNotFound)
	}
	if t := internal.template(id); t != nil {
		img.TemplateVMID, img.Published = t.ID, true
	}
	return img, nil
}

// FindImageByName finds a published image by its name.
func (e *Engine) FindImageByName(ctx context.Context, name string) (*Image, error) {
	internal, err := e.internalVMs(ctx)
	if err != nil {
		return nil, err
	}
	var found []*Image
	for _, vm := range internal.vms {
		if vm.Fields[vsphere.FieldRole] != roleTemplate {
			continue
		}
		img := internal.imageOf(vm.Fields[vsphere.FieldImage])
		if img != nil && img.Name == name {
			img.TemplateVMID, img.Published = vm.ID, true
			found = append(found, img)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("image named %q: %w", name, ErrNotFound)
	case 1:
		return found[0], nil
	default:
		ids := make([]string, 0, len(found))
		for _, f := range found {
			ids = append(ids, f.ID)
		}
		sort.Strings(ids)
		return nil, fmt.Errorf("%d images are named %q (%s): look one up by id", len(found), name, strings.Join(ids, ", "))
	}
}

// RenameImage changes an image's display name on all its internal VMs.
func (e *Engine) RenameImage(ctx context.Context, img Image, name string) (*Image, error) {
	unlock := e.locks.lock("image/" + img.ID)
	defer unlock()
	internal, err := e.internalVMs(ctx)
	if err != nil {
		return nil, err
	}
	img.Name = name
	spec, err := json.Marshal(img)
	if err != nil {
		return nil, err
	}
	for _, vm := range internal.vms {
		if vm.Fields[vsphere.FieldImage] == img.ID {
			if err := e.vc.SetFields(ctx, vm.Ref(), map[string]string{vsphere.FieldSpec: string(spec)}); err != nil {
				return nil, fmt.Errorf("renaming image %s: %w", img.ID, err)
			}
		}
	}
	return e.ReadImage(ctx, img.ID)
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
		e.log(ctx, "removing an unfinished pool of the image", map[string]any{"image": id, "pool": poolID})
		if err := e.DeletePool(ctx, poolID); err != nil {
			return fmt.Errorf("removing unfinished pool %s of image %s: %w", poolID, id, err)
		}
	}
	unlock := e.locks.lock("image/" + id)
	defer unlock()
	internal, err := e.internalVMs(ctx)
	if err != nil {
		return err
	}
	var victims []vsphere.VM
	for _, vm := range internal.vms {
		if vm.Fields[vsphere.FieldImage] == id {
			victims = append(victims, vm)
		}
	}
	return e.destroyAll(ctx, victims, "internal VM")
}

// InUseError says which pools still use an image.
type InUseError struct {
	ImageID string
	Pools   []string
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("image %s is still used by pool(s) %s: point them at another image (push-image) or delete them first", e.ImageID, strings.Join(e.Pools, ", "))
}

func (e *Engine) destroyAll(ctx context.Context, vms []vsphere.VM, what string) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, vm := range vms {
		g.Go(func() error {
			return e.slot(gctx, func() error {
				if err := e.vc.RemoveVM(gctx, vm.ID, vm.PoweredOn); err != nil {
					return fmt.Errorf("removing %s %s (%s): %w", what, vm.Name, vm.ID, err)
				}
				return nil
			})
		})
	}
	return g.Wait()
}

// placementKey is one (datastore, host) pair clones of an image fork on.
type placementKey struct{ Datastore, Host string }

// publishOnto makes sure the image has a replica on every datastore and a running parent on
// every (datastore, host) pair, building what is missing in parallel, and returns the parents.
// Pools sharing an image share these VMs: the image lock keeps two pools from building one twice.
func (e *Engine) publishOnto(ctx context.Context, imageID string, hostsByDatastore map[string][]string) (map[placementKey]string, error) {
	unlock := e.locks.lock("image/" + imageID)
	defer unlock()
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
	parents := map[placementKey]string{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for _, ds := range sortedKeys(hostsByDatastore) {
		g.Go(func() error {
			replica := internal.replica(imageID, ds)
			replicaID := ""
			if replica != nil {
				replicaID = replica.ID
			} else {
				id, err := e.buildInternal(gctx, img, tmpl.ID, internal.folders, roleReplica, replicaName(imageID, ds), ds, "", false)
				if err != nil {
					return err
				}
				replicaID = id
			}
			pg, pctx := errgroup.WithContext(gctx)
			for _, host := range hostsByDatastore[ds] {
				pg.Go(func() error {
					id, err := e.ensureParent(pctx, internal, img, replicaID, ds, host)
					if err != nil {
						return err
					}
					mu.Lock()
					parents[placementKey{ds, host}] = id
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
	return parents, nil
}

func (e *Engine) ensureParent(ctx context.Context, internal *internalSet, img *Image, replicaID, ds, host string) (string, error) {
	if p := internal.parent(img.ID, ds, host); p != nil {
		if !p.PoweredOn {
			// Clones fork from a running parent: one powered off behind our back is turned back on.
			if err := e.slot(ctx, func() error { return e.vc.PowerOn(ctx, p.ID) }); err != nil {
				return "", fmt.Errorf("powering on parent VM %s: %w", p.Name, err)
			}
		}
		return p.ID, nil
	}
	return e.buildInternal(ctx, img, replicaID, internal.folders, roleParent, parentName(img.ID, ds, host), ds, host, true)
}

// buildInternal clones an internal VM into the resync folder, then finishes it.
func (e *Engine) buildInternal(ctx context.Context, img *Image, source string, folders map[string]string, role, name, ds, host string, powerOn bool) (string, error) {
	var id string
	err := e.slot(ctx, func() error {
		var err error
		id, err = e.vc.CloneVM(ctx, vsphere.CloneSpec{Source: source, Folder: folders[ResyncFolder], Name: name, Datastore: ds, Host: host, PowerOn: powerOn})
		return err
	})
	if err != nil {
		return "", err
	}
	final := map[string]string{roleReplica: folders[ReplicaFolder], roleParent: folders[ParentFolder]}[role]
	if err := e.finishInternal(ctx, id, final, img, role); err != nil {
		e.discard(ctx, id)
		return "", err
	}
	e.log(ctx, "published internal VM", map[string]any{"image": img.ID, "role": role, "name": name, "datastore": ds, "host": host})
	return id, nil
}

// removeStale deletes this image's leftovers: VMs in the resync folder (a publish cut short)
// and internal VMs that are not marked ready.
func (e *Engine) removeStale(ctx context.Context, internal *internalSet, imageID string) error {
	var stale []vsphere.VM
	for _, vm := range internal.vms {
		if !strings.HasPrefix(vm.Name, "cp-") || !strings.Contains(vm.Name, imageID) {
			continue
		}
		if vm.Parent == internal.folders[ResyncFolder] || vm.Fields[vsphere.FieldState] != stateReady {
			stale = append(stale, vm)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	e.log(ctx, "removing unfinished internal VMs", map[string]any{"image": imageID, "count": len(stale)})
	return e.destroyAll(ctx, stale, "unfinished internal VM")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
