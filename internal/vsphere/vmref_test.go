package vsphere_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

// TestSourceVMReferences: a VM is found by absolute or relative inventory path, by managed
// object ID and by BIOS UUID (config.uuid, any case); names that look like IDs (ubuntu-2204,
// vm-99999) are names; a UUID or ID of no VM, or an ID of another type, is not found.
func TestSourceVMReferences(t *testing.T) {
	srv := startSimulator(t, vcsim.Options{})
	ctx := context.Background()
	c, err := vsphere.Connect(ctx, vsphere.Config{Server: srv.URL().Host, User: srv.Username(), Password: srv.Password(), Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	inv := srv.Inventory()
	golden := inv.Golden.Ref.Value
	clone := func(name string) string {
		t.Helper()
		id, err := c.CloneVM(ctx, engine.CloneSpec{
			Source: golden, Folder: inv.VMFolder.Ref.Value, Name: name,
			Datastore: inv.Datastores[0].Ref.Value, Pool: inv.Clusters[0].ResourcePool.Ref.Value,
		})
		if err != nil {
			t.Fatalf("cloning %s: %v", name, err)
		}
		return id
	}
	ubuntu, namedLikeID := clone("ubuntu-2204"), clone("vm-99999")
	uuid := biosUUID(ctx, t, c, golden)
	ubuntuUUID := biosUUID(ctx, t, c, ubuntu)
	if uuid == ubuntuUUID {
		t.Fatalf("the simulator gave two VMs the same BIOS UUID %s", uuid)
	}

	found := map[string]string{
		"/DC0/vm/golden":      golden,
		"golden":              golden,
		golden:                golden,
		uuid:                  golden,
		strings.ToUpper(uuid): golden,
		"ubuntu-2204":         ubuntu,
		"/DC0/vm/ubuntu-2204": ubuntu,
		ubuntuUUID:            ubuntu,
		"vm-99999":            namedLikeID,
		"/DC0/vm/vm-99999":    namedLikeID,
		inv.Golden.Path:       golden,
		ubuntu:                ubuntu,
	}
	for ref, want := range found {
		src, err := c.SourceVM(ctx, ref)
		if err != nil {
			t.Errorf("SourceVM(%q): %v", ref, err)
			continue
		}
		if src.ID != want {
			t.Errorf("SourceVM(%q) = %s, want %s", ref, src.ID, want)
		}
	}
	for _, ref := range []string{
		"4217aaaa-bbbb-cccc-dddd-eeeeeeeeeeee", // the UUID of no VM
		"vm-99998",                             // the ID of no VM
		inv.Datastores[0].Ref.Value,            // the ID of a datastore
		"/DC0/vm/no-such-vm",
		"no-such-vm",
	} {
		_, err := c.SourceVM(ctx, ref)
		if !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("SourceVM(%q): want not found, got %v", ref, err)
		}
	}
}

func TestLooksLikeID(t *testing.T) {
	for s, want := range map[string]bool{
		"vm-12": true, "vm-4401": true,
		"ubuntu-2204": false, "win-22h2": false, "datastore-12": false, "vm-": false,
		"/DC0/vm/vm-12": false, "vm-12a": false,
	} {
		if got := vsphere.LooksLikeID(s); got != want {
			t.Errorf("LooksLikeID(%q) = %v, want %v", s, got, want)
		}
	}
}

func biosUUID(ctx context.Context, t *testing.T, c *vsphere.Client, id string) string {
	t.Helper()
	var vm mo.VirtualMachine
	if err := property.DefaultCollector(c.Vim()).RetrieveOne(ctx, vsphere.VMRef(id), []string{"config.uuid"}, &vm); err != nil {
		t.Fatal(err)
	}
	if vm.Config == nil || vm.Config.Uuid == "" {
		t.Fatalf("VM %s has no BIOS UUID", id)
	}
	return vm.Config.Uuid
}
