package vsphere_test

import (
	"context"
	"sync"
	"testing"

	"github.com/vmware/govmomi/session"

	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

// TestReloginAfterSessionEnds: calls made after vCenter ended the session log in again once
// and succeed, also when many are in flight.
func TestReloginAfterSessionEnds(t *testing.T) {
	srv, err := vcsim.Start(vcsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	connect := func() *vsphere.Client {
		c, err := vsphere.Connect(ctx, vsphere.Config{Server: srv.URL().Host, User: srv.Username(), Password: srv.Password(), Insecure: true})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c, admin := connect(), connect()
	golden := vsphere.VMRef(srv.Inventory().Golden.Ref.Value)
	for round := 0; round < 3; round++ {
		own, err := session.NewManager(c.Vim()).UserSession(ctx)
		if err != nil || own == nil {
			t.Fatalf("no session before round %d: %v", round, err)
		}
		if err := session.NewManager(admin.Vim()).TerminateSession(ctx, []string{own.Key}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 10)
		for i := 0; i < 10; i++ {
			wg.Go(func() {
				errs <- c.SetFields(ctx, golden, map[string]string{vsphere.FieldState: "x"})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: a call after the session ended failed: %v", round, err)
			}
		}
	}
}

// TestViewReadAfterSessionEnds: a container view dies with its session; a read that finds it
// gone after logging in again reads through a new view instead of failing.
func TestViewReadAfterSessionEnds(t *testing.T) {
	srv, err := vcsim.Start(vcsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	cfg := vsphere.Config{Server: srv.URL().Host, User: srv.Username(), Password: srv.Password(), Insecure: true}
	c, err := vsphere.Connect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := vsphere.Connect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	endSession := func() {
		own, err := session.NewManager(c.Vim()).UserSession(ctx)
		if err != nil || own == nil {
			t.Fatalf("no session to end: %v", err)
		}
		if err := session.NewManager(admin.Vim()).TerminateSession(ctx, []string{own.Key}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := c.ReadVMsAfter(ctx, endSession)
	if err != nil {
		t.Fatalf("reading VMs after the session ended: %v", err)
	}
	if n == 0 {
		t.Fatal("no VM read after the session ended")
	}
}
