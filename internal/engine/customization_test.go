package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine/fake"
)

func customization() *engine.Customization {
	return &engine.Customization{
		HostName: "{name}", Domain: "corp.example", GuestUser: "root", GuestPassword: "pw",
		Interfaces: []engine.InterfaceSettings{{IPv4Range: "10.0.9.10-10.0.9.19", PrefixLength: 24, Gateway: "10.0.9.1"}},
	}
}

// checkCustomized checks that every clone of a pool was made disconnected, then customized
// with its own host name and the range's nth address for clone n, and connected.
func (f *onFake) checkCustomized(t *testing.T, poolID string, size int) {
	t.Helper()
	clones := f.clones(poolID)
	if len(clones) != size {
		t.Fatalf("%d clones, want %d", len(clones), size)
	}
	for _, vm := range clones {
		c, ok, connected := f.vc.Customized(vm.ID)
		var n int
		if _, err := fmt.Sscanf(vm.Name, "d-%d", &n); err != nil {
			t.Fatalf("clone %s: %v", vm.Name, err)
		}
		want := fmt.Sprintf("10.0.9.%d", 9+n)
		switch {
		case !ok:
			t.Errorf("clone %s was not customized", vm.Name)
		case c.HostName != vm.Name || c.Domain != "corp.example" || c.User != "root" || c.Password != "pw":
			t.Errorf("clone %s customized as %+v", vm.Name, c)
		case len(c.NICs) != 1 || c.NICs[0].Address.String() != want || c.NICs[0].PrefixLength != 24 || c.NICs[0].Gateway.String() != "10.0.9.1":
			t.Errorf("clone %s got NIC settings %+v, want %s/24 via 10.0.9.1", vm.Name, c.NICs, want)
		case !connected:
			t.Errorf("clone %s is still disconnected", vm.Name)
		}
	}
}

// TestCustomizedPool: every clone, made by create, resize and push-image, is made with its
// NICs disconnected and customized with its own identity before it is connected; each
// clone number keeps its address.
func TestCustomizedPool(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	spec := poolSpec("d", f.image(t, "a"), 3, "datastore-1", "datastore-2")
	spec.Customization = customization()
	p := f.create(t, spec)
	f.checkCustomized(t, p.ID, 3)
	spec.Size = 5
	if _, err := f.engine.ApplyPool(ctx, p.ID, spec); err != nil {
		t.Fatal(err)
	}
	f.checkCustomized(t, p.ID, 5)
	spec.ImageID = f.image(t, "b")
	if _, err := f.engine.ApplyPool(ctx, p.ID, spec); err != nil {
		t.Fatal(err)
	}
	f.checkCustomized(t, p.ID, 5)
	if n, m := f.vc.Calls("Customize"), f.vc.Calls("InstantClone"); n != m {
		t.Errorf("%d customizations for %d instant clones", n, m)
	}
}

// TestCustomizationFailureRemovesClone: a clone whose customization fails is removed, and
// the error names it; the next apply makes it again.
func TestCustomizationFailureRemovesClone(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	spec := poolSpec("d", f.image(t, "a"), 3, "datastore-1")
	spec.Customization = customization()
	f.vc.Inject(&fake.Fault{Method: "Customize", Skip: 1, Count: 1, Err: errors.New("CustomizationFault: sysprep failed")})
	_, err := f.engine.CreatePool(ctx, spec)
	if err == nil || !strings.Contains(err.Error(), "customizing clone d-") || !strings.Contains(err.Error(), "sysprep failed") || !strings.Contains(err.Error(), "removed") {
		t.Fatalf("create: %v", err)
	}
	for _, vm := range f.vc.VMs() {
		if _, customized, connected := f.vc.Customized(vm.ID); strings.HasPrefix(vm.Name, "d-") && (!customized || !connected) {
			t.Errorf("clone %s left behind uncustomized (connected %v)", vm.Name, connected)
		}
	}
	p := f.create(t, spec)
	f.checkCustomized(t, p.ID, 3)
}

// TestCustomizationNeedsThePassword: where the guest password is not known (a rebalance from
// the pool's record alone), no clone is made rather than one left uncustomized.
func TestCustomizationNeedsThePassword(t *testing.T) {
	ctx := context.Background()
	f := newOnFake(t, fake.Options{})
	spec := poolSpec("d", f.image(t, "a"), 4, "datastore-1")
	spec.Customization = customization()
	p := f.create(t, spec)
	before := f.vc.Calls("InstantClone")
	_, err := f.engine.Attach(ctx, p.ID, "datastore-2", engine.RebalanceImmediate)
	if !errors.Is(err, engine.ErrNoGuestPassword) {
		t.Fatalf("attach with immediate rebalance: %v, want ErrNoGuestPassword", err)
	}
	if n := f.vc.Calls("InstantClone") - before; n != 0 {
		t.Errorf("%d clones made without the guest password", n)
	}
	f.checkCustomized(t, p.ID, 4)
}

// TestCheckCustomization: each bad setting is named.
func TestCheckCustomization(t *testing.T) {
	for _, tt := range []struct {
		name  string
		nic   engine.InterfaceSettings
		host  string
		where string
	}{
		{"range too small", engine.InterfaceSettings{IPv4Range: "10.0.0.1-10.0.0.3", PrefixLength: 24}, "", "network_interface[0].ipv4_range"},
		{"reversed range", engine.InterfaceSettings{IPv4Range: "10.0.0.9-10.0.0.1", PrefixLength: 24}, "", "network_interface[0].ipv4_range"},
		{"IPv6 range", engine.InterfaceSettings{IPv4Range: "fd00::1-fd00::9", PrefixLength: 64}, "", "network_interface[0].ipv4_range"},
		{"no prefix length", engine.InterfaceSettings{IPv4Range: "10.0.0.1-10.0.0.9"}, "", "network_interface[0].ipv4_prefix_length"},
		{"range across networks", engine.InterfaceSettings{IPv4Range: "10.0.0.250-10.0.1.9", PrefixLength: 24}, "", "network_interface[0].ipv4_range"},
		{"gateway in the range", engine.InterfaceSettings{IPv4Range: "10.0.0.1-10.0.0.9", PrefixLength: 24, Gateway: "10.0.0.5"}, "", "network_interface[0].ipv4_gateway"},
		{"gateway elsewhere", engine.InterfaceSettings{IPv4Range: "10.0.0.1-10.0.0.9", PrefixLength: 24, Gateway: "10.0.1.1"}, "", "network_interface[0].ipv4_gateway"},
		{"host name with underscore", engine.InterfaceSettings{}, "desk_{n}", "customization.hostname"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := engine.Customization{HostName: tt.host, Interfaces: []engine.InterfaceSettings{tt.nic}}
			problems := engine.CheckCustomization(c, 4)
			if len(problems) != 1 || !strings.Contains(problems[0].Error(), tt.where) {
				t.Fatalf("problems %v, want one on %s", problems, tt.where)
			}
		})
	}
	good := engine.Customization{Interfaces: []engine.InterfaceSettings{{IPv4Range: "10.0.0.10-10.0.0.13", PrefixLength: 24, Gateway: "10.0.0.1"}, {}}}
	if problems := engine.CheckCustomization(good, 4); len(problems) != 0 {
		t.Errorf("a range that just fits, and DHCP: %v", problems)
	}
}
