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

var _ datasource.DataSourceWithConfigValidators = &imageDataSource{}

type imageDataSource struct{ data *providerData }

func newImageDataSource() datasource.DataSource { return &imageDataSource{} }

func (d *imageDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_image"
}

func (d *imageDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Reads a published image by ID or by name.",
		Attributes: map[string]schema.Attribute{
			"id":                   schema.StringAttribute{Optional: true, Computed: true, Description: "Image ID. Give this or `name`."},
			"name":                 schema.StringAttribute{Optional: true, Computed: true, Description: "Image name. Give this or `id`; it must be unique."},
			"source_vm":            schema.StringAttribute{Computed: true, Description: "The parent VM, as given when the image was published."},
			"snapshot":             schema.StringAttribute{Computed: true, Description: "Name of the snapshot the image was published from."},
			"snapshot_id":          schema.StringAttribute{Computed: true, Description: "Managed object ID of that snapshot."},
			"state":                schema.StringAttribute{Computed: true, Description: "`published` when the template VM exists."},
			"template_vm_id":       schema.StringAttribute{Computed: true, Description: "Managed object ID of the image's template VM."},
			"num_cpus":             schema.Int64Attribute{Computed: true, Description: "Virtual CPUs the image's VMs were given, if it sets them (null: the source VM's)."},
			"cores_per_socket":     schema.Int64Attribute{Computed: true, Description: "Cores per socket the image's VMs were given, if it sets them."},
			"memory_mb":            schema.Int64Attribute{Computed: true, Description: "Memory in MB the image's VMs were given, if it sets it."},
			"parent_ready":         schema.StringAttribute{Computed: true, Description: "When the image's parents are ready to fork from: `powered_on` or `frozen`."},
			"parent_ready_timeout": schema.StringAttribute{Computed: true, Description: "How long a parent is given to freeze."},
		},
	}
}

func (d *imageDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{
		datasourcevalidator.ExactlyOneOf(path.MatchRoot("id"), path.MatchRoot("name")),
	}
}

func (d *imageDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *imageDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	cfg, ok := load[imageModel](ctx, d.data, req.Config.Get, &resp.Diagnostics)
	if !ok {
		return
	}
	var img *engine.Image
	var err error
	if !cfg.ID.IsNull() {
		img, err = d.data.engine.ReadImage(ctx, cfg.ID.ValueString())
	} else {
		img, err = d.data.engine.FindImageByName(ctx, cfg.Name.ValueString())
	}
	if err != nil {
		addEngineError(&resp.Diagnostics, "reading image", err)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, imageModelFrom(img, types.StringValue(img.SnapshotName), types.StringNull()))...)
}
