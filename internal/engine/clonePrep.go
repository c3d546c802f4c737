package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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

func templateName(imageID string) string { return "cp-template-" + imageID }
func replicaName(imageID, ds string) string {
	return "cp-replica-" + imageID + "-" + ds
}

// clonePrepFolders finds or makes the four ClonePrep folders under the datacenter's VM
// folder, once per engine.
func (e *Engine) clonePrepFolders(ctx context.Context) (map[string]string, error) {
	e.folderMu.Lock()
	defer e.folderMu.Unlock()
	if e.folders != nil {
		return e.folders, nil
	}
	out := map[string]string{}
	for _, name := range ClonePrepFolders {
		id, err := e.vc.CreateFolder(ctx, "", name)
		if err != nil {
			return nil, fmt.Errorf("creating folder %s: %w", name, err)
		}
		out[name] = id
	}
	e.folders = out
	return out, nil
}

// vmFolder is the ID of the datacenter's VM folder, looked up once.
func (e *Engine) vmFolder(ctx context.Context) (string, error) {
	e.folderMu.Lock()
	defer e.folderMu.Unlock()
	if e.root != "" {
		return e.root, nil
	}
	f, err := e.vc.FindFolder(ctx, "")
	if err != nil {
		return "", fmt.Errorf("finding the datacenter's VM folder: %w", err)
	}
	e.root = f.ID
	return e.root, nil
}

// forgetClonePrepFolders drops the remembered folder IDs after one was found gone.
func (e *Engine) forgetClonePrepFolders() {
	e.folderMu.Lock()
	e.folders = nil
	e.folderMu.Unlock()
}

// readWithClonePrep reads the given folders together with the four ClonePrep folders in one
// retrieve, creating the ClonePrep folders if missing: for workflows that write. A ClonePrep
// folder deleted out of band is found or made again, once; a missing folder of the caller's
// stays ErrNotFound.
func (e *Engine) readWithClonePrep(ctx context.Context, folderIDs ...string) (map[string]string, []Folder, []VM, error) {
	return e.readClonePrep(ctx, e.clonePrepFolders, e.vc.Contents, folderIDs...)
}

// readExistingClonePrep is readWithClonePrep for reads, which never write: ClonePrep folders
// that do not exist are left out (nothing of ours is there), so plan, refresh and the data
// sources work with a read-only login on a vCenter the provider never wrote to.
func (e *Engine) readExistingClonePrep(ctx context.Context, folderIDs ...string) (map[string]string, []Folder, []VM, error) {
	return e.readClonePrep(ctx, e.existingClonePrepFolders, e.vc.Contents, folderIDs...)
}

// readClonePrep reads folderIDs and the ClonePrep folders clonePrep finds with read, in one
// call.
func (e *Engine) readClonePrep(ctx context.Context, clonePrep func(context.Context) (map[string]string, error),
	read func(context.Context, ...string) ([]Folder, []VM, error), folderIDs ...string) (map[string]string, []Folder, []VM, error) {
	for attempt := 0; ; attempt++ {
		folders, err := clonePrep(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		ids := append([]string{}, folderIDs...)
		for _, name := range ClonePrepFolders {
			if id := folders[name]; id != "" {
				ids = append(ids, id)
			}
		}
		fs, vms, err := read(ctx, ids...)
		if errors.Is(err, ErrNotFound) && attempt == 0 {
			e.log.Warn(ctx, "a folder was not found; looking the ClonePrep folders up again", map[string]any{"error": err.Error()})
			e.forgetClonePrepFolders()
			continue
		}
		if err != nil {
			return nil, nil, nil, err
		}
		return folders, fs, vms, nil
	}
}

// existingClonePrepFolders finds the ClonePrep folders that exist, creating none. Once all
// four are found they are remembered as clonePrepFolders remembers them.
func (e *Engine) existingClonePrepFolders(ctx context.Context) (map[string]string, error) {
	e.folderMu.Lock()
	known := e.folders
	e.folderMu.Unlock()
	if known != nil {
		return known, nil
	}
	out := map[string]string{}
	for _, name := range ClonePrepFolders {
		f, err := e.vc.FindFolder(ctx, name)
		switch {
		case errors.Is(err, ErrNotFound):
			continue
		case err != nil:
			return nil, fmt.Errorf("finding folder %s: %w", name, err)
		}
		out[name] = f.ID
	}
	if len(out) == len(ClonePrepFolders) {
		e.folderMu.Lock()
		e.folders = out
		e.folderMu.Unlock()
	}
	return out, nil
}

// internalSet is every internal VM found in the ClonePrep folders.
type internalSet struct {
	folders map[string]string
	vms     []VM
}

// internalVMs reads every VM in the ClonePrep folders (one retrieve), creating the folders
// if missing: for workflows that write.
func (e *Engine) internalVMs(ctx context.Context) (*internalSet, error) {
	return e.readInternalVMs(ctx, e.readWithClonePrep)
}

// existingInternalVMs is internalVMs for reads: it creates no folder.
func (e *Engine) existingInternalVMs(ctx context.Context) (*internalSet, error) {
	return e.readInternalVMs(ctx, e.readExistingClonePrep)
}

func (e *Engine) readInternalVMs(ctx context.Context, read func(context.Context, ...string) (map[string]string, []Folder, []VM, error)) (*internalSet, error) {
	folders, _, vms, err := read(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading internal VMs: %w", err)
	}
	return &internalSet{folders: folders, vms: vms}, nil
}

func (s *internalSet) find(imageID, role, name, folder string) *VM {
	for i := range s.vms {
		vm := &s.vms[i]
		if vm.Name == name && vm.Folder == s.folders[folder] && vm.Marks[MarkImage] == imageID &&
			vm.Marks[MarkRole] == role && vm.Marks[MarkState] == stateReady {
			return vm
		}
	}
	return nil
}

func (s *internalSet) template(imageID string) *VM {
	return s.find(imageID, roleTemplate, templateName(imageID), TemplateFolder)
}

func (s *internalSet) replica(imageID, ds string) *VM {
	return s.find(imageID, roleReplica, replicaName(imageID, ds), ReplicaFolder)
}

// ofImage lists the image's internal VMs, optionally only those of the given roles.
func (s *internalSet) ofImage(imageID string, roles ...string) []VM {
	var out []VM
	for _, vm := range s.vms {
		if vm.Marks[MarkImage] != imageID {
			continue
		}
		if len(roles) > 0 && !slices.Contains(roles, vm.Marks[MarkRole]) {
			continue
		}
		out = append(out, vm)
	}
	return out
}

// imageOf recovers an image's description from any of its internal VMs.
func (s *internalSet) imageOf(imageID string) *Image {
	for _, vm := range s.ofImage(imageID) {
		if vm.Marks[MarkSpec] == "" {
			continue
		}
		var img Image
		if json.Unmarshal([]byte(vm.Marks[MarkSpec]), &img) == nil && img.ID == imageID {
			return &img
		}
	}
	return nil
}
