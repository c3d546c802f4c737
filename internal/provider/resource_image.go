package provider

import (
	"context"
	"errors"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// imageStatePublished is the state of an image whose template VM exists.
const (
	imageStatePublished = "published"
	imageStateMissing   = "missing"
)

var (
	_ resource.ResourceWithConfigure   = &imageResource{}
	_ resource.ResourceWithImportState = &imageResource{}
	_ resource.ResourceWithModifyPlan  = &imageResource{}
)

type imageResource struct{ data *providerData }

func newImageResource() resource.Resource { return &imageResource{} }

type imageModel struct {
	ID             types.String `tfsdk:"id"`
	Name           types.String `tfsdk:"name"`
	SourceVM       types.String `tfsdk:"source_vm"`
	Snapshot       types.String `tfsdk:"snapshot"`
	SnapshotID     types.String `tfsdk:"snapshot_id"`
	State          types.String `tfsdk:"state"`
	TemplateVMID   types.String `tfsdk:"template_vm_id"`
	NumCPUs        types.Int64  `tfsdk:"num_cpus"`
	CoresPerSocket types.Int64  `tfsdk:"cores_per_socket"`
	MemoryMB       types.Int64  `tfsdk:"memory_mb"`

	ParentReady        types.String `tfsdk:"parent_ready"`
	ParentReadyTimeout types.String `tfsdk:"parent_ready_timeout"`
}

// imageModelFrom maps the engine's image to the model; snapshot stays as the user wrote it
// (null means "the current snapshot"), and so does timeout (parent_ready_timeout) when it
// means what vCenter holds ("600s" for "10m").
func imageModelFrom(img *engine.Image, snapshot, timeout types.String) imageModel {
	m := imageModel{
		ID:           types.StringValue(img.ID),
		Name:         types.StringValue(img.Name),
		SourceVM:     types.StringValue(img.SourceVM),
		Snapshot:     snapshot,
		SnapshotID:   types.StringValue(img.SnapshotID),
		State:        types.StringValue(imageStateMissing),
		TemplateVMID: types.StringNull(),
	}
	if img.Published {
		m.State = types.StringValue(imageStatePublished)
		m.TemplateVMID = types.StringValue(img.TemplateVMID)
	}
	m.setHardware(img.Hardware)
	m.setReadiness(img, timeout)
	return m
}

func (m imageModel) toEngine() engine.Image {
	ready, timeout := m.readiness()
	return engine.Image{
		ID: m.ID.ValueString(), Name: m.Name.ValueString(), SourceVM: m.SourceVM.ValueString(),
		SnapshotID: m.SnapshotID.ValueString(), SnapshotRequested: m.Snapshot.ValueString(), Hardware: m.hardware(),
		ParentReady: ready, FreezeSeconds: int(timeout.Seconds()),
	}
}

func (r *imageResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_image"
}

func (r *imageResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "An image: a snapshot of a parent VM, published the way Horizon does. Creating it makes the four ClonePrep folders if missing and the image's template VM (`cp-template-<id>`) in `ClonePrepInternalTemplateFolder`. Pools publish it further onto their datastores and hosts.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:      true,
				Description:   "Image ID (`img-` and ten hex digits), used in the names of its internal VMs.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required:    true,
				Description: "Display name of the image. Changing it renames in place.",
				Validators:  []validator.String{stringvalidator.LengthBetween(1, 80)},
			},
			"source_vm": schema.StringAttribute{
				Required:      true,
				Description:   "The parent VM: an inventory path (absolute `/DC0/vm/golden`, or relative to the datacenter's VM folder: `golden`, `ubuntu-2204`), a managed object ID (`vm-42`), or its BIOS UUID (`config.uuid`, what `data.vsphere_virtual_machine.x.id` gives). A value shaped like an ID or UUID that names no VM is tried as a path too. State keeps what you wrote; `snapshot_id` and `template_vm_id` are managed object IDs. Changing it publishes a new image.",
				Validators:    []validator.String{stringvalidator.LengthAtLeast(1)},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"snapshot": schema.StringAttribute{
				Optional:      true,
				Description:   "Snapshot name of the parent VM. Default: its current snapshot at publish time. Changing it publishes a new image.",
				Validators:    []validator.String{stringvalidator.LengthAtLeast(1)},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"snapshot_id": schema.StringAttribute{
				Computed:      true,
				Description:   "Managed object ID of the snapshot the image was published from.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"state": schema.StringAttribute{
				Computed:    true,
				Description: "`published` when the template VM exists; `missing` when it was removed out of band (the next apply republishes it).",
			},
			"template_vm_id": schema.StringAttribute{
				Computed:    true,
				Description: "Managed object ID of the image's `cp-template-*` VM.",
			},
		},
	}
	for _, more := range []map[string]schema.Attribute{hardwareAttributes(), readinessAttributes()} {
		for name, a := range more {
			resp.Schema.Attributes[name] = a
		}
	}
}

func (r *imageResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan plans a republish when the template VM went missing, so that drift shows in plan.
func (r *imageResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return
	}
	var state imageModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if state.State.ValueString() == imageStatePublished {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("state"), state.State)...)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("template_vm_id"), state.TemplateVMID)...)
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("state"), types.StringValue(imageStatePublished))...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("template_vm_id"), types.StringUnknown())...)
	resp.Diagnostics.AddWarning("Image template missing",
		"The template VM of image "+state.ID.ValueString()+" was removed outside Terraform; apply publishes it again.")
}

func (r *imageResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	plan, ok := load[imageModel](ctx, r.data, req.Plan.Get, &resp.Diagnostics)
	if !ok {
		return
	}
	ready, timeout := plan.readiness()
	img, err := r.data.engine.PublishImage(ctx, engine.ImageSpec{
		Name: plan.Name.ValueString(), SourceVM: plan.SourceVM.ValueString(), Snapshot: plan.Snapshot.ValueString(), Hardware: plan.hardware(),
		ParentReady: ready, FreezeTimeout: timeout,
	})
	if err != nil {
		addEngineError(&resp.Diagnostics, "publishing image "+plan.Name.ValueString(), err)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, imageModelFrom(img, plan.Snapshot, plan.ParentReadyTimeout))...)
}

func (r *imageResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	state, ok := load[imageModel](ctx, r.data, req.State.Get, &resp.Diagnostics)
	if !ok {
		return
	}
	img, err := r.data.engine.ReadImage(ctx, state.ID.ValueString())
	if errors.Is(err, engine.ErrNotFound) {
		if state.SourceVM.IsNull() {
			resp.Diagnostics.AddError("Image not found", "No image with ID "+state.ID.ValueString()+" exists in vCenter.")
			return
		}
		// Every internal VM of the image is gone; state still knows how to republish it.
		state.State = types.StringValue(imageStateMissing)
		state.TemplateVMID = types.StringNull()
		resp.Diagnostics.Append(resp.State.Set(ctx, state)...)
		return
	}
	if err != nil {
		addEngineError(&resp.Diagnostics, "reading image "+state.ID.ValueString(), err)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, imageModelFrom(img, snapshotFor(state, img), state.ParentReadyTimeout))...)
}

// snapshotFor keeps the user's snapshot attribute; on import (no prior value) it takes the
// snapshot name recorded at publish time only if the user had named one.
func snapshotFor(state imageModel, img *engine.Image) types.String {
	if !state.Name.IsNull() {
		return state.Snapshot
	}
	if img.SnapshotRequested == "" {
		return types.StringNull()
	}
	return types.StringValue(img.SnapshotRequested)
}

func (r *imageResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	plan, ok := load[imageModel](ctx, r.data, req.Plan.Get, &resp.Diagnostics)
	state, stateOK := load[imageModel](ctx, r.data, req.State.Get, &resp.Diagnostics)
	if !ok || !stateOK {
		return
	}
	img := state.toEngine()
	if state.State.ValueString() != imageStatePublished {
		got, err := r.data.engine.RepublishImage(ctx, img)
		if err != nil {
			addEngineError(&resp.Diagnostics, "republishing image "+img.ID, err)
			return
		}
		img = *got
	}
	img.Name = plan.Name.ValueString()
	_, timeout := plan.readiness()
	img.FreezeSeconds = int(timeout.Seconds())
	got, err := r.data.engine.UpdateImage(ctx, img)
	if err != nil {
		addEngineError(&resp.Diagnostics, "updating image "+img.ID, err)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, imageModelFrom(got, plan.Snapshot, plan.ParentReadyTimeout))...)
}

func (r *imageResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	state, ok := load[imageModel](ctx, r.data, req.State.Get, &resp.Diagnostics)
	if !ok {
		return
	}
	if err := r.data.engine.DeleteImage(ctx, state.ID.ValueString()); err != nil {
		addEngineError(&resp.Diagnostics, "deleting image "+state.ID.ValueString(), err)
	}
}

func (r *imageResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}
