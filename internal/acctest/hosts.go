package acctest

import (
	"context"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// Maintenance is a host's EnterMaintenanceMode_Task started behind the provider's back, as
// an administrator patching the host starts it.
type Maintenance struct {
	host *object.HostSystem
	task *object.Task
}

// EnterMaintenance starts putting a host into maintenance mode and returns at once: vCenter
// holds the task running until no powered-on VM is left on the host.
func (e *Env) EnterMaintenance(t *testing.T, hostID string) *Maintenance {
	t.Helper()
	host := object.NewHostSystem(e.Client.Vim(), types.ManagedObjectReference{Type: "HostSystem", Value: hostID})
	task, err := host.EnterMaintenanceMode(context.Background(), 0, false, nil)
	if err != nil {
		t.Fatalf("entering maintenance mode on %s: %v", hostID, err)
	}
	return &Maintenance{host: host, task: task}
}

// Wait waits until the host is in maintenance mode.
func (m *Maintenance) Wait(ctx context.Context) error { return m.task.Wait(ctx) }

// Exit takes the host out of maintenance mode, or stops it entering.
func (m *Maintenance) Exit(t *testing.T) {
	t.Helper()
	task, err := m.host.ExitMaintenanceMode(context.Background(), 0)
	if err == nil {
		err = task.Wait(context.Background())
	}
	if err != nil {
		t.Fatalf("leaving maintenance mode on %s: %v", m.host.Reference().Value, err)
	}
}

// AddHost adds a host to the first cluster, as an administrator does (AddHost_Task), and
// mounts every datastore of the inventory on it; it returns the host's ID.
func (e *Env) AddHost(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	cluster := object.NewClusterComputeResource(e.Client.Vim(), e.Inv.Clusters[0].Ref)
	// The simulator makes the new host in the image of the existing one named as the user.
	spec := types.HostConnectSpec{HostName: "esx-new.example", UserName: e.Inv.Clusters[0].Hosts[0].Name, Force: true}
	task, err := cluster.AddHost(ctx, spec, true, nil, nil)
	if err != nil {
		t.Fatalf("adding a host: %v", err)
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		t.Fatalf("adding a host: %v", err)
	}
	ref, ok := info.Result.(types.ManagedObjectReference)
	if !ok {
		t.Fatalf("adding a host returned %T", info.Result)
	}
	var ids []string
	for _, ds := range e.Inv.Datastores {
		ids = append(ids, ds.Ref.Value)
	}
	if err := e.Server.MountDatastores(ref.Value, ids...); err != nil {
		t.Fatal(err)
	}
	return ref.Value
}
