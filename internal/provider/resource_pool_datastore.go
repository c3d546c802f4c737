package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

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

var (
	_ resource.ResourceWithConfigure   = &poolDatastoreResource{}
	_ resource.ResourceWithImportState = &poolDatastoreResource{}
)

type poolDatastoreResource struct{ data *providerData }

func newPoolDatastoreResource() resource.Resource { return &poolDatastoreResource{} }

type poolDatastoreModel struct {
	ID          types.String `tfsdk:"id"`
	PoolID      types.String `tfsdk:"pool_id"`
	DatastoreID types.String `tfsdk:"datastore_id"`
	Rebalance   types.String `tfsdk:"rebalance"`
}

func (r *poolDatastoreResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_pool_datastore"
}

func (r *poolDatastoreResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Attaches one more datastore to a pool managed elsewhere (another module, another team). The pool's own `datastore_ids` and any number of attachments combine; the pool never plans to remove an attached datastore. Creating it rebalances the pool onto the datastore; deleting it evacuates the datastore.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:      true,
				Description:   "`<pool_id>/<datastore_id>`.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"pool_id": schema.StringAttribute{
				Required:      true,
				Description:   "ID of the `instantclone_pool`.",
				Validators:    []validator.String{stringvalidator.LengthAtLeast(1)},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"datastore_id": schema.StringAttribute{
				Required:      true,
				Description:   "Managed object ID of the datastore to attach (e.g. `datastore-12`).",
				Validators:    []validator.String{stringvalidator.LengthAtLeast(1)},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"rebalance": schema.StringAttribute{
				Optional:    true,
				Description: "How to rebalance when attaching: `immediate` or `on_provision`. Default: the pool's own policy. Detaching always evacuates.",
				Validators:  []validator.String{stringvalidator.OneOf(engine.RebalanceImmediate, engine.RebalanceOnProvision)},
			},
		},
	}
}

func (r *poolDatastoreResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *poolDatastoreResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	plan, ok := load[poolDatastoreModel](ctx, r.data, req.Plan.Get, &resp.Diagnostics)
	if !ok {
		return
	}
	poolID, ds := plan.PoolID.ValueString(), plan.DatastoreID.ValueString()
	if _, err := r.data.engine.Attach(ctx, poolID, ds, plan.Rebalance.ValueString()); err != nil {
		addEngineError(&resp.Diagnostics, fmt.Sprintf("attaching datastore %s to pool %s", ds, poolID), err)
		return
	}
	plan.ID = types.StringValue(poolID + "/" + ds)
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

func (r *poolDatastoreResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	state, ok := load[poolDatastoreModel](ctx, r.data, req.State.Get, &resp.Diagnostics)
	if !ok {
		return
	}
	attached, err := r.data.engine.Attached(ctx, state.PoolID.ValueString(), state.DatastoreID.ValueString())
	if errors.Is(err, engine.ErrNotFound) || (err == nil && !attached) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addEngineError(&resp.Diagnostics, "reading attachment "+state.ID.ValueString(), err)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, state)...)
}

// Update only changes rebalance, which matters for the next attach; nothing to do in vCenter.
func (r *poolDatastoreResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan poolDatastoreModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

func (r *poolDatastoreResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	state, ok := load[poolDatastoreModel](ctx, r.data, req.State.Get, &resp.Diagnostics)
	if !ok {
		return
	}
	poolID, ds := state.PoolID.ValueString(), state.DatastoreID.ValueString()
	if err := r.data.engine.Detach(ctx, poolID, ds, ""); err != nil {
		addEngineError(&resp.Diagnostics, fmt.Sprintf("detaching datastore %s from pool %s", ds, poolID), err)
	}
}

func (r *poolDatastoreResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	poolID, ds, ok := strings.Cut(req.ID, "/")
	if !ok || poolID == "" || ds == "" {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("Expected POOL_ID/DATASTORE_ID (e.g. group-v12/datastore-15), got %q.", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("pool_id"), poolID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("datastore_id"), ds)...)
}
