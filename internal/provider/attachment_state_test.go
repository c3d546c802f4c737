package provider_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/instantclone/terraform-provider-instantclone/internal/acctest"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// TestAccPoolDatastore_poolState: an attachment applied after its pool changes the pool behind
// the pool resource's back. The attachment's datastore_distribution is the spread it produced,
// right in the same apply; so is a data source read after it. The pool resource's own computed
// attributes are read again at the next refresh: no resource plans a change, only an output
// built on them shows the new spread once, and after a refresh the plan is empty.
func TestAccPoolDatastore_poolState(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	two := []string{env.Datastore(0), env.Datastore(1)}
	three := append(append([]string{}, two...), env.Datastore(2))
	config := poolConfig(env, poolArgs{label: "test", name: "spread", datastores: two, size: 4}) +
		attachHCL("third", env.Datastore(2), "immediate") + `
data "instantclone_pool" "live" {
  id         = instantclone_pool.test.id
  depends_on = [instantclone_pool_datastore.third]
}
output "attach_spread" {
  value = instantclone_pool_datastore.third.datastore_distribution
}
output "live_spread" {
  value = data.instantclone_pool.live.datastore_distribution
}
output "pool_spread" {
  value = instantclone_pool.test.datastore_distribution
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: resource.ComposeAggregateTestCheckFunc(
					expectClones(t, env, "spread", "spread", 4, []int{2, 1, 1}, three),
					expectSpreadInState(t, env, "spread", "instantclone_pool_datastore.third"),
					expectSpreadInState(t, env, "spread", "data.instantclone_pool.live"),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					// The pool resource's state is as its own apply left it: two datastores.
					statecheck.ExpectKnownValue("instantclone_pool.test", tfjsonpath.New("all_datastore_ids"), knownvalue.SetSizeExact(2)),
				},
				// The next plan: no resource changes; only the output built on the pool resource's
				// computed attribute shows the new spread.
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					expectOnlyOutputsChange("pool_spread"),
				}},
			},
			{
				// terraform apply -refresh-only: the pool's state catches up, and the plan is empty.
				RefreshState: true,
				Check: resource.ComposeAggregateTestCheckFunc(
					expectSpreadInState(t, env, "spread", "instantclone_pool.test"),
					resource.TestCheckResourceAttr("instantclone_pool.test", "all_datastore_ids.#", "3"),
				),
			},
			{Config: config, PlanOnly: true},
		},
	})
}

// expectSpreadInState checks a resource's datastore_distribution in state is the simulator's
// spread of the pool's clones.
func expectSpreadInState(t *testing.T, env *acctest.Env, folder, address string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		rs, ok := s.RootModule().Resources[address]
		if !ok {
			return fmt.Errorf("%s not in state", address)
		}
		got := map[string]int{}
		for k, v := range rs.Primary.Attributes {
			ds, ok := strings.CutPrefix(k, "datastore_distribution.")
			if !ok || ds == "%" {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%s: datastore_distribution.%s = %q", address, ds, v)
			}
			if n > 0 {
				got[ds] = n
			}
		}
		want := acctest.Distribution(cloneList(readInventory(t, env, folder)))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("%s: datastore_distribution %v, the simulator holds %v", address, got, want)
		}
		return nil
	}
}

// expectOnlyOutputsChange checks the plan changes no resource and exactly the named outputs.
func expectOnlyOutputsChange(names ...string) plancheck.PlanCheck { return onlyOutputsChange(names) }

type onlyOutputsChange []string

func (want onlyOutputsChange) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if !rc.Change.Actions.NoOp() {
			resp.Error = fmt.Errorf("%s has planned action(s) %v, want none", rc.Address, rc.Change.Actions)
			return
		}
	}
	var changed []string
	for name, c := range req.Plan.OutputChanges {
		if !c.Actions.NoOp() {
			changed = append(changed, name)
		}
	}
	sort.Strings(changed)
	w := append([]string{}, want...)
	sort.Strings(w)
	if fmt.Sprint(changed) != fmt.Sprint(w) {
		resp.Error = fmt.Errorf("outputs changed in the plan: %v, want %v", changed, w)
	}
}
