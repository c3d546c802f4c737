package vsphere_test

import (
	"context"
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vmware/govmomi/object"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

// startSimulator starts a simulator that stops with the test.
func startSimulator(t *testing.T, opts vcsim.Options) *vcsim.Server {
	t.Helper()
	srv, err := vcsim.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// asAdmin is a started simulator and its administrator's client.
func asAdmin(t *testing.T, opts vcsim.Options) (*vcsim.Server, *vsphere.Client) {
	t.Helper()
	srv := startSimulator(t, opts)
	return srv, connectAs(t, srv, srv.Username(), srv.Password())
}

func connectAs(t *testing.T, srv *vcsim.Server, user, password string) *vsphere.Client {
	t.Helper()
	c, err := vsphere.Connect(context.Background(), vsphere.Config{Server: srv.URL().Host, User: user, Password: password, Insecure: true})
	if err != nil {
		t.Fatalf("connecting as %s: %v", user, err)
	}
	t.Cleanup(func() { _ = c.Logout(context.Background()) })
	return c
}

// TestReadOnlyLoginReadsWithoutWriting: on a vCenter the provider never wrote to, a read-only
// login reads folders, VMs and their marks; no custom field definition is created by it.
func TestReadOnlyLoginReadsWithoutWriting(t *testing.T) {
	srv := startSimulator(t, vcsim.Options{})
	ctx := context.Background()
	ro := connectAs(t, srv, vcsim.ReadOnlyUser, srv.UserPassword(vcsim.ReadOnlyUser))

	if _, err := ro.Folders(ctx); err != nil {
		t.Fatalf("Folders as the read-only user: %v", err)
	}
	vms, err := ro.AllVMs(ctx)
	if err != nil || len(vms) == 0 {
		t.Fatalf("AllVMs as the read-only user: %d, %v", len(vms), err)
	}
	for _, vm := range vms {
		if len(vm.Marks) != 0 {
			t.Errorf("%s has marks %v on a fresh vCenter", vm.Name, vm.Marks)
		}
	}
	if _, err := ro.SourceVM(ctx, vcsim.GoldenVMPath); err != nil {
		t.Fatalf("SourceVM: %v", err)
	}
	if _, err := ro.FindFolder(ctx, "ClonePrepInternalTemplateFolder"); !vsphere.IsNotFound(err) {
		t.Fatalf("FindFolder of a missing folder: %v, want not found", err)
	}
	defs, err := object.NewCustomFieldsManager(ro.Vim()).Field(ctx)
	if err != nil || len(defs) != 0 {
		t.Fatalf("custom field definitions after reads: %v, %v", defs, err)
	}
}

// TestNoPermissionNamesPrivilegeAndObject: a write the user holds no privilege for fails with
// the engine's PermissionError, naming the privilege and the object in its message.
func TestNoPermissionNamesPrivilegeAndObject(t *testing.T) {
	srv := startSimulator(t, vcsim.Options{})
	ctx := context.Background()
	ro := connectAs(t, srv, vcsim.ReadOnlyUser, srv.UserPassword(vcsim.ReadOnlyUser))
	vmFolder := srv.Inventory().VMFolder.Ref
	root := ro.Vim().ServiceContent.RootFolder

	tests := []struct {
		name string
		call func() error
		want engine.MissingPrivileges
	}{
		{"create folder", func() error { _, err := ro.CreateFolder(ctx, "", "pools"); return err },
			engine.MissingPrivileges{Kind: "Folder", ID: vmFolder.Value, Privileges: []string{"Folder.Create"}}},
		{"mark a VM", func() error {
			return ro.SetMarks(ctx, engine.VMObject(srv.Inventory().Golden.Ref.Value), engine.Marks{engine.MarkRole: "template"})
		}, engine.MissingPrivileges{Kind: "Folder", ID: root.Value, Privileges: []string{"Global.ManageCustomFields"}}},
		{"power off", func() error { return ro.PowerOff(ctx, srv.Inventory().Golden.Ref.Value) },
			engine.MissingPrivileges{Kind: "VirtualMachine", ID: srv.Inventory().Golden.Ref.Value, Privileges: []string{"VirtualMachine.Interact.PowerOff"}}},
	}
	for _, tt := range tests {
		err := tt.call()
		var pe *engine.PermissionError
		if !errors.As(err, &pe) {
			t.Errorf("%s: %v, want a PermissionError", tt.name, err)
			continue
		}
		if len(pe.Missing) != 1 || pe.Missing[0].Kind != tt.want.Kind || pe.Missing[0].ID != tt.want.ID || !slices.Equal(pe.Missing[0].Privileges, tt.want.Privileges) {
			t.Errorf("%s: missing %+v, want %+v", tt.name, pe.Missing, tt.want)
		}
		if msg := err.Error(); !strings.Contains(msg, tt.want.Privileges[0]) || !strings.Contains(msg, tt.want.ID) {
			t.Errorf("%s: message %q names neither privilege nor object", tt.name, msg)
		}
		if vsphere.IsTransient(err) {
			t.Errorf("%s: a missing privilege is taken for transient", tt.name)
		}
	}
}

// TestDocumentedRole: the role docs/index.md lists is the provider's role, privilege for
// privilege, so the acceptance test that applies with vsphere.Privileges tests the docs.
func TestDocumentedRole(t *testing.T) {
	text, err := os.ReadFile("../../templates/index.md.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	section := string(text)
	start := strings.Index(section, "## vCenter role")
	if start < 0 {
		t.Fatal("templates/index.md.tmpl has no vCenter role section")
	}
	section = section[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Za-z.]+)` \\|").FindAllStringSubmatch(section, -1) {
		documented = append(documented, m[1])
	}
	want := vsphere.PrivilegeIDs()
	slices.Sort(documented)
	slices.Sort(want)
	if !slices.Equal(documented, want) {
		t.Errorf("documented role %v\nprovider's role   %v", documented, want)
	}
}
