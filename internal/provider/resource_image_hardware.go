package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// vSphere 8's configuration maximums for one VM: 768 virtual CPUs and 24 TB of memory;
// memory comes in multiples of 4 MB.
const (
	maxVCPUs    = 768
	maxMemoryMB = 24 * 1024 * 1024
)

// hardwareAttributes are an image's compute profile (Horizon's): applied to its template, so
// to every replica, parent and clone. Clones fork their parent's memory, so a change
// publishes a new image.
func hardwareAttributes() map[string]schema.Attribute {
	replace := []planmodifier.Int64{int64planmodifier.RequiresReplace()}
	return map[string]schema.Attribute{
		"num_cpus": schema.Int64Attribute{
			Optional:      true,
			Description:   fmt.Sprintf("Virtual CPUs of the image's VMs, so of every clone (1 to %d). Default: the source VM's. Changing it publishes a new image.", maxVCPUs),
			Validators:    []validator.Int64{int64validator.Between(1, maxVCPUs)},
			PlanModifiers: replace,
		},
		"cores_per_socket": schema.Int64Attribute{
			Optional:      true,
			Description:   "Cores per virtual socket; `num_cpus` must be a multiple of it, and is then required. Default: the source VM's. Changing it publishes a new image.",
			Validators:    []validator.Int64{int64validator.Between(1, maxVCPUs), int64validator.AlsoRequires(path.MatchRoot("num_cpus"))},
			PlanModifiers: replace,
		},
		"memory_mb": schema.Int64Attribute{
			Optional:      true,
			Description:   fmt.Sprintf("Memory of the image's VMs in MB, a multiple of 4 (4 to %d). Default: the source VM's. Changing it publishes a new image.", maxMemoryMB),
			Validators:    []validator.Int64{int64validator.Between(4, maxMemoryMB)},
			PlanModifiers: replace,
		},
	}
}

// hardwareFrom maps the model's compute profile to the engine's; nil when none is set.
func (m imageModel) hardware() *engine.Hardware {
	h := &engine.Hardware{
		NumCPUs: int(m.NumCPUs.ValueInt64()), CoresPerSocket: int(m.CoresPerSocket.ValueInt64()), MemoryMB: int(m.MemoryMB.ValueInt64()),
	}
	if h.IsZero() {
		return nil
	}
	return h
}

// setHardware maps the engine's compute profile to the model (null where not set).
func (m *imageModel) setHardware(h *engine.Hardware) {
	m.NumCPUs, m.CoresPerSocket, m.MemoryMB = types.Int64Null(), types.Int64Null(), types.Int64Null()
	if h == nil {
		return
	}
	for _, f := range []struct {
		to *types.Int64
		v  int
	}{{&m.NumCPUs, h.NumCPUs}, {&m.CoresPerSocket, h.CoresPerSocket}, {&m.MemoryMB, h.MemoryMB}} {
		if f.v != 0 {
			*f.to = types.Int64Value(int64(f.v))
		}
	}
}

var _ resource.ResourceWithValidateConfig = &imageResource{}

// ValidateConfig checks what the attributes' own validators cannot: cores dividing the CPUs,
// memory in multiples of 4 MB.
func (r *imageResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m imageModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	known := func(v types.Int64) bool { return !v.IsNull() && !v.IsUnknown() }
	if known(m.NumCPUs) && known(m.CoresPerSocket) && m.CoresPerSocket.ValueInt64() > 0 && m.NumCPUs.ValueInt64()%m.CoresPerSocket.ValueInt64() != 0 {
		resp.Diagnostics.AddAttributeError(path.Root("cores_per_socket"), "CPUs not a multiple of the cores per socket",
			fmt.Sprintf("vSphere spreads a VM's virtual CPUs over sockets of cores_per_socket cores each: num_cpus (%d) must be a multiple of cores_per_socket (%d).", m.NumCPUs.ValueInt64(), m.CoresPerSocket.ValueInt64()))
	}
	if known(m.MemoryMB) && m.MemoryMB.ValueInt64()%4 != 0 {
		resp.Diagnostics.AddAttributeError(path.Root("memory_mb"), "Memory not a multiple of 4 MB",
			fmt.Sprintf("vSphere sizes a VM's memory in multiples of 4 MB; %d is not one.", m.MemoryMB.ValueInt64()))
	}
}
