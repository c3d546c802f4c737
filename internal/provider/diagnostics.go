package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// addEngineError turns an engine error into a diagnostic: bad input on its attribute, anything
// else as an error saying what was being done.
func addEngineError(diags *diag.Diagnostics, doing string, err error) {
	if ie, ok := engine.AsInputError(err); ok {
		diags.AddAttributeError(path.Root(ie.Attribute), ie.Summary, ie.Detail)
		return
	}
	var denied *engine.PermissionError
	if errors.As(err, &denied) {
		diags.AddError(fmt.Sprintf("Missing vCenter privilege while %s", doing), err.Error()+
			"\n\nThe vCenter user lacks "+missingList(denied)+". Add the privilege to the user's role and grant the role on the vCenter root or the datacenter, propagated to children: the provider's documentation lists the role (every privilege and what it is for). Reads (plan, refresh, data sources) need only read-only access.")
		return
	}
	var inUse *engine.InUseError
	if errors.As(err, &inUse) {
		diags.AddError("Image still in use", err.Error())
		return
	}
	switch {
	case errors.Is(err, context.Canceled):
		diags.AddError(fmt.Sprintf("Interrupted %s", doing), err.Error()+
			"\n\nThe operation stopped before it finished. What it completed stays in vCenter; the next apply carries on from there.")
	case errors.Is(err, context.DeadlineExceeded):
		diags.AddError(fmt.Sprintf("Timed out %s", doing), err.Error()+
			"\n\nThe operation ran past its timeout. What it completed stays in vCenter; run apply again to carry on (a pool's timeouts block sets how long each operation may take).")
	default:
		diags.AddError(fmt.Sprintf("Error %s", doing), err.Error())
	}
}

func missingList(e *engine.PermissionError) string {
	parts := make([]string, 0, len(e.Missing))
	for _, m := range e.Missing {
		parts = append(parts, m.String())
	}
	return strings.Join(parts, "; ")
}

// providerDataFrom checks the type of what Configure handed over.
func providerDataFrom(data any, diags *diag.Diagnostics) *providerData {
	if data == nil {
		return nil
	}
	pd, ok := data.(*providerData)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("Expected *providerData, got %T. This is a bug in the provider.", data))
		return nil
	}
	return pd
}

func notConfigured(diags *diag.Diagnostics) {
	diags.AddError("Provider not configured", "The instantclone provider could not connect to vCenter; see the errors of its configuration.")
}
