package acctest

import (
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// NewSites starts one simulated vCenter per site name, each with its own inventory, sessions
// and credentials, for configurations that span several vCenters (a provider alias per site).
func NewSites(t *testing.T, opts vcsim.Options, names ...string) map[string]*Env {
	t.Helper()
	sites := make(map[string]*Env, len(names))
	for _, name := range names {
		sites[name] = NewEnv(t, opts)
	}
	return sites
}

// Credentials are what a provider block needs to reach this simulator, as the VSPHERE_*
// environment the provider reads when its block leaves them out.
func (e *Env) Credentials() []string {
	return []string{
		"VSPHERE_SERVER=" + e.Server.URL().Host, "VSPHERE_USER=" + e.Server.Username(),
		"VSPHERE_PASSWORD=" + e.Server.Password(), "VSPHERE_ALLOW_UNVERIFIED_SSL=true",
	}
}
