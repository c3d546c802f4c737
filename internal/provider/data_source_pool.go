package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

var _ datasource.DataSourceWithConfigValidators = &poolDataSource{}

type poolDataSource struct{ data *providerData }

func newPoolDataSource() datasource.DataSource { return &poolDataSource{} }

type poolDataModel struct {
	ID                    types.String `tfsdk:"id"`
	Name                  types.String `tfsdk:"name"`
	ImageID               types.String `tfsdk:"image_id"`
	ResourcePoolID        types.String `tfsdk:"resource_pool_id"`
	DatastoreIDs          types.Set    `tfsdk:"datastore_ids"`
	Size                  types.Int64  `tfsdk:"size"`
	NamingPattern         types.String `tfsdk:"naming_pattern"`
	Rebalance             types.String `tfsdk:"rebalance"`
	CurrentImageID        types.String `tfsdk:"current_image_id"`
	PendingImageID        types.String `tfsdk:"pending_image_id"`
	Clones                types.List   `tfsdk:"clones"`
	DatastoreDistribution types.Map    `tfsdk:"datastore_distribution"`
	AllDatastoreIDs       types.Set    `tfsdk:"all_datastore_ids"`
	Drift                 types.List   `tfsdk:"drift"`
}

func (d *poolDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_pool"
}

func (d *poolDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, Description: desc}
	}
	resp.Schema = schema.Schema{
		Description: "Reads an instant-clone pool by ID or name: its clones, where they live, and any drift.",
		Attributes: map[string]schema.Attribute{
			"id":               schema.StringAttribute{Optional: true, Computed: true, Description: "Pool ID (its folder's managed object ID). Give this or `name`."},
			"name":             schema.StringAttribute{Optional: true, Computed: true, Description: "Pool name. Give this or `id`; it must be unique in the datacenter."},
			"image_id":         computed("Image the pool is declared to run."),
			"resource_pool_id": computed("Resource pool of the clones."),
			"datastore_ids":    schema.SetAttribute{ElementType: types.StringType, Computed: true, Description: "The pool's own datastores."},
			"size":             schema.Int64Attribute{Computed: true, Description: "Declared number of clones."},
			"naming_pattern":   computed("Clone naming pattern."),
			"rebalance":        computed("Rebalance policy."),
			"current_image_id": computed("Image every clone runs once no push is pending."),
			"pending_image_id": computed("Image of an unfinished push-image, if any."),
			"clones": schema.ListNestedAttribute{
				Computed:    true,
				Description: "The clones, by number.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name": computed("Clone name."), "id": computed("Clone VM ID."), "datastore_id": computed("Datastore."),
					"host_id": computed("Host."), "image_id": computed("Image."),
				}},
			},
			"datastore_distribution": schema.MapAttribute{ElementType: types.Int64Type, Computed: true, Description: "Clones per datastore."},
			"all_datastore_ids":      schema.SetAttribute{ElementType: types.StringType, Computed: true, Description: "Own plus attached datastores."},
			"drift":                  schema.ListAttribute{ElementType: types.StringType, Computed: true, Description: "How the pool differs from what was last applied."},
		},
	}
}

func (d *poolDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{
		datasourcevalidator.ExactlyOneOf(path.MatchRoot("id"), path.MatchRoot("name")),
	}
}

func (d *poolDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *poolDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	cfg, ok := load[poolDataModel](ctx, d.data, req.Config.Get, &resp.Diagnostics)
	if !ok {
		return
	}
	var pool *engine.Pool
	var err error
	if !cfg.ID.IsNull() {
		pool, err = d.data.engine.ReadPool(ctx, cfg.ID.ValueString(), engine.LastSeen{})
	} else {
		pool, err = d.data.engine.FindPoolByName(ctx, cfg.Name.ValueString())
	}
	if err != nil {
		addEngineError(&resp.Diagnostics, "reading pool", err)
		return
	}
	// The resource's mapping is the one source of truth; the data source shows a subset of it.
	m, diags := poolModelFrom(ctx, pool, poolModel{ID: types.StringNull(), Timeouts: nullTimeouts()})
	resp.Diagnostics.Append(diags...)
	out := poolDataModel{
		ID: m.ID, Name: m.Name, ImageID: m.ImageID, ResourcePoolID: m.ResourcePoolID, DatastoreIDs: m.DatastoreIDs,
		Size: m.Size, NamingPattern: m.NamingPattern, Rebalance: m.Rebalance, CurrentImageID: m.CurrentImageID,
		PendingImageID: m.PendingImageID, Clones: m.Clones, DatastoreDistribution: m.DatastoreDistribution,
		AllDatastoreIDs: m.AllDatastoreIDs, Drift: m.Drift,
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, out)...)
}
