package acctest

import (
	"context"
	"fmt"
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// LockFolders lists the locks held in vCenter now (lease.go): the folders in
// engine.LockFolder, with their holder and expiry marks.
func (e *Env) LockFolders(t *testing.T) []engine.Folder {
	t.Helper()
	fs, err := e.Client.Folders(context.Background())
	if err != nil {
		t.Fatalf("listing folders: %v", err)
	}
	parent := ""
	for _, f := range fs {
		if f.Name == engine.LockFolder {
			parent = f.ID
		}
	}
	var out []engine.Folder
	for _, f := range fs {
		if parent != "" && f.Parent == parent {
			out = append(out, f)
		}
	}
	return out
}

// CheckNoDuplicateInternalVMs fails when an image has two ready replicas on one datastore, or
// two parents of one name: what two runs building the same internal VM at once would leave.
// It holds at any moment, even while another run is publishing.
func (e *Env) CheckNoDuplicateInternalVMs(t *testing.T) error {
	t.Helper()
	seen := map[string]string{}
	for _, folder := range []string{engine.ReplicaFolder, engine.ParentFolder} {
		for _, vm := range e.VMsInFolder(t, folder) {
			key := vm.Marks[engine.MarkImage] + " " + vm.Name
			if vm.Marks[engine.MarkRole] == "replica" {
				key = vm.Marks[engine.MarkImage] + " replica on " + vm.Datastore
			}
			if other, dup := seen[key]; dup {
				return fmt.Errorf("two internal VMs for %s: %s and %s", key, other, vm.ID)
			}
			seen[key] = vm.ID
		}
	}
	return nil
}

// CheckPoolClones checks that the folder of pool name holds exactly the clones name-1 ..
// name-size, each marked with the image it forked from.
func (e *Env) CheckPoolClones(t *testing.T, name string, size int) error {
	t.Helper()
	vms := e.VMsInFolder(t, name)
	want := map[string]bool{}
	for i := 1; i <= size; i++ {
		want[fmt.Sprintf("%s-%d", name, i)] = true
	}
	for _, vm := range vms {
		if !want[vm.Name] || vm.Marks[engine.MarkImage] == "" {
			return fmt.Errorf("pool %s holds %v, want %s-1..%d each marked with its image", name, Names(vms), name, size)
		}
		delete(want, vm.Name)
	}
	if len(want) > 0 {
		return fmt.Errorf("pool %s holds %v, want %s-1..%d", name, Names(vms), name, size)
	}
	return nil
}

// CheckOnlyGoldenLeft checks that vCenter holds no VM but the golden one, nothing in the
// ClonePrep folders, and no lock: everything the provider made is gone.
func (e *Env) CheckOnlyGoldenLeft(t *testing.T) error {
	t.Helper()
	if vms := e.VMs(t); len(vms) != 1 {
		return fmt.Errorf("VMs left: %v, want only the golden VM", Names(vms))
	}
	if locks := e.LockFolders(t); len(locks) > 0 {
		return fmt.Errorf("locks left: %+v", locks)
	}
	return nil
}
