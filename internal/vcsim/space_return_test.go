package vcsim

import (
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// TestDestroyGivesBackWhatTheCloneTook: an instant clone takes a delta disk's space, and its
// destroy gives back exactly that, not its disks' full capacity.
func TestDestroyGivesBackWhatTheCloneTook(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	ctx := t.Context()
	ds := s.Inventory().Golden.Datastore.Ref
	free := func() int64 {
		var d mo.Datastore
		if err := property.DefaultCollector(c.Client).RetrieveOne(ctx, ds, []string{"summary.freeSpace"}, &d); err != nil {
			t.Fatal(err)
		}
		return d.Summary.FreeSpace
	}
	start := free()
	info, err := cloneAndWait(t, goldenVM(t, c), types.VirtualMachineInstantCloneSpec{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if got := start - free(); got != deltaDiskBytes {
		t.Errorf("the instant clone took %d bytes, want a delta disk's %d", got, deltaDiskBytes)
	}
	vm := object.NewVirtualMachine(c.Client, resultRef(t, info))
	for _, step := range []func() (*object.Task, error){func() (*object.Task, error) { return vm.PowerOff(ctx) }, func() (*object.Task, error) { return vm.Destroy(ctx) }} {
		task, err := step()
		if err == nil {
			err = task.Wait(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := free(); got != start {
		t.Errorf("after the destroy %d bytes free, want %d as before the clone", got, start)
	}
}
