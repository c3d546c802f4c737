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
	"time"
)

// ImageSpec is what a user asks to publish.
type ImageSpec struct {
	Name     string
	SourceVM string // inventory path, managed object ID or BIOS UUID
	Snapshot string // name; empty means the current snapshot
	Hardware *Hardware
	// ParentReady says when a parent is ready to fork clones from (ParentPoweredOn when
	// empty); FreezeTimeout bounds the wait for ParentFrozen.
	ParentReady   string
	FreezeTimeout time.Duration
}

// When a parent is ready to fork clones from.
const (
	ParentPoweredOn = "powered_on" // as soon as it runs
	ParentFrozen    = "frozen"     // once its guest froze itself (runtime.instantCloneFrozen)
)

// DefaultFreezeTimeout is how long a parent is given to freeze when the image asks for it.
const DefaultFreezeTimeout = 10 * time.Minute

// Hardware is an image's compute profile (Horizon's): what its internal VMs, and so every
// clone forked from them, run with. A zero field keeps the source VM's value.
type Hardware struct {
	NumCPUs        int `json:"num_cpus,omitempty"`
	CoresPerSocket int `json:"cores_per_socket,omitempty"`
	MemoryMB       int `json:"memory_mb,omitempty"`
}

// IsZero reports whether h changes nothing.
func (h *Hardware) IsZero() bool { return h == nil || *h == Hardware{} }

// Image is a published image as vCenter shows it.
type Image struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	SourceVMID   string `json:"source_vm_id"`
	SourceVM     string `json:"source_vm"`
	SnapshotID   string `json:"snapshot_id"`
	SnapshotName string `json:"snapshot"`
	// SnapshotRequested is the snapshot name the user asked for; empty means "the current one".
	SnapshotRequested string    `json:"snapshot_requested,omitempty"`
	Hardware          *Hardware `json:"hardware,omitempty"`
	ParentReady       string    `json:"parent_ready,omitempty"`
	FreezeSeconds     int       `json:"freeze_timeout_seconds,omitempty"`
	TemplateVMID      string    `json:"-"`
	Published         bool      `json:"-"`
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
	src, err := e.vc.SourceVM(ctx, spec.SourceVM)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, inputError("source_vm", "Source VM not found", "No virtual machine %q exists in the datacenter: name it by inventory path (e.g. /DC0/vm/golden, or golden relative to the VM folder), by managed object ID (vm-42) or by BIOS UUID (config.uuid, what data.vsphere_virtual_machine.x.id gives, e.g. 42170ba6-8f2c-51c4-6b3e-1c1b2e5a9d01).", spec.SourceVM)
		}
		return nil, fmt.Errorf("looking up source VM %q: %w", spec.SourceVM, err)
	}
	img := &Image{Name: spec.Name, SourceVMID: src.ID, SourceVM: spec.SourceVM, SnapshotRequested: spec.Snapshot}
	if !spec.Hardware.IsZero() {
		img.Hardware = spec.Hardware
	}
	if spec.ParentReady == ParentFrozen {
		img.ParentReady, img.FreezeSeconds = ParentFrozen, int(spec.FreezeTimeout.Seconds())
	}
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

// ReadImage reads a published image; ErrNotFound when its template is gone. The image's
// description survives on its other internal VMs, returned with Published false.
func (e *Engine) ReadImage(ctx context.Context, id string) (*Image, error) {
	internal, err := e.existingInternalVMs(ctx)
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
	internal, err := e.existingInternalVMs(ctx)
	if err != nil {
		return nil, err
	}
	var found []*Image
	for _, vm := range internal.vms {
		if vm.Marks[MarkRole] != roleTemplate {
			continue
		}
		img := internal.imageOf(vm.Marks[MarkImage])
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

// UpdateImage records an image's new display name and freeze timeout on all its internal VMs.
func (e *Engine) UpdateImage(ctx context.Context, img Image) (*Image, error) {
	ctx, unlock, err := e.lock(ctx, imageKey(img.ID))
	if err != nil {
		return nil, err
	}
	defer unlock()
	internal, err := e.internalVMs(ctx)
	if err != nil {
		return nil, err
	}
	spec, err := json.Marshal(img)
	if err != nil {
		return nil, err
	}
	for _, vm := range internal.ofImage(img.ID) {
		if err := e.vc.SetMarks(ctx, VMObject(vm.ID), Marks{MarkSpec: string(spec)}); err != nil {
			return nil, fmt.Errorf("renaming image %s on its internal VM %s: %w", img.ID, vm.Name, err)
		}
	}
	return e.ReadImage(ctx, img.ID)
}

// freezeTimeout is how long the image's parents are given to freeze.
func (img *Image) freezeTimeout() time.Duration {
	if img.FreezeSeconds <= 0 {
		return DefaultFreezeTimeout
	}
	return time.Duration(img.FreezeSeconds) * time.Second
}
