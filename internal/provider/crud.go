package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
)

// load is the start of every CRUD method: check the provider is configured, then decode the
// plan, state or config into the resource's model. ok is false when the method must stop.
func load[T any](ctx context.Context, data *providerData, get func(context.Context, any) diag.Diagnostics, diags *diag.Diagnostics) (model T, ok bool) {
	if data == nil {
		notConfigured(diags)
		return model, false
	}
	diags.Append(get(ctx, &model)...)
	return model, !diags.HasError()
}
