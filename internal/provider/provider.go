// Package provider is the Terraform layer: schemas, plan modifiers, state mapping and
// diagnostics. It talks to vCenter only through the engine.
package provider

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

// DefaultMaxConcurrentOperations is Horizon's default for concurrent vCenter provisioning operations.
const DefaultMaxConcurrentOperations = 20

var _ provider.Provider = &instantCloneProvider{}

type instantCloneProvider struct {
	version string
}

// New returns a constructor of the provider, as providerserver expects.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &instantCloneProvider{version: version} }
}

type providerModel struct {
	Server                  types.String `tfsdk:"vsphere_server"`
	User                    types.String `tfsdk:"user"`
	Password                types.String `tfsdk:"password"`
	AllowUnverifiedSSL      types.Bool   `tfsdk:"allow_unverified_ssl"`
	CAFile                  types.String `tfsdk:"ca_file"`
	Datacenter              types.String `tfsdk:"datacenter"`
	MaxConcurrentOperations types.Int64  `tfsdk:"max_concurrent_operations"`
	LockTTL                 types.String `tfsdk:"lock_ttl"`
}

// providerData is what Configure hands to resources and data sources.
type providerData struct {
	engine *engine.Engine
	client *vsphere.Client
}

func (p *instantCloneProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "instantclone"
	resp.Version = p.version
}

func (p *instantCloneProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Manages VMware Horizon-style instant-clone desktop pools directly on vCenter: publish images, create pools of instant clones balanced across datastores, push new images, attach and detach datastores, and see drift in `terraform plan`.",
		Attributes: map[string]schema.Attribute{
			"vsphere_server": schema.StringAttribute{
				Optional:    true,
				Description: "vCenter server: a host name, host:port, or https URL. Also from `VSPHERE_SERVER`.",
			},
			"user": schema.StringAttribute{
				Optional:    true,
				Description: "vCenter user name. Also from `VSPHERE_USER`.",
			},
			"password": schema.StringAttribute{
				Optional:    true,
				Sensitive:   true,
				Description: "vCenter password. Also from `VSPHERE_PASSWORD`. Never logged.",
			},
			"allow_unverified_ssl": schema.BoolAttribute{
				Optional:    true,
				Description: "Skip verification of vCenter's TLS certificate (labs and simulators only). Default `false`. Also from `VSPHERE_ALLOW_UNVERIFIED_SSL`.",
			},
			"ca_file": schema.StringAttribute{
				Optional:    true,
				Description: "PEM file of certificate authorities to trust for vCenter's certificate, besides the system's. Also from `VSPHERE_CA_FILE`.",
			},
			"datacenter": schema.StringAttribute{
				Optional:    true,
				Description: "Datacenter name or path. Optional when vCenter has exactly one. Also from `VSPHERE_DATACENTER`.",
			},
			"max_concurrent_operations": schema.Int64Attribute{
				Optional:    true,
				Description: "How many vCenter provisioning operations (clone, power, delete) run at once across all pools, like Horizon's setting of the same name. Default 20.",
				Validators:  []validator.Int64{int64validator.Between(1, 1000)},
			},
			"lock_ttl": schema.StringAttribute{
				Optional: true,
				Description: "Runs against one vCenter (several states, CI jobs) take turns on an image's internal VMs and on a pool through locks kept in vCenter, " +
					"in the folder `" + engine.LockFolder + "`. A run renews its locks while it works; `lock_ttl` is how long a lock outlives its run's last renewal, " +
					"so how long a run that crashed or was killed blocks the others before they take its lock over. Default \"" + strings.TrimSuffix(engine.DefaultLockTTL.String(), "0s") + "\".",
				Validators: []validator.String{durationBetween{min: 3 * time.Second, max: time.Hour}},
			},
		},
	}
}

func stringOr(v types.String, env string) string {
	if !v.IsNull() && !v.IsUnknown() {
		return v.ValueString()
	}
	return os.Getenv(env)
}

func (p *instantCloneProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	conn := vsphere.Config{
		Server:     stringOr(cfg.Server, "VSPHERE_SERVER"),
		User:       stringOr(cfg.User, "VSPHERE_USER"),
		Password:   stringOr(cfg.Password, "VSPHERE_PASSWORD"),
		CAFile:     stringOr(cfg.CAFile, "VSPHERE_CA_FILE"),
		Datacenter: stringOr(cfg.Datacenter, "VSPHERE_DATACENTER"),
		Log:        tfLogger{},
	}
	if conn.Password != "" {
		ctx = tflog.MaskMessageStrings(ctx, conn.Password)
		ctx = tflog.MaskAllFieldValuesStrings(ctx, conn.Password)
	}
	for _, m := range []struct{ attr, env, value, what string }{
		{"vsphere_server", "VSPHERE_SERVER", conn.Server, "vCenter server"},
		{"user", "VSPHERE_USER", conn.User, "vCenter user"},
		{"password", "VSPHERE_PASSWORD", conn.Password, "vCenter password"},
	} {
		if m.value == "" {
			resp.Diagnostics.AddAttributeError(path.Root(m.attr), "Missing "+m.what,
				"Set "+m.attr+" in the provider block or "+m.env+" in the environment.")
		}
	}
	switch {
	case !cfg.AllowUnverifiedSSL.IsNull() && !cfg.AllowUnverifiedSSL.IsUnknown():
		conn.Insecure = cfg.AllowUnverifiedSSL.ValueBool()
	case os.Getenv("VSPHERE_ALLOW_UNVERIFIED_SSL") != "":
		v, err := strconv.ParseBool(os.Getenv("VSPHERE_ALLOW_UNVERIFIED_SSL"))
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("allow_unverified_ssl"), "Invalid VSPHERE_ALLOW_UNVERIFIED_SSL",
				"VSPHERE_ALLOW_UNVERIFIED_SSL must be true or false, not "+strconv.Quote(os.Getenv("VSPHERE_ALLOW_UNVERIFIED_SSL"))+".")
		}
		conn.Insecure = v
	}
	concurrency := DefaultMaxConcurrentOperations
	if !cfg.MaxConcurrentOperations.IsNull() && !cfg.MaxConcurrentOperations.IsUnknown() {
		concurrency = int(cfg.MaxConcurrentOperations.ValueInt64())
	}
	lockTTL := engine.DefaultLockTTL
	if !cfg.LockTTL.IsNull() && !cfg.LockTTL.IsUnknown() {
		lockTTL, _ = time.ParseDuration(cfg.LockTTL.ValueString()) // the validator checked it
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if _, err := vsphere.ServerURL(conn.Server); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("vsphere_server"), "Invalid vCenter server", err.Error())
		return
	}
	tflog.Info(ctx, "connecting to vCenter", map[string]any{"server": conn.Server, "user": conn.User, "insecure": conn.Insecure})
	client, err := vsphere.Connect(ctx, conn)
	if err != nil {
		resp.Diagnostics.AddError("Cannot connect to vCenter", "Connecting to "+conn.Server+": "+err.Error())
		return
	}
	track(client)
	eng := engine.New(client, concurrency, tfLogger{})
	eng.SetLockTTL(lockTTL)
	data := &providerData{client: client, engine: eng}
	resp.ResourceData = data
	resp.DataSourceData = data
}

func (p *instantCloneProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{newImageResource, newPoolResource, newPoolDatastoreResource}
}

func (p *instantCloneProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{newImageDataSource, newPoolDataSource}
}
