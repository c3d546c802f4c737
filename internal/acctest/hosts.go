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
