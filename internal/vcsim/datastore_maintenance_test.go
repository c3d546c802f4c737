package vcsim

import (
	"context"
	"testing"
	"time"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// TestDatastoreMaintenance: a datastore entering maintenance mode waits until no VM keeps
// files on it, and meanwhile takes no clone; an inaccessible one takes none either.
func TestDatastoreMaintenance(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	ctx := t.Context()
	golden := goldenVM(t, c)
	ds := s.Inventory().Datastores[1].Ref
	mode := func() string {
		var d mo.Datastore
		if err := property.DefaultCollector(c.Client).RetrieveOne(ctx, ds, []string{"summary"}, &d); err != nil {
			t.Fatal(err)
		}
		return d.Summary.MaintenanceMode
	}
	cloneOnto := func(name string) (*object.VirtualMachine, error) {
		task, err := golden.Clone(ctx, object.NewFolder(c.Client, s.Inventory().VMFolder.Ref), name, types.VirtualMachineCloneSpec{Location: types.VirtualMachineRelocateSpec{Datastore: &ds}})
		if err != nil {
			return nil, err
		}
		info, err := task.WaitForResult(ctx, nil)
		if err != nil {
			return nil, err
		}
		return object.NewVirtualMachine(c.Client, resultRef(t, info)), nil
	}
	vm, err := cloneOnto("resident")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := methods.DatastoreEnterMaintenanceMode(ctx, c.Client, &types.DatastoreEnterMaintenanceMode{This: ds}); err != nil {
		t.Fatal(err)
	}
	if got := mode(); got != string(types.DatastoreSummaryMaintenanceModeStateEnteringMaintenance) {
		t.Fatalf("with a VM on it: maintenance mode %q, want enteringMaintenance", got)
	}
	if _, err := cloneOnto("another"); !fault.Is(err, &types.InvalidDatastoreState{}) {
		t.Errorf("clone onto a datastore entering maintenance: %v, want InvalidDatastoreState", err)
	}
	destroy, err := vm.Destroy(ctx)
	if err == nil {
		err = destroy.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for mode() != string(types.DatastoreSummaryMaintenanceModeStateInMaintenance) {
		if time.Now().After(deadline) {
			t.Fatalf("the datastore never entered maintenance mode once empty: %q", mode())
		}
		time.Sleep(20 * time.Millisecond)
	}
	exit, err := methods.DatastoreExitMaintenanceMode_Task(ctx, c.Client, &types.DatastoreExitMaintenanceMode_Task{This: ds})
	if err == nil {
		err = object.NewTask(c.Client, exit.Returnval).Wait(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cloneOnto("back"); err != nil {
		t.Errorf("clone after maintenance: %v", err)
	}
	if err := s.SetDatastoreAccessible(ds.Value, false); err != nil {
		t.Fatal(err)
	}
	if _, err := cloneOnto("lost"); !fault.Is(err, &types.InaccessibleDatastore{}) {
		t.Errorf("clone onto an inaccessible datastore: %v, want InaccessibleDatastore", err)
	}
}
