package provider

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

var (
	_ resource.ResourceWithConfigure      = &poolResource{}
	_ resource.ResourceWithImportState    = &poolResource{}
	_ resource.ResourceWithModifyPlan     = &poolResource{}
	_ resource.ResourceWithValidateConfig = &poolResource{}
)

type poolResource struct{ data *providerData }

func newPoolResource() resource.Resource { return &poolResource{} }

type poolModel struct {
	ID                    types.String        `tfsdk:"id"`
	Name                  types.String        `tfsdk:"name"`
	ImageID               types.String        `tfsdk:"image_id"`
	ResourcePoolID        types.String        `tfsdk:"resource_pool_id"`
	Folder                types.String        `tfsdk:"folder"`
	DatastoreIDs          types.Set           `tfsdk:"datastore_ids"`
	Size                  types.Int64         `tfsdk:"size"`
	NamingPattern         types.String        `tfsdk:"naming_pattern"`
	Rebalance             types.String        `tfsdk:"rebalance"`
	PushImageToken        types.String        `tfsdk:"push_image_token"`
	PushImage             *pushImage          `tfsdk:"push_image"`
	GuestInfo             types.Map           `tfsdk:"guestinfo"`
	NetworkIDs            types.List          `tfsdk:"network_ids"`
	Customization         *customizationModel `tfsdk:"customization"`
	MinFreeSpaceGB        types.Int64         `tfsdk:"min_free_space_gb"`
	MaxClonesPerDatastore types.Int64         `tfsdk:"max_clones_per_datastore"`
	ReplicaDatastoreID    types.String        `tfsdk:"replica_datastore_id"`
	Timeouts              timeouts.Value      `tfsdk:"timeouts"`
	CurrentImageID        types.String        `tfsdk:"current_image_id"`
	PendingImageID        types.String        `tfsdk:"pending_image_id"`
	Clones                types.List          `tfsdk:"clones"`
	DatastoreDistribution types.Map           `tfsdk:"datastore_distribution"`
	AllDatastoreIDs       types.Set           `tfsdk:"all_datastore_ids"`
	Drift                 types.List          `tfsdk:"drift"`
}

type pushImage struct {
	BatchSize        types.Int64 `tfsdk:"batch_size"`
	StopOnFirstError types.Bool  `tfsdk:"stop_on_first_error"`
}

var cloneAttrTypes = map[string]attr.Type{
	"name": types.StringType, "id": types.StringType, "datastore_id": types.StringType,
	"host_id": types.StringType, "image_id": types.StringType,
}

func (r *poolResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_pool"
}

func (r *poolResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "An instant-clone desktop pool: `size` running instant clones of an image, spread evenly over the pool's datastores, in the pool's own VM folder. Changing `image_id` (or `push_image_token`) pushes the image: the clones are recreated on it in batches, keeping their names.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:      true,
				Description:   "Managed object ID of the pool's folder (e.g. `group-v123`).",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required:    true,
				Description: "Pool name; also the name of the pool's folder. Changing it renames the folder in place. vCenter stores `/`, `\\` and `%` escaped (`%2f`, `%5c`, `%25`), and the escaped name must be under 80 characters.",
				Validators:  []validator.String{entityName{}, stringvalidator.NoneOfCaseInsensitive(".", "..")},
			},
			"image_id": schema.StringAttribute{
				Required:    true,
				Description: "ID of the `instantclone_image` the clones run. Changing it pushes the new image.",
				Validators:  []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"resource_pool_id": schema.StringAttribute{
				Required:      true,
				Description:   "Managed object ID of the resource pool the clones run in (e.g. `resgroup-8`, `data.vsphere_compute_cluster.x.resource_pool_id`). Its cluster's hosts carry the parent VMs. Changing it replaces the pool.",
				Validators:    []validator.String{stringvalidator.LengthAtLeast(1)},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"folder": schema.StringAttribute{
				Optional:      true,
				Description:   "VM folder the pool's own folder goes in: an absolute inventory path (`/DC0/vm/pools`) or one relative to the datacenter's VM folder (`pools`). Default: the VM folder. Changing it replaces the pool.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"datastore_ids": schema.SetAttribute{
				ElementType: types.StringType,
				Required:    true,
				Description: "Managed object IDs of the datastores the pool's clones live on (e.g. `datastore-12`). Datastores attached with `instantclone_pool_datastore` add to these.",
			},
			"size": schema.Int64Attribute{
				Required:    true,
				Description: "Number of clones. Growing adds clones on the least-loaded datastores; shrinking removes the highest-numbered clones, then restores balance.",
				Validators:  []validator.Int64{int64validator.Between(0, 100000)},
			},
			"naming_pattern": schema.StringAttribute{
				Required:    true,
				Description: "Clone names in Horizon's syntax: `win-{n}` gives win-1, win-2, ...; `win-{n:fixed=3}` gives win-001. Changing it recreates the clones under their new names.",
			},
			"rebalance": schema.StringAttribute{
				Optional:    true,
				Computed:    true,
				Default:     stringdefault.StaticString(engine.RebalanceImmediate),
				Description: "`immediate` (default): every apply converges to an even spread, recreating the fewest clones. `on_provision`: Horizon's lazy behaviour, only new or recreated clones are steered to the least-loaded datastores. Clones on a detached datastore are always evacuated.",
				Validators:  []validator.String{stringvalidator.OneOf(engine.RebalanceImmediate, engine.RebalanceOnProvision)},
			},
			"push_image_token": schema.StringAttribute{
				Optional:    true,
				Description: "Any string; changing it pushes the same image again (every clone is recreated, which also spreads them evenly).",
			},
			"guestinfo": schema.MapAttribute{
				ElementType: types.StringType,
				Optional:    true,
				Description: "Set as `guestinfo.<key>` extraConfig on each clone when it is created, in the InstantClone call itself. In a value, `{name}` becomes the clone's name and `{n}` its number. " +
					"Besides these, every clone carries `" + engine.GuestInfoName + "`, `" + engine.GuestInfoPool + "` and `" + engine.GuestInfoImage + "` (its name, its pool's name and its image), for a guest script to take its identity from; keys under `" + engine.ReservedGuestInfoPrefix + "` are therefore reserved. " +
					"Changing it applies to clones created or recreated afterwards; change `push_image_token` to apply it to all.",
				Validators: []validator.Map{mapvalidator.KeysAre(guestInfoKey{})},
			},
			"network_ids": schema.ListAttribute{
				ElementType: types.StringType,
				Optional:    true,
				Description: "The network of each of the clones' network cards, in order: managed object IDs of standard networks or distributed port groups (`network-12`, `dvportgroup-34`; what `data.vsphere_network.x.id` gives). " +
					"Set in the InstantClone call itself, as edits of the parent's cards; a card not listed stays on the image's network. At most as many as the image's VMs have cards. " +
					"Changing it applies to clones created or recreated afterwards; change `push_image_token` to apply it to all.",
				Validators: []validator.List{listvalidator.SizeAtLeast(1), listvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1))},
			},
			"min_free_space_gb": schema.Int64Attribute{
				Optional:    true,
				Description: "A datastore with less free space than this (GB) takes no new clone of the pool; with `rebalance = \"immediate\"` its clones move to the others. Default: no floor. vCenter refuses a clone on a full datastore (`InsufficientResourcesFault`); a floor keeps room for the clones' delta disks to grow and for the other VMs there.",
				Validators:  []validator.Int64{int64validator.Between(1, 1<<20)},
			},
			"max_clones_per_datastore": schema.Int64Attribute{
				Optional:    true,
				Description: "Most of the pool's clones on one datastore (Horizon's storage overcommit, as a count). Default: no limit. A pool that the datastores cannot hold fails, at apply, with a diagnostic on `datastore_ids` saying how many clones fit where, and nothing is made.",
				Validators:  []validator.Int64{int64validator.AtLeast(1)},
			},
			"replica_datastore_id": schema.StringAttribute{
				Optional:      true,
				Description:   "Horizon's *separate datastore for replica disks*: the image's replica for the pool is made on this datastore, and the parents (linked clones of it) and the clones on the pool's `datastore_ids`. Every host of the pool must mount it. Default: a replica on each of the pool's datastores. Changing it replaces the pool.",
				Validators:    []validator.String{stringvalidator.LengthAtLeast(1)},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"current_image_id": schema.StringAttribute{
				Computed:    true,
				Description: "The image every clone runs once no push-image is pending.",
			},
			"pending_image_id": schema.StringAttribute{
				Computed:    true,
				Description: "Set while a push-image has not finished: the image some clones still have to move to. The next apply finishes the push.",
			},
			"clones": schema.ListNestedAttribute{
				Computed:    true,
				Description: "The pool's clones as vCenter has them, by number.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":         schema.StringAttribute{Computed: true, Description: "Clone name."},
					"id":           schema.StringAttribute{Computed: true, Description: "Managed object ID of the clone VM."},
					"datastore_id": schema.StringAttribute{Computed: true, Description: "Datastore the clone lives on."},
					"host_id":      schema.StringAttribute{Computed: true, Description: "Host the clone runs on."},
					"image_id":     schema.StringAttribute{Computed: true, Description: "Image the clone was made from."},
				}},
			},
			"datastore_distribution": schema.MapAttribute{
				ElementType: types.Int64Type,
				Computed:    true,
				Description: "Clones per attached datastore ID. An `instantclone_pool_datastore` applied after the pool changes this in vCenter; Terraform reads the new value at the next refresh (see the datastores guide).",
			},
			"all_datastore_ids": schema.SetAttribute{
				ElementType: types.StringType,
				Computed:    true,
				Description: "The pool's own datastores plus those attached with `instantclone_pool_datastore`.",
			},
			"drift": schema.ListAttribute{
				ElementType: types.StringType,
				Computed:    true,
				Description: "How the pool in vCenter differs from what was applied (missing clones, clones on datastores not attached, an unfinished push, missing internal VMs). Not empty makes `terraform plan` propose an update that repairs it.",
			},
		},
		Blocks: map[string]schema.Block{
			"push_image": schema.SingleNestedBlock{
				Description: "How push-image recreates clones.",
				Attributes: map[string]schema.Attribute{
					"batch_size": schema.Int64Attribute{
						Optional:    true,
						Description: "Most clones out of service at once while they are recreated (default: the provider's `max_concurrent_operations`).",
						Validators:  []validator.Int64{int64validator.AtLeast(1)},
					},
					"stop_on_first_error": schema.BoolAttribute{
						Optional:    true,
						Description: "Stop recreating clones after the first failure (default `false`: carry on and report every failure).",
					},
				},
			},
			"customization": customizationBlock(),
			"timeouts":      timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (r *poolResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig checks the naming pattern and the customization against size at plan time.
func (r *poolResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var pattern types.String
	var size types.Int64
	var custom *customizationModel
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("naming_pattern"), &pattern)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("size"), &size)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("customization"), &custom)...)
	if resp.Diagnostics.HasError() {
		return
	}
	validateCustomization(ctx, custom, size, &resp.Diagnostics)
	if pattern.IsUnknown() || pattern.IsNull() {
		return
	}
	np, err := engine.ParseNamingPattern(pattern.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("naming_pattern"), "Invalid naming pattern", err.Error())
		return
	}
	if c := np.Capacity(); c > 0 && !size.IsUnknown() && !size.IsNull() && size.ValueInt64() > int64(c) {
		resp.Diagnostics.AddAttributeError(path.Root("naming_pattern"), "Naming pattern too narrow",
			fmt.Sprintf("Pattern %q can number at most %d clones, but size is %d; widen the fixed width.", pattern.ValueString(), c, size.ValueInt64()))
	}
}

// ModifyPlan proposes an update when the pool drifted or a push-image is unfinished, so that
// `terraform plan` is not empty and says why.
func (r *poolResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return
	}
	// Only the drift and the name: the whole state holds every clone.
	var reasons []string
	var name types.String
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("drift"), &reasons)...)
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("name"), &name)...)
	if resp.Diagnostics.HasError() || len(reasons) == 0 {
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("drift"), types.ListValueMust(types.StringType, []attr.Value{}))...)
	for _, attrName := range []string{"clones", "datastore_distribution", "current_image_id", "pending_image_id"} {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root(attrName), unknownOf(attrName))...)
	}
	detail := ""
	for _, reason := range reasons {
		detail += "- " + reason + "\n"
	}
	resp.Diagnostics.AddWarning(fmt.Sprintf("Pool %s drifted from its configuration", name.ValueString()),
		"vCenter shows:\n"+detail+"Apply repairs it.")
}

func unknownOf(attrName string) attr.Value {
	switch attrName {
	case "clones":
		return types.ListUnknown(types.ObjectType{AttrTypes: cloneAttrTypes})
	case "datastore_distribution":
		return types.MapUnknown(types.Int64Type)
	default:
		return types.StringUnknown()
	}
}

// spec maps the model to the engine's pool spec.
func (m poolModel) spec(ctx context.Context, defaultBatch int) (engine.PoolSpec, diag.Diagnostics) {
	var diags diag.Diagnostics
	spec := engine.PoolSpec{
		Name: m.Name.ValueString(), ImageID: m.ImageID.ValueString(), ResourcePool: m.ResourcePoolID.ValueString(),
		Folder: m.Folder.ValueString(), Size: int(m.Size.ValueInt64()), NamingPattern: m.NamingPattern.ValueString(),
		Rebalance: m.Rebalance.ValueString(), PushToken: m.PushImageToken.ValueString(), BatchSize: defaultBatch,
	}
	diags.Append(m.DatastoreIDs.ElementsAs(ctx, &spec.Datastores, false)...)
	sort.Strings(spec.Datastores)
	if !m.GuestInfo.IsNull() {
		diags.Append(m.GuestInfo.ElementsAs(ctx, &spec.GuestInfo, false)...)
	}
	if !m.NetworkIDs.IsNull() {
		diags.Append(m.NetworkIDs.ElementsAs(ctx, &spec.Networks, false)...)
	}
	spec.MinFreeSpaceGB = int(m.MinFreeSpaceGB.ValueInt64())
	spec.MaxClonesPerDatastore = int(m.MaxClonesPerDatastore.ValueInt64())
	spec.ReplicaDatastore = m.ReplicaDatastoreID.ValueString()
	custom, d := m.Customization.engineCustomization(ctx)
	diags.Append(d...)
	spec.Customization = custom
	if m.PushImage != nil {
		if !m.PushImage.BatchSize.IsNull() {
			spec.BatchSize = int(m.PushImage.BatchSize.ValueInt64())
		}
		spec.StopOnFirstError = m.PushImage.StopOnFirstError.ValueBool()
	}
	return spec, diags
}

// poolModelFrom maps the engine's view of a pool to the model. Config attributes come from
// the pool's record, so import and refresh agree with what was applied; prior keeps what vCenter
// cannot know (timeouts, how push_image was written).
func poolModelFrom(ctx context.Context, p *engine.Pool, prior poolModel) (poolModel, diag.Diagnostics) {
	var diags, d diag.Diagnostics
	m := prior
	m.ID = types.StringValue(p.ID)
	m.Name = types.StringValue(p.Spec.Name)
	m.ImageID = types.StringValue(p.Spec.ImageID)
	if p.PendingImageID != "" && prior.ImageID.ValueString() != "" {
		// A push is under way: the declared image is the pending one.
		m.ImageID = prior.ImageID
	}
	m.ResourcePoolID = types.StringValue(p.Spec.ResourcePool)
	m.Folder = types.StringNull()
	if p.Spec.Folder != "" {
		m.Folder = types.StringValue(p.Spec.Folder)
	}
	m.DatastoreIDs, d = types.SetValueFrom(ctx, types.StringType, nonNil(p.Spec.Datastores))
	diags.Append(d...)
	m.Size = types.Int64Value(int64(p.Spec.Size))
	m.NamingPattern = types.StringValue(p.Spec.NamingPattern)
	m.Rebalance = types.StringValue(p.Spec.Rebalance)
	m.PushImageToken = types.StringNull()
	if p.Spec.PushToken != "" {
		m.PushImageToken = types.StringValue(p.Spec.PushToken)
	}
	if p.PendingImageID != "" && !prior.PushImageToken.IsNull() {
		m.PushImageToken = prior.PushImageToken
	}
	m.GuestInfo = types.MapNull(types.StringType)
	if len(p.Spec.GuestInfo) > 0 {
		m.GuestInfo, d = types.MapValueFrom(ctx, types.StringType, p.Spec.GuestInfo)
		diags.Append(d...)
	}
	m.NetworkIDs = types.ListNull(types.StringType)
	if len(p.Spec.Networks) > 0 {
		m.NetworkIDs, d = types.ListValueFrom(ctx, types.StringType, p.Spec.Networks)
		diags.Append(d...)
	}
	m.MinFreeSpaceGB = optionalInt(p.Spec.MinFreeSpaceGB)
	m.MaxClonesPerDatastore = optionalInt(p.Spec.MaxClonesPerDatastore)
	m.ReplicaDatastoreID = optionalString(p.Spec.ReplicaDatastore)
	m.Customization, d = customizationFrom(ctx, p.Spec.Customization, prior.Customization)
	diags.Append(d...)
	if prior.ID.IsNull() && (p.Spec.StopOnFirstError || p.Spec.BatchSize > 0) {
		m.PushImage = &pushImage{BatchSize: types.Int64Null(), StopOnFirstError: types.BoolNull()}
		if p.Spec.BatchSize > 0 {
			m.PushImage.BatchSize = types.Int64Value(int64(p.Spec.BatchSize))
		}
		if p.Spec.StopOnFirstError {
			m.PushImage.StopOnFirstError = types.BoolValue(true)
		}
	}
	if m.Timeouts.IsNull() || m.Timeouts.IsUnknown() {
		m.Timeouts = nullTimeouts()
	}
	m.CurrentImageID = types.StringValue(p.CurrentImageID)
	m.PendingImageID = types.StringNull()
	if p.PendingImageID != "" {
		m.PendingImageID = types.StringValue(p.PendingImageID)
	}
	clones := make([]attr.Value, 0, len(p.Clones))
	for _, c := range p.Clones {
		clones = append(clones, types.ObjectValueMust(cloneAttrTypes, map[string]attr.Value{
			"name": types.StringValue(c.Name), "id": types.StringValue(c.ID), "datastore_id": types.StringValue(c.Datastore),
			"host_id": types.StringValue(c.Host), "image_id": types.StringValue(c.ImageID),
		}))
	}
	m.Clones = types.ListValueMust(types.ObjectType{AttrTypes: cloneAttrTypes}, clones)
	m.DatastoreDistribution = distributionValue(p)
	m.AllDatastoreIDs, d = types.SetValueFrom(ctx, types.StringType, nonNil(p.AllDatastores))
	diags.Append(d...)
	m.Drift, d = types.ListValueFrom(ctx, types.StringType, nonNil(p.Drift))
	diags.Append(d...)
	return m, diags
}

// distributionValue counts a pool's clones per datastore: every attached datastore (zero when
// empty) and any other datastore a clone is on (drift).
func distributionValue(p *engine.Pool) types.Map {
	dist := map[string]attr.Value{}
	counts := p.Distribution()
	for _, ds := range p.AllDatastores {
		dist[ds] = types.Int64Value(int64(counts[ds]))
	}
	for ds, n := range counts {
		if _, ok := dist[ds]; !ok {
			dist[ds] = types.Int64Value(int64(n))
		}
	}
	return types.MapValueMust(types.Int64Type, dist)
}

// optionalInt is an optional number the configuration left out as 0.
func optionalInt(n int) types.Int64 {
	if n == 0 {
		return types.Int64Null()
	}
	return types.Int64Value(int64(n))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

var timeoutAttrTypes = map[string]attr.Type{
	"create": types.StringType, "update": types.StringType, "delete": types.StringType,
}

func nullTimeouts() timeouts.Value { return timeouts.Value{Object: types.ObjectNull(timeoutAttrTypes)} }

func (r *poolResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	plan, ok := load[poolModel](ctx, r.data, req.Plan.Get, &resp.Diagnostics)
	if !ok {
		return
	}
	spec, ctx, cancel := specWithTimeout(ctx, plan, plan.Timeouts.Create, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	pool, err := r.data.engine.CreatePool(ctx, spec)
	if err != nil {
		addEngineError(&resp.Diagnostics, "creating pool "+spec.Name, err)
		return
	}
	setPoolState(ctx, &resp.State, &resp.Diagnostics, pool, plan)
}

// specWithTimeout maps the plan to the engine's spec and bounds ctx by the operation's timeout.
func specWithTimeout(ctx context.Context, plan poolModel, timeout func(context.Context, time.Duration) (time.Duration, diag.Diagnostics), diags *diag.Diagnostics) (engine.PoolSpec, context.Context, context.CancelFunc) {
	d, td := timeout(ctx, 60*time.Minute)
	diags.Append(td...)
	spec, sd := plan.spec(ctx, 0)
	diags.Append(sd...)
	ctx, cancel := context.WithTimeout(ctx, d)
	return spec, ctx, cancel
}

// setPoolState writes the engine's view of a pool into state.
func setPoolState(ctx context.Context, st *tfsdk.State, diags *diag.Diagnostics, pool *engine.Pool, prior poolModel) {
	m, d := poolModelFrom(ctx, pool, prior)
	diags.Append(d...)
	diags.Append(st.Set(ctx, m)...)
}

func (r *poolResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	state, ok := load[poolModel](ctx, r.data, req.State.Get, &resp.Diagnostics)
	if !ok {
		return
	}
	pool, err := r.data.engine.ReadPool(ctx, state.ID.ValueString(), lastSeen(ctx, state))
	if errors.Is(err, engine.ErrNotFound) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addEngineError(&resp.Diagnostics, "reading pool "+state.ID.ValueString(), err)
		return
	}
	setPoolState(ctx, &resp.State, &resp.Diagnostics, pool, state)
}

// lastSeen is where the state saw the pool, so that a refresh reads the pool's hosts and
// datastores in the same round trip as its clones.
func lastSeen(ctx context.Context, m poolModel) engine.LastSeen {
	last := engine.LastSeen{ResourcePool: m.ResourcePoolID.ValueString()}
	if m.AllDatastoreIDs.ElementsAs(ctx, &last.Datastores, false).HasError() {
		return engine.LastSeen{}
	}
	return last
}

func (r *poolResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	plan, ok := load[poolModel](ctx, r.data, req.Plan.Get, &resp.Diagnostics)
	state, stateOK := load[poolModel](ctx, r.data, req.State.Get, &resp.Diagnostics)
	if !ok || !stateOK {
		return
	}
	spec, ctx, cancel := specWithTimeout(ctx, plan, plan.Timeouts.Update, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	pool, err := r.data.engine.ApplyPool(ctx, state.ID.ValueString(), spec)
	if err != nil {
		addEngineError(&resp.Diagnostics, "updating pool "+spec.Name, err)
		// Record what the pool looks like now (which clones run which image), so that state
		// and the next plan show the unfinished work.
		// It runs even when the update was interrupted or timed out, within a bound of its own.
		readCtx, cancelRead := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancelRead()
		if now, rerr := r.data.engine.ReadPool(readCtx, state.ID.ValueString(), lastSeen(ctx, state)); rerr == nil {
			setPoolState(ctx, &resp.State, &resp.Diagnostics, now, plan)
		} else {
			resp.State.Raw = req.State.Raw
		}
		return
	}
	setPoolState(ctx, &resp.State, &resp.Diagnostics, pool, plan)
}

func (r *poolResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	state, ok := load[poolModel](ctx, r.data, req.State.Get, &resp.Diagnostics)
	if !ok {
		return
	}
	timeout, d := state.Timeouts.Delete(ctx, 60*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := r.data.engine.DeletePool(ctx, state.ID.ValueString()); err != nil {
		addEngineError(&resp.Diagnostics, "deleting pool "+state.Name.ValueString(), err)
	}
}

func (r *poolResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}
