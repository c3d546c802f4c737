package vsphere_test

import (
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine/leasetest"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// TestLeasesOnSimulator plays the locks across runs on the simulator through govmomi: two
// runs, each with its own session, take turns on a lock folder vCenter creates atomically.
func TestLeasesOnSimulator(t *testing.T) {
	t.Parallel()
	leasetest.Run(t, func(t *testing.T) (engine.Port, engine.Port) {
		srv, err := vcsim.Start(vcsim.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Close)
		return connectAs(t, srv, srv.Username(), srv.Password()), connectAs(t, srv, srv.Username(), srv.Password())
	})
}
