package provider

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// TestPermissionDiagnostic: a missing privilege, however deep in the engine's error, becomes
// one diagnostic naming the privilege and the object and saying where the role is documented.
func TestPermissionDiagnostic(t *testing.T) {
	denied := &engine.PermissionError{
		Missing: []engine.MissingPrivileges{{Kind: "Folder", ID: "group-v4", Privileges: []string{"Folder.Create"}}},
		Err:     errors.New("NoPermission"),
	}
	for name, err := range map[string]error{
		"wrapped":        fmt.Errorf("creating folder pools in group-v4: %w", denied),
		"among failures": &engine.VMFailures{Action: "create or recreate", What: "clone", Failures: map[string]error{"win-1": denied}},
	} {
		var diags diag.Diagnostics
		addEngineError(&diags, "creating pool p", err)
		if len(diags) != 1 {
			t.Fatalf("%s: %d diagnostics", name, len(diags))
		}
		d := diags[0]
		if d.Summary() != "Missing vCenter privilege while creating pool p" {
			t.Errorf("%s: summary %q", name, d.Summary())
		}
		for _, want := range []string{"Folder.Create on Folder group-v4", "documentation lists the role", "read-only"} {
			if !strings.Contains(d.Detail(), want) {
				t.Errorf("%s: detail %q lacks %q", name, d.Detail(), want)
			}
		}
	}
}
