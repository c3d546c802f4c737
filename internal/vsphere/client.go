// Package vsphere is the thin layer between the pool engine and vCenter: sessions, property
// collector reads, tasks, folders, custom attributes and fault classification.
package vsphere

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/session/keepalive"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// Config is how to reach vCenter.
type Config struct {
	Server     string // host, host:port or https URL
	User       string
	Password   string
	Insecure   bool   // skip TLS verification
	CAFile     string // PEM file of CAs to trust besides the system's
	Datacenter string // name or path; optional when there is exactly one
	// KeepAlive is how often an idle session is refreshed; 0 means 5 minutes.
	KeepAlive time.Duration
	// Log receives Debug lines for vCenter calls and task progress; nil discards them.
	Log engine.Logger
}

// Client is a logged-in vCenter session bound to one datacenter.
type Client struct {
	vim        *vim25.Client
	sessions   *session.Manager
	user       *url.Userinfo
	datacenter *object.Datacenter
	dcPath     string
	vmFolder   types.ManagedObjectReference
	fields     *customFields
	tasks      *taskWatcher
	calls      atomic.Int64
	log        engine.Logger
	nets       networkCache
}

// ServerURL turns what users write for vsphere_server into the SDK URL.
func ServerURL(server string) (*url.URL, error) {
	s := strings.TrimSpace(server)
	if s == "" {
		return nil, errors.New("server is empty")
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("server %q is not a host name or URL: %w", server, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("server %q has no host", server)
	}
	if u.User != nil {
		return nil, errors.New("server must not carry credentials; use user and password")
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = vim25.Path
	}
	return u, nil
}

// Connect logs in to vCenter and resolves the datacenter.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	u, err := ServerURL(cfg.Server)
	if err != nil {
		return nil, err
	}
	sc := soap.NewClient(u, cfg.Insecure)
	if cfg.CAFile != "" {
		if err := sc.SetRootCAs(cfg.CAFile); err != nil {
			return nil, fmt.Errorf("reading CA file %s: %w", cfg.CAFile, err)
		}
	}
	c := &Client{user: url.UserPassword(cfg.User, cfg.Password), log: cfg.Log}
	if c.log == nil {
		c.log = engine.Discard
	}
	c.tasks = newTaskWatcher(c)
	counted := &countingTransport{next: sc, calls: &c.calls}
	vc, err := vim25.NewClient(ctx, counted)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", u.Host, describeTransportError(err))
	}
	// Logins go straight to the counted transport; every other call goes through the
	// re-login wrapper so a session that expired between calls is renewed once.
	loginClient := *vc
	c.sessions = session.NewManager(&loginClient)
	idle := cfg.KeepAlive
	if idle == 0 {
		idle = 5 * time.Minute
	}
	keep := keepalive.NewHandlerSOAP(counted, idle, nil)
	loginClient.RoundTripper = keep
	vc.RoundTripper = &reloginTransport{next: keep, relogin: c.relogin}
	c.vim = vc

	if err := c.login(ctx); err != nil {
		return nil, err
	}
	if err := c.useDatacenter(ctx, cfg.Datacenter); err != nil {
		_ = c.Logout(context.WithoutCancel(ctx))
		return nil, err
	}
	c.fields = newCustomFields(c)
	return c, nil
}

func (c *Client) login(ctx context.Context) error {
	if err := c.sessions.Login(ctx, c.user); err != nil {
		if fault.Is(err, &types.InvalidLogin{}) {
			return fmt.Errorf("logging in as %q: vCenter rejected the user name or password", c.user.Username())
		}
		return fmt.Errorf("logging in as %q: %w", c.user.Username(), describeTransportError(err))
	}
	return nil
}

// relogin logs in again unless the session turns out to be alive (a call can be refused
// as not authenticated while the session is being replaced).
func (c *Client) relogin(ctx context.Context) error {
	if s, err := c.sessions.UserSession(ctx); err == nil && s != nil {
		return nil
	}
	return c.login(ctx)
}

func (c *Client) useDatacenter(ctx context.Context, name string) error {
	finder := find.NewFinder(c.vim, false)
	var dc *object.Datacenter
	var err error
	if name == "" {
		dc, err = finder.DefaultDatacenter(ctx)
		if err != nil {
			return fmt.Errorf("finding the datacenter (set datacenter when vCenter has more than one): %w", err)
		}
	} else {
		dc, err = finder.Datacenter(ctx, name)
		if err != nil {
			return fmt.Errorf("finding datacenter %q: %w", name, err)
		}
	}
	folders, err := dc.Folders(ctx)
	if err != nil {
		return fmt.Errorf("reading the folders of datacenter %s: %w", dc.InventoryPath, err)
	}
	c.datacenter = dc
	c.dcPath = dc.InventoryPath
	c.vmFolder = folders.VmFolder.Reference()
	return nil
}

// Logout ends the session. Safe to call more than once.
func (c *Client) Logout(ctx context.Context) error {
	if c == nil || c.sessions == nil {
		return nil
	}
	if c.tasks != nil {
		c.tasks.close()
	}
	return c.sessions.Logout(ctx)
}

// Vim exposes the underlying client for tests and tools.
func (c *Client) Vim() *vim25.Client { return c.vim }

// DatacenterPath is the inventory path of the datacenter, e.g. /DC0.
func (c *Client) DatacenterPath() string { return c.dcPath }

// VMFolder is the datacenter's root VM folder.
func (c *Client) VMFolder() types.ManagedObjectReference { return c.vmFolder }

// Calls is how many SOAP calls this client has made, for tests and benchmarks.
func (c *Client) Calls() int64 { return c.calls.Load() }

// countingTransport counts every SOAP call that leaves the client.
type countingTransport struct {
	next  soap.RoundTripper
	calls *atomic.Int64
}

func (t *countingTransport) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	t.calls.Add(1)
	return t.next.RoundTrip(ctx, req, res)
}

// reloginTransport logs in again and retries once when vCenter says the session is gone.
// When many calls in flight see the session gone at once, only the first logs in.
type reloginTransport struct {
	next       soap.RoundTripper
	relogin    func(context.Context) error
	mu         sync.Mutex
	generation atomic.Int64 // counts successful re-logins
}

func (t *reloginTransport) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	gen := t.generation.Load()
	err := t.next.RoundTrip(ctx, req, res)
	if !fault.Is(err, &types.NotAuthenticated{}) && !deniedProperties(res) {
		return err
	}
	t.mu.Lock()
	if t.generation.Load() == gen {
		if lerr := t.relogin(ctx); lerr != nil {
			t.mu.Unlock()
			return fmt.Errorf("the vCenter session ended and logging in again failed: %w", lerr)
		}
		t.generation.Add(1)
	}
	t.mu.Unlock()
	// The retry decodes into the same response body, and a decode leaves the fields the new
	// answer lacks as they were (the first answer's fault among them): empty it first.
	// govmomi's own retrying round tripper (vim25.Retry) does not, so it cannot serve here.
	if v := reflect.ValueOf(res); v.Kind() == reflect.Pointer && !v.IsNil() {
		v.Elem().Set(reflect.Zero(v.Elem().Type()))
	}
	return t.next.RoundTrip(ctx, req, res)
}

// deniedProperties reports a property read that succeeded as a call but was refused object by
// object for want of a session (vcsim answers reads without a session this way).
func deniedProperties(res soap.HasFault) bool {
	var contents []types.ObjectContent
	switch r := res.(type) {
	case *methods.RetrievePropertiesBody:
		if r.Res != nil {
			contents = r.Res.Returnval
		}
	case *methods.RetrievePropertiesExBody:
		if r.Res != nil && r.Res.Returnval != nil {
			contents = r.Res.Returnval.Objects
		}
	}
	for _, oc := range contents {
		for _, m := range oc.MissingSet {
			if _, ok := m.Fault.Fault.(*types.NotAuthenticated); ok {
				return true
			}
		}
	}
	return false
}
