package provider_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/instantclone/terraform-provider-instantclone/internal/acctest"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

func providerOnly(block string) string {
	return block + imageHCL("img", "win11")
}

func TestAccProvider_credentialsAndTLS(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	for _, k := range []string{"VSPHERE_SERVER", "VSPHERE_USER", "VSPHERE_PASSWORD", "VSPHERE_ALLOW_UNVERIFIED_SSL", "VSPHERE_CA_FILE"} {
		t.Setenv(k, "")
	}
	host, user, pass := env.Server.URL().Host, env.Server.Username(), env.Server.Password()
	block := func(extra string) string {
		return fmt.Sprintf("provider \"instantclone\" {\n%s\n}\n", extra)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      providerOnly(block(fmt.Sprintf("vsphere_server = %q\nuser = %q\npassword = \"wrong-password\"\nallow_unverified_ssl = true", host, user))),
				ExpectError: regexp.MustCompile(`(?s)Cannot connect to vCenter.*rejected the user name or\s+password`),
			},
			{
				// TLS is verified by default: the simulator's self-signed certificate is refused.
				Config:      providerOnly(block(fmt.Sprintf("vsphere_server = %q\nuser = %q\npassword = %q", host, user, pass))),
				ExpectError: regexp.MustCompile(`(?s)Cannot connect to vCenter.*not\s+trusted.*ca_file`),
			},
			{
				Config:      providerOnly(block("")),
				ExpectError: regexp.MustCompile(`(?s)Missing vCenter server.*VSPHERE_SERVER`),
			},
			{
				Config:      providerOnly(block(fmt.Sprintf("vsphere_server = %q", host))),
				ExpectError: regexp.MustCompile(`(?s)Missing vCenter password.*VSPHERE_PASSWORD`),
			},
			{
				// Trusting the server's CA explicitly works without turning verification off.
				Config: providerOnly(block(fmt.Sprintf("vsphere_server = %q\nuser = %q\npassword = %q\nca_file = %q", host, user, pass, env.Server.CertificateFile()))),
				Check:  checkTemplates(t, env, 1),
			},
		},
	})
}

func TestAccProvider_environment(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	t.Setenv("VSPHERE_SERVER", env.Server.URL().Host)
	t.Setenv("VSPHERE_USER", env.Server.Username())
	t.Setenv("VSPHERE_PASSWORD", env.Server.Password())
	t.Setenv("VSPHERE_ALLOW_UNVERIFIED_SSL", "true")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: providerOnly(`provider "instantclone" {}`),
			Check:  checkTemplates(t, env, 1),
		}},
	})
}
