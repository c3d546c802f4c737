// Package vcsim runs an in-process vCenter simulator, built on govmomi's
// simulator, for acceptance tests, benchmarks and demos of the provider.
//
// Each Start gives an independent simulator: its own inventory, TLS
// certificate, credentials, fault injector and delays. The simulator answers
// VirtualMachine.InstantClone_Task (see enableInstantClone) and holds a
// powered-on "golden" VM with two snapshots to clone from.
//
// Latency, TaskLatency and MethodLatency are applied through the model's
// simulator.DelayConfig, which belongs to that server alone; the
// package-global simulator.TaskDelay is never touched. Latency is added to
// every SOAP call. TaskLatency is added to the SOAP call of CloneVM_Task,
// InstantClone_Task, PowerOnVM_Task, PowerOffVM_Task and a VM's Destroy_Task, so
// the whole operation takes that much longer as seen by the client (an empty
// folder's destroy is quick on vCenter, and stays so). The
// delay is served before the simulator takes any object lock, so concurrent
// operations overlap as they would on vCenter instead of queueing behind each
// other. The clone work itself (milliseconds) runs one at a time per source
// VM and per destination folder, as the simulator's object locks dictate.
package vcsim

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
)

// Username is the administrator, whom the simulator does not check for privileges.
const Username = "administrator@vsphere.local"

// DefaultListen is the address Start listens on unless told otherwise.
const DefaultListen = "127.0.0.1:0"

// taskLatencyMethods are the SOAP methods TaskLatency applies to.
var taskLatencyMethods = []string{
	"CloneVM_Task",
	"InstantClone_Task",
	"PowerOnVM_Task",
	"PowerOffVM_Task",
	"VirtualMachine.Destroy_Task",
}

// Options describe the simulated vCenter. Zero values take the defaults.
type Options struct {
	Clusters        int           // default 1
	HostsPerCluster int           // default 2
	Datastores      int           // default 4, each mounted on every host
	Latency         time.Duration // added to every SOAP call; 0 = none
	TaskLatency     time.Duration // added to clone, instant-clone, power and destroy calls; 0 = none
	// MethodLatency is added to the SOAP calls of the methods it names instead of
	// TaskLatency, e.g. {"InstantClone_Task": 200ms, "PowerOnVM_Task": 20ms}. A name of
	// the form Type.Method applies to that type's objects alone:
	// {"VirtualMachine.Destroy_Task": 50ms}.
	MethodLatency map[string]time.Duration
	Listen        string // loopback host:port, default 127.0.0.1:0
	// InstantCloneIgnoresLocation places instant clones with their source whatever
	// spec.location says (see InstantCloneOptions.IgnoreLocation).
	InstantCloneIgnoresLocation bool
	// Users are logins besides the administrator, each with a role of its own
	// (privileges.go). ReadOnlyUser is always there.
	Users []User
}

func (o Options) withDefaults() (Options, error) {
	if o.Clusters == 0 {
		o.Clusters = 1
	}
	if o.HostsPerCluster == 0 {
		o.HostsPerCluster = 2
	}
	if o.Datastores == 0 {
		o.Datastores = 4
	}
	if o.Clusters < 0 || o.HostsPerCluster < 0 || o.Datastores < 0 {
		return o, fmt.Errorf("vcsim: negative inventory size in %+v", o)
	}
	if o.Latency < 0 || o.TaskLatency < 0 {
		return o, fmt.Errorf("vcsim: negative latency in %+v", o)
	}
	for method, d := range o.MethodLatency {
		if d < 0 {
			return o, fmt.Errorf("vcsim: negative latency %v for %s", d, method)
		}
	}
	listen, err := LoopbackAddress(o.Listen)
	if err != nil {
		return o, err
	}
	o.Listen = listen
	return o, nil
}

// LoopbackAddress checks that addr (host:port) is on the loopback interface
// and returns it with "localhost" resolved to 127.0.0.1. An empty addr gives
// DefaultListen. The simulator accepts a few well-known users, so it must
// never be reachable from other machines.
func LoopbackAddress(addr string) (string, error) {
	if addr == "" {
		return DefaultListen, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("vcsim: listen address %q: %w", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("vcsim: listen address %q is not a loopback address", addr)
	}
	return net.JoinHostPort(ip.String(), port), nil
}

// Server is a running simulator. Close it when done.
type Server struct {
	model     *simulator.Model
	server    *simulator.Server
	url       *url.URL
	user      *url.Userinfo
	cert      *x509.Certificate
	dir       string
	certFile  string
	inventory Inventory
	users     users
	closeOnce sync.Once

	// The task type of BusyTask, registered on first use (busytask.go).
	busyOnce sync.Once
	busyErr  error

	// local is an in-process client, with the simulator's internal session.
	local *vim25.Client

	// The calls answered and refused (calls.go), and the delta chains of instant-clone
	// sources (deltas.go).
	log    *callLog
	chains *deltaChains

	// Counted fault rules (faults.go).
	faultsMu   sync.Mutex
	injections []*Injection

	// Sessions ended by EndSessions and the calls made with them (sessions.go).
	sessionsMu sync.Mutex
	waits      waits
	anyEnded   atomic.Bool
	ended      map[string]bool               // session key: a client called with it after it ended
	pending    map[*simulator.Context]string // calls whose cookie names an ended session, until dispatched
}

// Start builds the inventory described by opts, creates the golden VM and
// serves the SDK over HTTPS on a loopback address.
func Start(opts Options) (_ *Server, err error) {
	opts, err = opts.withDefaults()
	if err != nil {
		return nil, err
	}

	s := &Server{user: url.UserPassword(Username, rand.Text())}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	if s.dir, err = os.MkdirTemp("", "vcsim-tls-"); err != nil {
		return nil, fmt.Errorf("vcsim: %w", err)
	}
	tlsCert, certPEM, err := newCertificate()
	if err != nil {
		return nil, err
	}
	s.cert = tlsCert.Leaf
	s.certFile = filepath.Join(s.dir, "server.pem")
	if err = os.WriteFile(s.certFile, certPEM, 0o600); err != nil {
		return nil, fmt.Errorf("vcsim: %w", err)
	}

	m := simulator.VPX()
	m.Datacenter = 1
	m.Host = 0 // hosts only live in clusters
	m.Cluster = opts.Clusters
	m.ClusterHost = opts.HostsPerCluster
	m.Datastore = opts.Datastores
	m.Machine = 0
	m.Autostart = false
	s.model = m
	if err = createModel(m); err != nil {
		return nil, fmt.Errorf("vcsim: create model: %w", err)
	}

	// A Listen URL with userinfo other than simulator.DefaultLogin makes the
	// session manager accept exactly that user and password (until acceptLogins
	// below adds the users).
	m.Service.Listen = &url.URL{Host: opts.Listen, User: s.user}
	m.Service.TLS = &tls.Config{Certificates: []tls.Certificate{tlsCert}}
	s.log = newCallLog()
	disks := newSpace()
	s.chains = enableInstantClone(m.Service.Context.Map, InstantCloneOptions{IgnoreLocation: opts.InstantCloneIgnoresLocation, Refused: s.log.refuse}, disks)
	answerListViewEdits(m.Service.Context.Map)
	s.waits.answerWaits(m.Service.Context.Map)
	enableStorageMigration(m.Service.Context.Map)
	enableFolderSafeClones(m.Service.Context.Map, disks)
	disks.enableSpaceReturn(m.Service.Context.Map)
	enableDatastoreUsage(m.Service.Context.Map)
	enforceVCenterRules(m.Service.Context.Map, s.log.refuse)
	enableFreezingGuests(m.Service.Context.Map)
	enableGuestCustomization(m.Service.Context.Map)
	enableMaintenance(m.Service.Context.Map)
	enableDatastoreMaintenance(m.Service.Context.Map)
	s.log.observe(m.Service.Context.Map)
	s.observeSessions(m.Service.Context.Map)

	// The golden VM is built in process, before the server starts and before
	// any delay is configured, so setup is fast and nothing races with it.
	ctx := context.Background()
	c, err := vim25.NewClient(ctx, m.Service)
	if err != nil {
		return nil, fmt.Errorf("vcsim: in-process client: %w", err)
	}
	if s.inventory, err = buildInventory(ctx, c); err != nil {
		return nil, err
	}
	s.local = c
	if s.users, err = addUsers(ctx, c, append([]User{{Name: ReadOnlyUser}}, opts.Users...)); err != nil {
		return nil, err
	}
	acceptLogins(m.Service.Context.Map, s.Username(), s.Password(), s.users)
	enforcePrivileges(m.Service.Context.Map, *c.ServiceContent.AuthorizationManager, c.ServiceContent.RootFolder, s.users)

	m.DelayConfig.Delay = milliseconds(opts.Latency)
	m.DelayConfig.MethodDelay = map[string]int{}
	latencies := map[string]time.Duration{}
	if opts.TaskLatency > 0 {
		for _, name := range taskLatencyMethods {
			latencies[name] = opts.TaskLatency
		}
	}
	for name, d := range opts.MethodLatency {
		latencies[name] = d
	}
	typed := map[string]time.Duration{}
	for name, d := range latencies {
		if strings.Contains(name, ".") {
			typed[name] = d
			continue
		}
		m.DelayConfig.MethodDelay[name] = milliseconds(d)
	}
	delayTyped(m.Service.Context.Map, typed)

	if s.server, err = newServer(m.Service); err != nil {
		return nil, err
	}
	s.url = &url.URL{Scheme: s.server.URL.Scheme, Host: s.server.URL.Host, Path: s.server.URL.Path}
	return s, nil
}

// createMu serialises Model.Create, which appends to the simulator's
// package-level EvalLicense and so races with itself across servers.
var createMu sync.Mutex

func createModel(m *simulator.Model) error {
	createMu.Lock()
	defer createMu.Unlock()
	return m.Create()
}

// newServer starts the HTTPS server, turning the simulator's panic on a
// listen failure (such as a port in use) into an error.
func newServer(svc *simulator.Service) (srv *simulator.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("vcsim: start server: %v", r)
		}
	}()
	return svc.NewServer(), nil
}

// milliseconds rounds d up to the simulator's delay unit.
func milliseconds(d time.Duration) int {
	return int((d + time.Millisecond - 1) / time.Millisecond)
}

// URL is the https URL of the SDK endpoint (…/sdk), without credentials.
func (s *Server) URL() *url.URL {
	u := *s.url
	return &u
}

// Username is the administrator's name.
func (s *Server) Username() string { return s.user.Username() }

// Password is the administrator's password, random per server.
func (s *Server) Password() string {
	p, _ := s.user.Password()
	return p
}

// UserPassword is the password of one of the users (Options.Users, ReadOnlyUser), random
// per server; "" for a name that is not a user.
func (s *Server) UserPassword(name string) string { return s.users[name] }

// CertificateFile is a PEM file holding the server's self-signed certificate,
// valid for 127.0.0.1, ::1 and localhost. It is removed by Close.
func (s *Server) CertificateFile() string { return s.certFile }

// Certificate is the server's self-signed certificate.
func (s *Server) Certificate() *x509.Certificate { return s.cert }

// Thumbprint is the SHA-1 thumbprint of the certificate, in the
// colon-separated form vSphere clients pin.
func (s *Server) Thumbprint() string {
	return soap.ThumbprintSHA1(s.cert)
}

// Model is the simulator model behind the server.
func (s *Server) Model() *simulator.Model { return s.model }

// Service is the simulator service behind the server.
func (s *Server) Service() *simulator.Service { return s.model.Service }

// Faults is the server's fault injector: rules added to it apply to SOAP
// calls made from then on, InstantClone_Task included. InjectFault adds a
// rule that counts the faults it delivers.
func (s *Server) Faults() *simulator.FaultInjector { return s.model.Service.FaultInjector() }

// Inventory describes what Start created.
func (s *Server) Inventory() Inventory { return s.inventory.clone() }

// Close stops the server and removes its files. It is safe to call twice.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.waits.end() // a wait in flight would hold the close up until it ran out
		if s.server != nil {
			s.server.Close()
		}
		if s.model != nil && s.model.Service != nil {
			s.model.Remove()
		}
		if s.dir != "" {
			_ = os.RemoveAll(s.dir)
		}
	})
}

// delayTyped adds latency to the calls of the methods named Type.Method in latencies, on
// objects of that type. It sleeps before the call takes any lock, as DelayConfig does.
func delayTyped(r *simulator.Registry, latencies map[string]time.Duration) {
	if len(latencies) == 0 {
		return
	}
	answer(r, func(_ *simulator.Context, m *simulator.Method) mo.Reference {
		if d := latencies[m.This.Type+"."+m.Name]; d > 0 {
			time.Sleep(d)
		}
		return nil // the call goes on
	})
}
