package acctest

import (
	"context"
	"fmt"
	"testing"

	"github.com/vmware/govmomi/object"

	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

// RoleUser holds exactly the role the provider's documentation lists (vsphere.Privileges).
const RoleUser = "instantclone@vsphere.local"

// WithRoleUser adds RoleUser to the simulator's users; every simulator has vcsim.ReadOnlyUser.
func WithRoleUser(opts vcsim.Options) vcsim.Options {
	opts.Users = append(opts.Users, vcsim.User{Name: RoleUser, Privileges: vsphere.PrivilegeIDs()})
	return opts
}

// ProviderBlockAs is a provider block pointing at this simulator, logged in as one of its users
// (vcsim.ReadOnlyUser, RoleUser) instead of the administrator.
func (e *Env) ProviderBlockAs(user string) string {
	return fmt.Sprintf(`
provider "instantclone" {
  vsphere_server       = %q
  user                 = %q
  password             = %q
  allow_unverified_ssl = true
%s
}
`, e.Server.URL().Host, user, e.Server.UserPassword(user), e.ProviderSettings)
}

// CustomFieldNames lists the custom attribute definitions vCenter holds.
func (e *Env) CustomFieldNames(t *testing.T) []string {
	t.Helper()
	defs, err := object.NewCustomFieldsManager(e.Client.Vim()).Field(context.Background())
	if err != nil {
		t.Fatalf("reading custom attribute definitions: %v", err)
	}
	out := make([]string, 0, len(defs))
	for _, d := range defs {
		out = append(out, d.Name)
	}
	return out
}
