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
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
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
	// Distribution is the pool's spread right after the attach, kept as it was: the attach's
	// outcome, not a second live view of the pool (that is the pool's datastore_distribution).
	Distribution types.Map `tfsdk:"datastore_distribution"`
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
			"datastore_distribution": schema.MapAttribute{
				ElementType:   types.Int64Type,
				Computed:      true,
				Description:   "The pool's clones per datastore ID right after this attachment was applied (or imported): the spread the attach produced, known at the end of the same apply. It is kept as it was and not refreshed, so it never shows as a change; the pool's own `datastore_distribution` is the live view, read again at every refresh.",
				PlanModifiers: []planmodifier.Map{mapplanmodifier.UseStateForUnknown()},
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
	pool, err := r.data.engine.Attach(ctx, poolID, ds, plan.Rebalance.ValueString())
	if err != nil {
		addEngineError(&resp.Diagnostics, fmt.Sprintf("attaching datastore %s to pool %s", ds, poolID), err)
		return
	}
	plan.ID = types.StringValue(poolID + "/" + ds)
	plan.Distribution = distributionValue(pool)
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
	if state.Distribution.IsNull() {
		// Just imported: the spread as it is now is the best record of what the attach produced.
		pool, err := r.data.engine.ReadPool(ctx, state.PoolID.ValueString(), engine.LastSeen{})
		if err != nil {
			addEngineError(&resp.Diagnostics, "reading pool "+state.PoolID.ValueString(), err)
			return
		}
		state.Distribution = distributionValue(pool)
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
