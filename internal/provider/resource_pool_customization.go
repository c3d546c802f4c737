package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// customizationModel is the pool's customization block.
type customizationModel struct {
	HostName         types.String     `tfsdk:"hostname"`
	Domain           types.String     `tfsdk:"domain"`
	DNSServers       types.List       `tfsdk:"dns_servers"`
	DNSSuffixes      types.List       `tfsdk:"dns_suffixes"`
	GuestUsername    types.String     `tfsdk:"guest_username"`
	GuestPassword    types.String     `tfsdk:"guest_password"`
	NetworkInterface []interfaceModel `tfsdk:"network_interface"`
}

type interfaceModel struct {
	IPv4Range        types.String `tfsdk:"ipv4_range"`
	IPv4PrefixLength types.Int64  `tfsdk:"ipv4_prefix_length"`
	IPv4Gateway      types.String `tfsdk:"ipv4_gateway"`
}

// customizationBlock is the schema of the customization block.
func customizationBlock() schema.Block {
	return schema.SingleNestedBlock{
		Description: "Give each clone its own identity through vSphere guest customization (vSphere 7.0 or later, the guest customization engine in the guest): every clone is made with its network cards disconnected, " +
			"its guest gets its host name and network settings (`CustomizeGuest_Task`), and only then are its cards connected and its guest network restarted (`StartGuestNetwork_Task`), so that no clone shows the network its parent's identity. " +
			"A clone whose customization fails is removed and named in the error; the next apply makes it again. Changing the block applies to clones created or recreated afterwards; change `push_image_token` to apply it to all. See the guide \"Giving each clone its identity\".",
		Attributes: map[string]schema.Attribute{
			"hostname": schema.StringAttribute{
				Optional:    true,
				Description: "The guest's host name: `{name}` becomes the clone's name and `{n}` its number. Default `{name}`.",
				Validators:  []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"domain": schema.StringAttribute{
				Optional:    true,
				Description: "The guests' DNS domain (the Linux domain; on Windows, each network card's DNS domain; the guests stay in a workgroup).",
			},
			"dns_servers": schema.ListAttribute{
				ElementType: types.StringType,
				Optional:    true,
				Description: "DNS servers, in order of preference.",
			},
			"dns_suffixes": schema.ListAttribute{
				ElementType: types.StringType,
				Optional:    true,
				Description: "DNS search suffixes.",
			},
			// Required within the block (validateCustomization): a nested block's Required
			// would make every pool without the block fail.
			"guest_username": schema.StringAttribute{
				Optional:    true,
				Description: "Required. A guest account the customization logs in with (vSphere's `GuestAuthentication`).",
				Validators:  []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"guest_password": schema.StringAttribute{
				Optional:    true,
				Sensitive:   true,
				Description: "Required. Its password. It is kept in Terraform's state only: never in vCenter, never in the provider's logs.",
				Validators:  []validator.String{stringvalidator.LengthAtLeast(1)},
			},
		},
		Blocks: map[string]schema.Block{
			"network_interface": schema.ListNestedBlock{
				Description: "The IPv4 settings of each network card, in order. A card with no block, or a block without `ipv4_range`, takes DHCP.",
				Validators:  []validator.List{listvalidator.SizeAtMost(10)},
				NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
					"ipv4_range": schema.StringAttribute{
						Optional:    true,
						Description: "Static addresses, `first-last` (`10.0.1.10-10.0.1.99`): clone number n takes the nth, and keeps it across push-image and rebalance. The range must hold at least `size` addresses.",
					},
					"ipv4_prefix_length": schema.Int64Attribute{
						Optional:    true,
						Description: "The network's prefix length (24 for 255.255.255.0); required with `ipv4_range`.",
						Validators:  []validator.Int64{int64validator.Between(1, 32)},
					},
					"ipv4_gateway": schema.StringAttribute{
						Optional:    true,
						Description: "The default gateway, in the network and outside the range.",
					},
				}},
			},
		},
	}
}

// engineCustomization maps the block to the engine's customization; nil without the block.
func (c *customizationModel) engineCustomization(ctx context.Context) (*engine.Customization, diag.Diagnostics) {
	if c == nil {
		return nil, nil
	}
	var diags diag.Diagnostics
	out := &engine.Customization{
		HostName: c.HostName.ValueString(), Domain: c.Domain.ValueString(),
		GuestUser: c.GuestUsername.ValueString(), GuestPassword: c.GuestPassword.ValueString(),
	}
	if !c.DNSServers.IsNull() {
		diags.Append(c.DNSServers.ElementsAs(ctx, &out.DNSServers, false)...)
	}
	if !c.DNSSuffixes.IsNull() {
		diags.Append(c.DNSSuffixes.ElementsAs(ctx, &out.DNSSuffixes, false)...)
	}
	for _, nic := range c.NetworkInterface {
		out.Interfaces = append(out.Interfaces, engine.InterfaceSettings{
			IPv4Range: nic.IPv4Range.ValueString(), PrefixLength: int(nic.IPv4PrefixLength.ValueInt64()), Gateway: nic.IPv4Gateway.ValueString(),
		})
	}
	return out, diags
}

// customizationFrom maps the pool's recorded customization to the block; the password, which
// vCenter never holds, comes from prior.
func customizationFrom(ctx context.Context, c *engine.Customization, prior *customizationModel) (*customizationModel, diag.Diagnostics) {
	if c == nil {
		return nil, nil
	}
	var diags, d diag.Diagnostics
	m := &customizationModel{
		HostName: optionalString(c.HostName), Domain: optionalString(c.Domain),
		GuestUsername: types.StringValue(c.GuestUser), GuestPassword: types.StringNull(),
		DNSServers: types.ListNull(types.StringType), DNSSuffixes: types.ListNull(types.StringType),
	}
	if prior != nil {
		m.GuestPassword = prior.GuestPassword
	}
	if len(c.DNSServers) > 0 {
		m.DNSServers, d = types.ListValueFrom(ctx, types.StringType, c.DNSServers)
		diags.Append(d...)
	}
	if len(c.DNSSuffixes) > 0 {
		m.DNSSuffixes, d = types.ListValueFrom(ctx, types.StringType, c.DNSSuffixes)
		diags.Append(d...)
	}
	for _, nic := range c.Interfaces {
		im := interfaceModel{IPv4Range: optionalString(nic.IPv4Range), IPv4PrefixLength: types.Int64Null(), IPv4Gateway: optionalString(nic.Gateway)}
		if nic.PrefixLength > 0 {
			im.IPv4PrefixLength = types.Int64Value(int64(nic.PrefixLength))
		}
		m.NetworkInterface = append(m.NetworkInterface, im)
	}
	return m, diags
}

func optionalString(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

// validateCustomization checks the block against size at plan time, each problem on its
// attribute.
func validateCustomization(ctx context.Context, c *customizationModel, size types.Int64, diags *diag.Diagnostics) {
	if c == nil {
		return
	}
	for name, v := range map[string]types.String{"guest_username": c.GuestUsername, "guest_password": c.GuestPassword} {
		if v.IsNull() {
			diags.AddAttributeError(path.Root("customization").AtName(name), "Missing guest login",
				fmt.Sprintf("customization.%s is required: vSphere customizes a running guest by logging in to it.", name))
		}
	}
	if c.HostName.IsUnknown() || size.IsUnknown() {
		return
	}
	for _, nic := range c.NetworkInterface {
		if nic.IPv4Range.IsUnknown() || nic.IPv4PrefixLength.IsUnknown() || nic.IPv4Gateway.IsUnknown() {
			return
		}
	}
	spec, d := c.engineCustomization(ctx)
	if d.HasError() {
		return
	}
	for _, p := range engine.CheckCustomization(*spec, int(size.ValueInt64())) {
		at := path.Root("customization")
		if p.Interface >= 0 {
			at = at.AtName("network_interface").AtListIndex(p.Interface)
		}
		diags.AddAttributeError(at.AtName(p.Attribute), "Invalid customization", p.Error())
	}
}
