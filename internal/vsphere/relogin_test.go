package vsphere_test

import (
	"context"
	"sync"
	"testing"

	"github.com/vmware/govmomi/session"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

// sessions starts a simulator and logs in twice: c is the client under test, and end ends
// c's session from the other one, as vCenter or an administrator would.
func sessions(t *testing.T) (srv *vcsim.Server, c *vsphere.Client, end func()) {
	srv = startSimulator(t, vcsim.Options{})
	ctx := context.Background()
	connect := func() *vsphere.Client {
		c, err := vsphere.Connect(ctx, vsphere.Config{Server: srv.URL().Host, User: srv.Username(), Password: srv.Password(), Insecure: true})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c, admin := connect(), connect()
	return srv, c, func() {
		own, err := session.NewManager(c.Vim()).UserSession(ctx)
		if err != nil || own == nil {
			t.Fatalf("no session to end: %v", err)
		}
		if err := session.NewManager(admin.Vim()).TerminateSession(ctx, []string{own.Key}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReloginAfterSessionEnds: calls made after vCenter ended the session log in again once
// and succeed, also when many are in flight.
func TestReloginAfterSessionEnds(t *testing.T) {
	srv, c, endSession := sessions(t)
	ctx := context.Background()
	golden := engine.VMObject(srv.Inventory().Golden.Ref.Value)
	for round := 0; round < 3; round++ {
		endSession()
		var wg sync.WaitGroup
		errs := make(chan error, 10)
		for i := 0; i < 10; i++ {
			wg.Go(func() {
				errs <- c.SetMarks(ctx, golden, engine.Marks{engine.MarkState: "x"})
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
	_, c, endSession := sessions(t)
	n, err := c.ReadVMsAfter(context.Background(), endSession)
	if err != nil {
		t.Fatalf("reading VMs after the session ended: %v", err)
	}
	if n == 0 {
		t.Fatal("no VM read after the session ended")
	}
}
