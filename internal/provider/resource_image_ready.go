package provider

import (
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// readinessAttributes say when a parent is ready to fork clones from.
func readinessAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"parent_ready": schema.StringAttribute{
			Optional: true,
			Computed: true,
			Default:  stringdefault.StaticString(engine.ParentPoweredOn),
			Description: "When a parent VM is ready for clones to fork from it. `" + engine.ParentPoweredOn + "` (default): as soon as it runs. `" + engine.ParentFrozen + "`: once its guest froze itself " +
				"(`runtime.instantCloneFrozen`; the guest runs `vmware-rpctool instantclone.freeze` once prepared, as Horizon's agent does), so every clone forks from that prepared state and the parent gains no delta disk. " +
				"With `" + engine.ParentFrozen + "`, no clone is made from a parent before it froze, and a parent that does not freeze within `parent_ready_timeout` fails the apply, naming it. Changing it publishes a new image.",
			Validators:    []validator.String{stringvalidator.OneOf(engine.ParentPoweredOn, engine.ParentFrozen)},
			PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
		},
		"parent_ready_timeout": schema.StringAttribute{
			Optional:    true,
			Computed:    true,
			Default:     stringdefault.StaticString("10m"),
			Description: "How long a parent is given to freeze when `parent_ready` is `" + engine.ParentFrozen + "` (a duration such as `\"90s\"`); default `\"10m\"`. Changing it updates the image in place.",
			Validators:  []validator.String{durationBetween{min: time.Second, max: 24 * time.Hour}},
		},
	}
}

// readiness maps the model's readiness to the engine's image fields.
func (m imageModel) readiness() (string, time.Duration) {
	timeout, err := time.ParseDuration(m.ParentReadyTimeout.ValueString())
	if err != nil || timeout <= 0 {
		timeout = engine.DefaultFreezeTimeout
	}
	if m.ParentReady.ValueString() == engine.ParentFrozen {
		return engine.ParentFrozen, timeout
	}
	return "", timeout
}

// setReadiness maps the engine's image readiness to the model; timeout keeps what the
// configuration wrote when it means the same duration ("600s" and "10m").
func (m *imageModel) setReadiness(img *engine.Image, timeout types.String) {
	m.ParentReady = types.StringValue(engine.ParentPoweredOn)
	if img.ParentReady == engine.ParentFrozen {
		m.ParentReady = types.StringValue(engine.ParentFrozen)
	}
	read := engine.DefaultFreezeTimeout
	if img.FreezeSeconds > 0 {
		read = time.Duration(img.FreezeSeconds) * time.Second
	}
	if d, err := time.ParseDuration(timeout.ValueString()); err == nil && d == read {
		m.ParentReadyTimeout = timeout
		return
	}
	m.ParentReadyTimeout = types.StringValue(formatDuration(read))
}

// formatDuration writes a duration the short way ("10m", "90s", "1h30m").
func formatDuration(d time.Duration) string {
	s := d.String()
	if len(s) > 2 && s[len(s)-2:] == "0s" && d >= time.Minute {
		s = s[:len(s)-2]
	}
	if len(s) > 2 && s[len(s)-2:] == "0m" && d >= time.Hour {
		s = s[:len(s)-2]
	}
	return s
}
