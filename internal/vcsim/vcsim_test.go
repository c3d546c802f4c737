package vcsim

import (
	"context"
	"net/url"
	"slices"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// start runs a simulator for the duration of the test.
func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("Start(%+v): %v", opts, err)
	}
	t.Cleanup(s.Close)
	return s
}

// login connects to s with its credentials, without verifying the certificate.
func login(t *testing.T, s *Server) *govmomi.Client {
	t.Helper()
	u := s.URL()
	u.User = url.UserPassword(s.Username(), s.Password())
	c, err := govmomi.NewClient(t.Context(), u, true)
	if err != nil {
		t.Fatalf("login to %s: %v", s.URL(), err)
	}
	t.Cleanup(func() { _ = c.Logout(context.Background()) })
	return c
}

// goldenVM finds the golden VM by its inventory path.
func goldenVM(t *testing.T, c *govmomi.Client) *object.VirtualMachine {
	t.Helper()
	vm, err := find.NewFinder(c.Client).VirtualMachine(t.Context(), GoldenVMPath)
	if err != nil {
		t.Fatalf("find %s: %v", GoldenVMPath, err)
	}
	return vm
}

// vmProps reads the properties the tests check on a VM.
func vmProps(t *testing.T, c *govmomi.Client, ref types.ManagedObjectReference) mo.VirtualMachine {
	t.Helper()
	var vm mo.VirtualMachine
	err := property.DefaultCollector(c.Client).RetrieveOne(t.Context(), ref, []string{
		"name", "parent", "datastore", "resourcePool", "runtime.host",
		"runtime.powerState", "config.extraConfig", "snapshot",
	}, &vm)
	if err != nil {
		t.Fatalf("retrieve %s: %v", ref, err)
	}
	return vm
}

func extraConfig(vm mo.VirtualMachine) map[string]any {
	out := make(map[string]any)
	if vm.Config == nil {
		return out
	}
	for _, v := range vm.Config.ExtraConfig {
		ov := v.GetOptionValue()
		out[ov.Key] = ov.Value
	}
	return out
}

func TestInventory(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	ctx := t.Context()
	inv := s.Inventory()

	if inv.Datacenter.Name != DatacenterName || inv.VMFolder.Path != "/DC0/vm" {
		t.Errorf("datacenter %+v, vm folder %+v", inv.Datacenter, inv.VMFolder)
	}
	if len(inv.Clusters) != 1 || len(inv.Clusters[0].Hosts) != 2 || len(inv.Datastores) != 4 {
		t.Fatalf("want 1 cluster of 2 hosts and 4 datastores, got %+v", inv)
	}
	if got := inv.Clusters[0].ResourcePool.Path; got != "/DC0/host/DC0_C0/Resources" {
		t.Errorf("cluster pool path = %q", got)
	}

	// Every datastore is mounted on every host, both ways round.
	var hostRefs, dsRefs []types.ManagedObjectReference
	for _, h := range inv.Clusters[0].Hosts {
		hostRefs = append(hostRefs, h.Ref)
	}
	for i, ds := range inv.Datastores {
		if want := "LocalDS_" + string(rune('0'+i)); ds.Name != want {
			t.Errorf("datastore %d is %q, want %q", i, ds.Name, want)
		}
		dsRefs = append(dsRefs, ds.Ref)
	}
	pc := property.DefaultCollector(c.Client)
	var hosts []mo.HostSystem
	if err := pc.Retrieve(ctx, hostRefs, []string{"datastore"}, &hosts); err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		for _, ds := range dsRefs {
			if !slices.Contains(h.Datastore, ds) {
				t.Errorf("host %s does not mount %s", h.Self, ds)
			}
		}
	}
	var datastores []mo.Datastore
	if err := pc.Retrieve(ctx, dsRefs, []string{"host"}, &datastores); err != nil {
		t.Fatal(err)
	}
	for _, ds := range datastores {
		var mounted []types.ManagedObjectReference
		for _, m := range ds.Host {
			mounted = append(mounted, m.Key)
		}
		for _, h := range hostRefs {
			if !slices.Contains(mounted, h) {
				t.Errorf("datastore %s is not mounted on %s", ds.Self, h)
			}
		}
	}

	// The golden VM, as a client sees it.
	vm := goldenVM(t, c)
	props := vmProps(t, c, vm.Reference())
	if props.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		t.Errorf("golden VM is %s", props.Runtime.PowerState)
	}
	if *props.Parent != inv.VMFolder.Ref || *props.ResourcePool != inv.Clusters[0].ResourcePool.Ref {
		t.Errorf("golden VM in folder %s pool %s", props.Parent, props.ResourcePool)
	}
	if props.Snapshot == nil || len(props.Snapshot.RootSnapshotList) != 1 {
		t.Fatalf("golden VM snapshot tree: %+v", props.Snapshot)
	}
	base := props.Snapshot.RootSnapshotList[0]
	if base.Name != SnapshotBase || len(base.ChildSnapshotList) != 1 || base.ChildSnapshotList[0].Name != SnapshotPatched {
		t.Fatalf("golden VM snapshot tree: %+v", props.Snapshot.RootSnapshotList)
	}
	patched := base.ChildSnapshotList[0].Snapshot
	if *props.Snapshot.CurrentSnapshot != patched {
		t.Errorf("current snapshot %s, want patched %s", props.Snapshot.CurrentSnapshot, patched)
	}
	if ref, err := vm.FindSnapshot(ctx, SnapshotPatched); err != nil || *ref != patched {
		t.Errorf("FindSnapshot(patched) = %v, %v", ref, err)
	}

	// Inventory reports the same.
	g := inv.Golden
	if g.Ref != vm.Reference() || g.Path != GoldenVMPath || g.Host.Ref != *props.Runtime.Host {
		t.Errorf("Inventory().Golden = %+v", g)
	}
	if len(g.Snapshots) != 2 || g.Snapshots[0].Name != SnapshotBase || g.Snapshots[0].Ref != base.Snapshot ||
		g.Snapshots[1].Name != SnapshotPatched || g.CurrentSnapshot.Ref != patched {
		t.Errorf("Inventory().Golden snapshots = %+v, current %+v", g.Snapshots, g.CurrentSnapshot)
	}
}

func TestInventorySizes(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Clusters: 3, HostsPerCluster: 1, Datastores: 2})
	inv := s.Inventory()
	if len(inv.Clusters) != 3 || len(inv.Datastores) != 2 {
		t.Fatalf("inventory %+v", inv)
	}
	for _, cl := range inv.Clusters {
		if len(cl.Hosts) != 1 || cl.ResourcePool.Ref.Type != "ResourcePool" {
			t.Errorf("cluster %+v", cl)
		}
	}
}
