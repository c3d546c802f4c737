package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

// entityName checks a name vCenter gives to a folder or VM: under 80 characters once escaped
// as vCenter stores it ("/", "\" and "%" take three characters each).
type entityName struct{}

var _ validator.String = entityName{}

func (entityName) Description(context.Context) string {
	return fmt.Sprintf("a vCenter entity name: 1 to %d characters once /, \\ and %% are escaped", vsphere.MaxNameLength)
}

func (v entityName) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (entityName) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	name := req.ConfigValue.ValueString()
	if !vsphere.NameFits(name) {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid vCenter name",
			fmt.Sprintf("vCenter takes entity names of 1 to %d characters, and stores /, \\ and %% escaped as three characters each: %q is stored as %q (%d characters).",
				vsphere.MaxNameLength, name, vsphere.EscapeName(name), len([]rune(vsphere.EscapeName(name)))))
	}
}

// durationBetween checks a Go duration string ("90s", "2m") against bounds.
type durationBetween struct{ min, max time.Duration }

var _ validator.String = durationBetween{}

func (v durationBetween) Description(context.Context) string {
	return fmt.Sprintf("a duration such as \"90s\" or \"2m\", from %s to %s", v.min, v.max)
}

func (v durationBetween) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v durationBetween) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	d, err := time.ParseDuration(req.ConfigValue.ValueString())
	if err != nil || d < v.min || d > v.max {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration",
			fmt.Sprintf("Expected %s, got %q.", v.Description(context.Background()), req.ConfigValue.ValueString()))
	}
}

// guestInfoKey checks a key of a pool's guestinfo: not empty, and not one of the keys the
// provider sets on every clone itself.
type guestInfoKey struct{}

var _ validator.String = guestInfoKey{}

func (guestInfoKey) Description(context.Context) string {
	return fmt.Sprintf("a guestinfo key, not empty and not under %q (the provider's own)", engine.ReservedGuestInfoPrefix)
}

func (v guestInfoKey) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (guestInfoKey) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	key := req.ConfigValue.ValueString()
	switch {
	case strings.TrimSpace(key) == "":
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid guestinfo key", "A guestinfo key must not be empty.")
	case strings.HasPrefix(key, engine.ReservedGuestInfoPrefix):
		resp.Diagnostics.AddAttributeError(req.Path, "Reserved guestinfo key",
			fmt.Sprintf("Keys under %q are the provider's own: every clone carries %s, %s and %s. Choose another key than %q.",
				engine.ReservedGuestInfoPrefix, engine.GuestInfoName, engine.GuestInfoPool, engine.GuestInfoImage, key))
	}
}
