package vcsim

import (
	"testing"
	"time"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// TestFreezingGuest: a VM carrying FreezeAfterKnob freezes itself once it has run that long,
// as seen through the property collector; its instant clones run unfrozen and do not carry
// the knob; powered off, it is no longer frozen.
func TestFreezingGuest(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	golden := goldenVM(t, c)
	ctx := t.Context()
	frozen := func(ref types.ManagedObjectReference) (bool, []types.BaseOptionValue) {
		var vm mo.VirtualMachine
		if err := property.DefaultCollector(c.Client).RetrieveOne(ctx, ref, []string{"runtime.instantCloneFrozen", "config.extraConfig"}, &vm); err != nil {
			t.Fatal(err)
		}
		return vm.Runtime.InstantCloneFrozen != nil && *vm.Runtime.InstantCloneFrozen, vm.Config.ExtraConfig
	}
	task, err := golden.Reconfigure(ctx, types.VirtualMachineConfigSpec{ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: FreezeAfterKnob, Value: "300ms"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if f, _ := frozen(golden.Reference()); f {
		t.Fatal("the guest froze at once")
	}
	deadline := time.Now().Add(5 * time.Second)
	for f, _ := frozen(golden.Reference()); !f; f, _ = frozen(golden.Reference()) {
		if time.Now().After(deadline) {
			t.Fatal("the guest never froze")
		}
		time.Sleep(50 * time.Millisecond)
	}
	info, err := cloneAndWait(t, golden, types.VirtualMachineInstantCloneSpec{Name: "child"})
	if err != nil {
		t.Fatal(err)
	}
	child, ok := info.Result.(types.ManagedObjectReference)
	if !ok {
		t.Fatalf("InstantClone result %T", info.Result)
	}
	time.Sleep(500 * time.Millisecond)
	if f, extra := frozen(child); f {
		t.Fatal("the instant clone froze too")
	} else if _, set := freezeAfter(extra); set {
		t.Fatal("the instant clone inherited the knob")
	}
	off, err := golden.PowerOff(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := off.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if f, _ := frozen(golden.Reference()); f {
		t.Fatal("a powered-off VM is still frozen")
	}
}
