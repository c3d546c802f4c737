package acctest

import (
	"context"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"

	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

// The values hashicorp/vsphere's data sources would hand this provider, read from the
// simulator the way that provider documents them: data.vsphere_virtual_machine.x.id is the
// VM's BIOS UUID (config.uuid), data.vsphere_datastore.x.id the datastore's managed object ID,
// data.vsphere_compute_cluster.x.resource_pool_id the cluster's root resource pool's.

// BIOSUUID is a VM's config.uuid: what data.vsphere_virtual_machine.x.id gives.
func (e *Env) BIOSUUID(t *testing.T, vmID string) string {
	t.Helper()
	var vm mo.VirtualMachine
	if err := property.DefaultCollector(e.Client.Vim()).RetrieveOne(context.Background(), vsphere.VMRef(vmID), []string{"config.uuid"}, &vm); err != nil {
		t.Fatalf("reading the BIOS UUID of %s: %v", vmID, err)
	}
	if vm.Config == nil || vm.Config.Uuid == "" {
		t.Fatalf("VM %s has no BIOS UUID", vmID)
	}
	return vm.Config.Uuid
}

// RenameVM renames a VM, e.g. the golden VM to a name that looks like an ID.
func (e *Env) RenameVM(t *testing.T, vmID, name string) {
	t.Helper()
	ctx := context.Background()
	task, err := object.NewVirtualMachine(e.Client.Vim(), vsphere.VMRef(vmID)).Rename(ctx, name)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Fatalf("renaming %s to %s: %v", vmID, name, err)
	}
}
