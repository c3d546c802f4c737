package provider_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/instantclone/terraform-provider-instantclone/internal/acctest"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// sharedPoolHCL is a pool of size clones on two datastores, forked from image (an HCL
// expression); size 0 declares no pool.
func sharedPoolHCL(env *acctest.Env, name, image string, size int) string {
	if size == 0 {
		return ""
	}
	return fmt.Sprintf(`
resource "instantclone_pool" "p" {
  name             = %q
  image_id         = %s
  resource_pool_id = %q
  datastore_ids    = %s
  size             = %d
  naming_pattern   = "%s-{n}"
}
`, name, image, env.ResourcePool(), hclList([]string{env.Datastore(0), env.Datastore(1)}), size, name)
}

// TestAccTwoStatesShareAnImage: two Terraform states on one vCenter, applied at the same time
// by two providers that share nothing but vCenter. One owns the image; the other reads it
// with the data source. In each round both apply at once: both create their pools on the
// image (so both publish its replicas and parents onto the same datastores and hosts at the
// same moment), resize them, delete them (so both collect the image's internal VMs), and
// create them again. Every apply succeeds, no internal VM is ever built twice, and once both
// are destroyed nothing is left.
func TestAccTwoStatesShareAnImage(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	owner := env.ProviderBlock() + `
resource "instantclone_image" "shared" {
  name      = "shared-win11"
  source_vm = "` + vcsim.GoldenVMPath + `"
}
`
	reader := env.ProviderBlock() + `
data "instantclone_image" "shared" {
  name = "shared-win11"
}
`
	// Pool sizes per round; 0 deletes the pool.
	ownerSizes, readerSizes := []int{3, 5, 0, 4, 2}, []int{4, 2, 0, 3, 6}
	rounds := newRendezvous(2)
	readerDone := make(chan struct{})
	steps := func(t *testing.T, cfg, pool, image string, sizes []int) []resource.TestStep {
		var out []resource.TestStep
		for round, size := range sizes {
			out = append(out, resource.TestStep{
				PreConfig: func() { rounds.meet(t, round) },
				Config:    cfg + sharedPoolHCL(env, pool, image, size),
				Check: resource.ComposeAggregateTestCheckFunc(
					func(*terraform.State) error { return env.CheckPoolClones(t, pool, size) },
					func(*terraform.State) error { return env.CheckNoDuplicateInternalVMs(t) },
				),
			})
		}
		return out
	}

	t.Run("runs", func(t *testing.T) {
		t.Run("owner", func(t *testing.T) {
			t.Parallel()
			// The image first, then the rounds; the image goes with this state's destroy, once
			// the other state's pool is gone.
			s := append([]resource.TestStep{{Config: owner}}, steps(t, owner, "team-a", "instantclone_image.shared.id", ownerSizes)...)
			s = append(s, resource.TestStep{
				PreConfig: func() { waitFor(t, readerDone, "the reader's destroy") },
				Config:    owner,
			})
			resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: acctest.ProviderFactories, Steps: s})
		})
		t.Run("reader", func(t *testing.T) {
			t.Parallel()
			defer close(readerDone)
			s := steps(t, reader, "team-b", "data.instantclone_image.shared.id", readerSizes)
			resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: acctest.ProviderFactories, Steps: s})
		})
	})
	if err := env.CheckOnlyGoldenLeft(t); err != nil {
		t.Fatal(err)
	}
}

// rendezvous lets parties start each round together.
type rendezvous struct {
	mu      sync.Mutex
	parties int
	arrived map[int]int
	all     map[int]chan struct{}
}

func newRendezvous(parties int) *rendezvous {
	return &rendezvous{parties: parties, arrived: map[int]int{}, all: map[int]chan struct{}{}}
}

// meet returns once every party reached round.
func (r *rendezvous) meet(t *testing.T, round int) {
	r.mu.Lock()
	if r.all[round] == nil {
		r.all[round] = make(chan struct{})
	}
	ch := r.all[round]
	if r.arrived[round]++; r.arrived[round] == r.parties {
		close(ch)
	}
	r.mu.Unlock()
	waitFor(t, ch, fmt.Sprintf("the other state at round %d", round+1))
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Minute):
		t.Fatalf("gave up waiting for %s", what)
	}
}
