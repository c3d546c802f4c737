package acctest

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-testing/plancheck"
)

// ExpectDrift checks that refresh recorded a drift reason containing want on the resource,
// i.e. that the plan says why it is not empty.
func ExpectDrift(address, want string) plancheck.PlanCheck { return expectDrift{address, want} }

type expectDrift struct{ address, want string }

func (e expectDrift) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	if req.Plan.PriorState == nil || req.Plan.PriorState.Values == nil {
		resp.Error = fmt.Errorf("plan has no prior state")
		return
	}
	for _, r := range req.Plan.PriorState.Values.RootModule.Resources {
		if r.Address != e.address {
			continue
		}
		reasons, _ := r.AttributeValues["drift"].([]any)
		for _, reason := range reasons {
			if s, ok := reason.(string); ok && strings.Contains(s, e.want) {
				return
			}
		}
		resp.Error = fmt.Errorf("%s: drift %v does not mention %q", e.address, reasons, e.want)
		return
	}
	resp.Error = fmt.Errorf("%s not in the prior state", e.address)
}

// ExpectPriorValue checks that an attribute of the refreshed prior state equals the ID of
// another resource in that state (e.g. pending_image_id names the image being pushed).
func ExpectPriorValue(address, attribute, other string) plancheck.PlanCheck {
	return expectPrior{address, attribute, other}
}

type expectPrior struct{ address, attribute, other string }

func (e expectPrior) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	if req.Plan.PriorState == nil || req.Plan.PriorState.Values == nil {
		resp.Error = fmt.Errorf("plan has no prior state")
		return
	}
	values := map[string]map[string]any{}
	for _, r := range req.Plan.PriorState.Values.RootModule.Resources {
		values[r.Address] = r.AttributeValues
	}
	got, want := values[e.address][e.attribute], values[e.other]["id"]
	if got == nil || got != want {
		resp.Error = fmt.Errorf("%s.%s is %v, want %v (%s.id)", e.address, e.attribute, got, want, e.other)
	}
}
