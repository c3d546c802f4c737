package vsphere_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// TestObserveIsContentsAndEnvironment: Observe reads in one call what Contents and
// Environment read in two; with a datastore gone it reads the folders alone, and with a
// folder gone it fails as Contents does.
func TestObserveIsContentsAndEnvironment(t *testing.T) {
	t.Parallel()
	srv, c := asAdmin(t, vcsim.Options{})
	ctx := context.Background()
	inv := srv.Inventory()
	folder, pool := inv.VMFolder.Ref.Value, inv.Clusters[0].ResourcePool.Ref.Value
	var stores []string
	for _, ds := range inv.Datastores {
		stores = append(stores, ds.Ref.Value)
	}

	wantFolders, wantVMs, err := c.Contents(ctx, folder)
	if err != nil {
		t.Fatal(err)
	}
	wantEnv, err := c.Environment(ctx, pool, stores[:2])
	if err != nil {
		t.Fatal(err)
	}
	before := c.Calls()
	folders, vms, env, err := c.Observe(ctx, []string{folder}, pool, stores[:2])
	if err != nil {
		t.Fatal(err)
	}
	if calls := c.Calls() - before; calls != 1 {
		t.Errorf("Observe took %d calls, want one", calls)
	}
	if len(vms) == 0 {
		t.Fatal("Observe found no VM in the VM folder, where the golden VM is")
	}
	if !reflect.DeepEqual(folders, wantFolders) || !reflect.DeepEqual(vms, wantVMs) {
		t.Errorf("Observe read\n%+v\n%+v\nContents read\n%+v\n%+v", folders, vms, wantFolders, wantVMs)
	}
	if !reflect.DeepEqual(env, wantEnv) {
		t.Errorf("Observe read environment %+v, Environment read %+v", env, wantEnv)
	}

	_, vms, env, err = c.Observe(ctx, []string{folder}, pool, []string{stores[0], "datastore-999999"})
	if err != nil || env != nil || !reflect.DeepEqual(vms, wantVMs) {
		t.Errorf("with a datastore gone: VMs %+v, environment %+v, error %v; want the folder's VMs and no environment", vms, env, err)
	}
	if _, _, _, err = c.Observe(ctx, []string{"group-v999999"}, pool, stores); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("with the folder gone: %v, want not found", err)
	}
}
