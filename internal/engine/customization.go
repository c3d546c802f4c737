package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// vSphere 7.0 customizes a running instant clone in its guest
// (VirtualMachineGuestCustomizationManager). The SDK programming guide ("Avoiding Network
// Identity Collisions") has the clone made with its NICs disconnected, customized, and only
// then connected, so that it never shows the network its parent's identity. A pool with a
// Customization makes every clone that way, and removes a clone whose customization fails.

// Customization is a pool's guest customization: the host name, DNS and per-NIC IPv4
// settings each clone gets. It is kept in the pool's record without the guest password.
type Customization struct {
	HostName    string              `json:"hostname,omitempty"` // pattern of {name} and {n}; "" is {name}
	Domain      string              `json:"domain,omitempty"`
	DNSServers  []string            `json:"dns_servers,omitempty"`
	DNSSuffixes []string            `json:"dns_suffixes,omitempty"`
	Interfaces  []InterfaceSettings `json:"network_interfaces,omitempty"` // one per NIC, in order; NICs past them take DHCP
	GuestUser   string              `json:"guest_username"`
	// GuestPassword logs in to the guest. It never reaches the pool's record in vCenter.
	GuestPassword string `json:"-"`
}

// InterfaceSettings are one NIC's IPv4 settings: DHCP when IPv4Range is empty, else a fixed
// address per clone number from the range.
type InterfaceSettings struct {
	IPv4Range    string `json:"ipv4_range,omitempty"` // "10.0.1.10-10.0.1.99"
	PrefixLength int    `json:"ipv4_prefix_length,omitempty"`
	Gateway      string `json:"ipv4_gateway,omitempty"`
}

// GuestCustomization is what one clone is customized with (Port.Customize).
type GuestCustomization struct {
	User, Password          string
	HostName, Domain        string
	DNSServers, DNSSuffixes []string
	NICs                    []GuestNIC // the first cards, in order; cards past them take DHCP
}

// GuestNIC is one NIC's IPv4 settings; a zero Address means DHCP.
type GuestNIC struct {
	Address      netip.Addr
	PrefixLength int
	Gateway      netip.Addr
}

// ErrNoGuestPassword means clones of a customized pool had to be made where its guest
// password is not known: only the pool resource's configuration holds it.
var ErrNoGuestPassword = errors.New(`the pool customizes its clones, and its guest password is known only to the pool's own configuration: ` +
	`a clone can be made by applying the instantclone_pool, not by an instantclone_pool_datastore alone (attach with rebalance = "on_provision", then apply the pool)`)

// IPv4Range is an inclusive range of IPv4 addresses.
type IPv4Range struct{ First, Last netip.Addr }

// ParseIPv4Range reads "first-last".
func ParseIPv4Range(s string) (IPv4Range, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return IPv4Range{}, fmt.Errorf("%q is not a range: write it first-last, as 10.0.1.10-10.0.1.99", s)
	}
	first, err1 := netip.ParseAddr(strings.TrimSpace(a))
	last, err2 := netip.ParseAddr(strings.TrimSpace(b))
	switch {
	case err1 != nil || !first.Is4():
		return IPv4Range{}, fmt.Errorf("range %q: %q is not an IPv4 address", s, a)
	case err2 != nil || !last.Is4():
		return IPv4Range{}, fmt.Errorf("range %q: %q is not an IPv4 address", s, b)
	case last.Less(first):
		return IPv4Range{}, fmt.Errorf("range %q ends before it starts", s)
	}
	return IPv4Range{first, last}, nil
}

// Size is how many addresses the range holds.
func (r IPv4Range) Size() int {
	f, l := r.First.As4(), r.Last.As4()
	return int(be32(l)-be32(f)) + 1
}

// Nth is the range's nth address, from 1; false past its end.
func (r IPv4Range) Nth(n int) (netip.Addr, bool) {
	if n < 1 || n > r.Size() {
		return netip.Addr{}, false
	}
	v := be32(r.First.As4()) + uint32(n-1)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

func be32(b [4]byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// CheckCustomization says what is wrong with c for a pool of size clones, naming the
// setting: a host name pattern that makes bad names, a range too small, a gateway outside
// its NIC's network.
func CheckCustomization(c Customization, size int) []SettingError {
	var out []SettingError
	if sample := expandClone(c.hostNamePattern(), "desktop-1", 1); !validName.MatchString(sample) || len(sample) > 63 {
		out = append(out, SettingError{Interface: -1, Attribute: "hostname", Err: fmt.Errorf("host name pattern %q makes host names like %q: use letters, digits and hyphens, at most 63 characters", c.HostName, sample)})
	}
	for i, nic := range c.Interfaces {
		if nic.IPv4Range == "" {
			continue
		}
		r, err := ParseIPv4Range(nic.IPv4Range)
		if err != nil {
			out = append(out, SettingError{Interface: i, Attribute: "ipv4_range", Err: err})
			continue
		}
		if r.Size() < size {
			out = append(out, SettingError{Interface: i, Attribute: "ipv4_range", Err: fmt.Errorf("range %s holds %d address(es), fewer than the pool's %d clones: each clone number takes its own", nic.IPv4Range, r.Size(), size)})
		}
		if nic.PrefixLength < 1 || nic.PrefixLength > 32 {
			out = append(out, SettingError{Interface: i, Attribute: "ipv4_prefix_length", Err: fmt.Errorf("a static range needs a prefix length from 1 to 32, not %d", nic.PrefixLength)})
			continue
		}
		prefix := netip.PrefixFrom(r.First, nic.PrefixLength).Masked()
		if !prefix.Contains(r.Last) {
			out = append(out, SettingError{Interface: i, Attribute: "ipv4_range", Err: fmt.Errorf("range %s spans more than the network %s", nic.IPv4Range, prefix)})
		}
		if nic.Gateway != "" {
			gw, err := netip.ParseAddr(nic.Gateway)
			switch {
			case err != nil || !gw.Is4():
				out = append(out, SettingError{Interface: i, Attribute: "ipv4_gateway", Err: fmt.Errorf("%q is not an IPv4 address", nic.Gateway)})
			case !prefix.Contains(gw):
				out = append(out, SettingError{Interface: i, Attribute: "ipv4_gateway", Err: fmt.Errorf("gateway %s is outside the network %s", gw, prefix)})
			case !gw.Less(r.First) && !r.Last.Less(gw):
				out = append(out, SettingError{Interface: i, Attribute: "ipv4_gateway", Err: fmt.Errorf("gateway %s is inside the clones' range %s", gw, nic.IPv4Range)})
			}
		}
	}
	return out
}

// SettingError is a problem with one setting of a Customization: Attribute of the
// customization itself (Interface < 0) or of its network_interface number Interface.
type SettingError struct {
	Interface int
	Attribute string
	Err       error
}

func (e SettingError) Error() string {
	if e.Interface < 0 {
		return fmt.Sprintf("customization.%s: %v", e.Attribute, e.Err)
	}
	return fmt.Sprintf("customization.network_interface[%d].%s: %v", e.Interface, e.Attribute, e.Err)
}

// hostNamePattern is the host name pattern, {name} (the clone's name) unless set.
func (c Customization) hostNamePattern() string {
	if c.HostName == "" {
		return "{name}"
	}
	return c.HostName
}

// forClone is what the clone numbered n, called name, is customized with. Its address on
// each NIC is the nth of that NIC's range, so a clone keeps it across push-image and
// rebalance.
func (c Customization) forClone(name string, n int) (GuestCustomization, error) {
	if c.GuestPassword == "" {
		return GuestCustomization{}, ErrNoGuestPassword
	}
	g := GuestCustomization{
		User: c.GuestUser, Password: c.GuestPassword,
		HostName: expandClone(c.hostNamePattern(), name, n), Domain: c.Domain,
		DNSServers: c.DNSServers, DNSSuffixes: c.DNSSuffixes,
	}
	for i, nic := range c.Interfaces {
		var settings GuestNIC
		if nic.IPv4Range != "" {
			r, err := ParseIPv4Range(nic.IPv4Range)
			if err != nil {
				return g, fmt.Errorf("network_interface[%d]: %w", i, err)
			}
			addr, ok := r.Nth(n)
			if !ok {
				return g, fmt.Errorf("clone %s is number %d, past the end of range %s", name, n, nic.IPv4Range)
			}
			settings = GuestNIC{Address: addr, PrefixLength: nic.PrefixLength}
			if nic.Gateway != "" {
				settings.Gateway, _ = netip.ParseAddr(nic.Gateway)
			}
		}
		g.NICs = append(g.NICs, settings)
	}
	return g, nil
}

// expandClone expands {name} and {n} in a pattern for one clone.
func expandClone(pattern, name string, n int) string {
	return strings.NewReplacer("{name}", name, "{n}", strconv.Itoa(n)).Replace(pattern)
}

// customize gives a new clone its identity; a clone whose customization fails is removed,
// so that none joins the network with its parent's identity, and the error names it.
func (e *Engine) customize(ctx context.Context, id, name string, g GuestCustomization) error {
	err := e.slot(ctx, func() error { return e.vc.Customize(ctx, id, g) })
	if err == nil {
		return nil
	}
	e.log.Warn(ctx, "a clone's guest customization failed; removing it", map[string]any{"clone": name, "error": err.Error()})
	if rmErr := e.vc.RemoveVM(context.WithoutCancel(ctx), id, true); rmErr != nil {
		return fmt.Errorf("customizing clone %s (%s): %w; it stays disconnected, and removing it failed: %v", name, id, err, rmErr)
	}
	return fmt.Errorf("customizing clone %s: %w; the clone was removed", name, err)
}
