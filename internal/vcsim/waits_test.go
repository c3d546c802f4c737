package vcsim

import (
	"context"
	"testing"
	"time"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// TestWaitReportsChanges: a collector's first wait reports its objects' properties, the next
// wait what changed since (only the properties that did), and a wait from a version the
// collector never gave is refused with InvalidCollectorVersion, as vCenter does.
func TestWaitReportsChanges(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	vm := goldenVM(t, c)

	pc, err := property.DefaultCollector(c.Client).Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.CreateFilter(ctx, types.CreateFilter{Spec: types.PropertyFilterSpec{
		ObjectSet: []types.ObjectSpec{{Obj: vm.Reference()}},
		PropSet:   []types.PropertySpec{{Type: "VirtualMachine", PathSet: []string{"name", "runtime.powerState"}}},
	}}); err != nil {
		t.Fatal(err)
	}
	wait := func(version string) *types.UpdateSet {
		t.Helper()
		res, err := methods.WaitForUpdatesEx(ctx, c.Client, &types.WaitForUpdatesEx{
			This: pc.Reference(), Version: version, Options: &types.WaitOptions{MaxWaitSeconds: types.NewInt32(5)},
		})
		if err != nil {
			t.Fatalf("waiting from version %q: %v", version, err)
		}
		return res.Returnval
	}
	changed := func(set *types.UpdateSet) map[string]types.AnyType {
		out := map[string]types.AnyType{}
		for _, fs := range set.FilterSet {
			for _, u := range fs.ObjectSet {
				for _, ch := range u.ChangeSet {
					out[ch.Name] = ch.Val
				}
			}
		}
		return out
	}

	first := wait("")
	if got := changed(first); len(got) != 2 || got["runtime.powerState"] != types.VirtualMachinePowerStatePoweredOn {
		t.Fatalf("first wait reported %v, want the name and the power state (poweredOn)", got)
	}
	task, err := vm.PowerOff(ctx)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	next := wait(first.Version)
	if got := changed(next); len(got) != 1 || got["runtime.powerState"] != types.VirtualMachinePowerStatePoweredOff {
		t.Fatalf("after a power off the wait reported %v, want the power state alone (poweredOff)", got)
	}

	_, err = methods.WaitForUpdatesEx(ctx, c.Client, &types.WaitForUpdatesEx{This: pc.Reference(), Version: "no such version"})
	if !soap.IsSoapFault(err) {
		t.Fatalf("a wait from an unknown version: %v, want InvalidCollectorVersion", err)
	}
	if _, ok := soap.ToSoapFault(err).VimFault().(types.InvalidCollectorVersion); !ok {
		t.Fatalf("a wait from an unknown version: %v, want InvalidCollectorVersion", err)
	}
}
