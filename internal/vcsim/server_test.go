package vcsim

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

func TestLogin(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	u := s.URL()
	if u.User != nil || u.Scheme != "https" || u.Path != "/sdk" || !strings.HasPrefix(u.Host, "127.0.0.1:") {
		t.Errorf("URL() = %s", u)
	}
	if s.Username() == "" || len(s.Password()) < 16 {
		t.Errorf("weak credentials %q/%q", s.Username(), s.Password())
	}
	login(t, s) // the reported credentials work

	for _, user := range []*url.Userinfo{
		url.UserPassword(s.Username(), s.Password()+"x"),
		url.UserPassword(s.Username(), "pass"),
		url.UserPassword("user", s.Password()),
		url.UserPassword("user", "pass"), // vcsim's default login
	} {
		u := s.URL()
		u.User = user
		_, err := govmomi.NewClient(t.Context(), u, true)
		var invalid *types.InvalidLogin
		if _, ok := fault.As(err, &invalid); !ok {
			t.Errorf("login as %s: got %v, want InvalidLogin", user.Username(), err)
		}
	}
}

func TestStartsAreIndependent(t *testing.T) {
	t.Parallel()
	a := start(t, Options{})
	b := start(t, Options{})
	if a.URL().Host == b.URL().Host || a.Password() == b.Password() {
		t.Fatalf("servers share an address or password: %s %s", a.URL(), b.URL())
	}
	// One server's password is no good on the other.
	u := b.URL()
	u.User = url.UserPassword(a.Username(), a.Password())
	if _, err := govmomi.NewClient(t.Context(), u, true); err == nil {
		t.Error("server b accepted server a's password")
	}
	login(t, a)
	login(t, b)
}

// verifiedClient logs in to s checking its certificate against caFile.
func verifiedClient(t *testing.T, s *Server, caFile string) error {
	t.Helper()
	ctx := t.Context()
	sc := soap.NewClient(s.URL(), false)
	if err := sc.SetRootCAs(caFile); err != nil {
		t.Fatalf("SetRootCAs(%s): %v", caFile, err)
	}
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return err
	}
	return session.NewManager(vc).Login(ctx, url.UserPassword(s.Username(), s.Password()))
}

func TestCertificate(t *testing.T) {
	t.Parallel()
	a := start(t, Options{})
	b := start(t, Options{})
	if err := verifiedClient(t, a, a.CertificateFile()); err != nil {
		t.Errorf("verified login with the server's own certificate: %v", err)
	}
	if err := verifiedClient(t, a, b.CertificateFile()); err == nil {
		t.Error("server a's certificate was accepted with server b's as the only root")
	}
	if tp := a.Thumbprint(); len(tp) != 59 || tp == b.Thumbprint() {
		t.Errorf("thumbprints %q %q", tp, b.Thumbprint())
	}
}

func TestListenIsLoopbackOnly(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.10:0", "example.com:0", "127.0.0.1"} {
		if s, err := Start(Options{Listen: addr}); err == nil {
			s.Close()
			t.Errorf("Start accepted listen address %q", addr)
		}
	}
	s := start(t, Options{Listen: "localhost:0"})
	if !strings.HasPrefix(s.URL().Host, "127.0.0.1:") {
		t.Errorf("localhost listened on %s", s.URL().Host)
	}
	// A port in use is an error, not a panic.
	if s2, err := Start(Options{Listen: s.URL().Host}); err == nil {
		s2.Close()
		t.Errorf("second server on %s started", s.URL().Host)
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	const latency, taskLatency = 20 * time.Millisecond, 250 * time.Millisecond
	slow := start(t, Options{Latency: latency, TaskLatency: taskLatency})
	fast := start(t, Options{})
	ctx := t.Context()

	sc, fc := login(t, slow), login(t, fast)

	began := time.Now()
	if _, err := methods.GetCurrentTime(ctx, sc.Client); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d < latency {
		t.Errorf("call took %s, want at least %s", d, latency)
	}

	// Instant clones pay TaskLatency each, but in parallel.
	vm := goldenVM(t, sc)
	const n = 5
	began = time.Now()
	errs := make(chan error, n)
	for i := range n {
		go func() {
			task, err := vm.InstantClone(ctx, types.VirtualMachineInstantCloneSpec{Name: "lat-" + string(rune('a'+i))})
			if err == nil {
				_, err = task.WaitForResult(ctx)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(began)
	if elapsed < taskLatency+latency {
		t.Errorf("%d instant clones took %s, want at least %s", n, elapsed, taskLatency+latency)
	}
	// Serialised delays would take n*taskLatency; leave room for a slow,
	// busy machine (the clones themselves do run one at a time).
	if elapsed >= (n-1)*taskLatency {
		t.Errorf("%d instant clones took %s: task latency looks serialised", n, elapsed)
	}

	// The other server is not slowed down.
	began = time.Now()
	task, err := goldenVM(t, fc).InstantClone(ctx, types.VirtualMachineInstantCloneSpec{Name: "quick"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := task.WaitForResult(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d >= taskLatency {
		t.Errorf("instant clone on the server without latency took %s", d)
	}
}

// TestMethodLatency: a method given a latency of its own pays that one, not TaskLatency.
func TestMethodLatency(t *testing.T) {
	t.Parallel()
	const taskLatency, cloneLatency = 50 * time.Millisecond, 400 * time.Millisecond
	s := start(t, Options{TaskLatency: taskLatency, MethodLatency: map[string]time.Duration{"InstantClone_Task": cloneLatency}})
	c := login(t, s)
	ctx := t.Context()
	vm := goldenVM(t, c)
	timed := func(what string, f func() (*object.Task, error)) time.Duration {
		began := time.Now()
		task, err := f()
		if err == nil {
			err = task.Wait(ctx)
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return time.Since(began)
	}
	if d := timed("instant clone", func() (*object.Task, error) {
		return vm.InstantClone(ctx, types.VirtualMachineInstantCloneSpec{Name: "slow"})
	}); d < cloneLatency {
		t.Errorf("instant clone took %s, want at least its own %s", d, cloneLatency)
	}
	if d := timed("power off", func() (*object.Task, error) { return vm.PowerOff(ctx) }); d < taskLatency || d >= cloneLatency {
		t.Errorf("power off took %s, want TaskLatency %s", d, taskLatency)
	}
	// TaskLatency's destroy is a VM's: an empty folder's destroy stays quick, as on vCenter.
	folder, err := object.NewFolder(c.Client, s.Inventory().VMFolder.Ref).CreateFolder(ctx, "empty")
	if err != nil {
		t.Fatal(err)
	}
	if d := timed("folder destroy", func() (*object.Task, error) { return folder.Destroy(ctx) }); d >= taskLatency {
		t.Errorf("destroying an empty folder took %s, want less than TaskLatency %s", d, taskLatency)
	}
	if d := timed("VM destroy", func() (*object.Task, error) { return vm.Destroy(ctx) }); d < taskLatency {
		t.Errorf("destroying a VM took %s, want at least TaskLatency %s", d, taskLatency)
	}
	if _, err := Start(Options{MethodLatency: map[string]time.Duration{"PowerOnVM_Task": -time.Second}}); err == nil {
		t.Error("a negative method latency was accepted")
	}
}
