package vcsim

import (
	"net/url"
	"slices"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// loginAs connects to s as one of its users.
func loginAs(t *testing.T, s *Server, name string) *govmomi.Client {
	t.Helper()
	u := s.URL()
	u.User = url.UserPassword(name, s.UserPassword(name))
	c, err := govmomi.NewClient(t.Context(), u, true)
	if err != nil {
		t.Fatalf("login as %s: %v", name, err)
	}
	return c
}

// noPermission returns the NoPermission fault of err, failing the test without one.
func noPermission(t *testing.T, what string, err error) *types.NoPermission {
	t.Helper()
	var np *types.NoPermission
	if _, ok := fault.As(err, &np); !ok {
		t.Fatalf("%s: got %v, want NoPermission", what, err)
	}
	return np
}

func TestReadOnlyUserReadsButCannotWrite(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	inv := s.Inventory()
	c := loginAs(t, s, ReadOnlyUser)
	ctx := t.Context()

	// Reads work: the golden VM is found, custom field definitions are listed.
	vm := goldenVM(t, c)
	if _, err := object.NewCustomFieldsManager(c.Client).Field(ctx); err != nil {
		t.Fatalf("reading custom field definitions: %v", err)
	}

	folder := object.NewFolder(c.Client, inv.VMFolder.Ref)
	_, err := folder.CreateFolder(ctx, "pools")
	np := noPermission(t, "CreateFolder", err)
	if np.PrivilegeId != "Folder.Create" || np.Object == nil || *np.Object != inv.VMFolder.Ref {
		t.Errorf("CreateFolder: NoPermission{%s on %v}, want Folder.Create on %s", np.PrivilegeId, np.Object, inv.VMFolder.Ref)
	}
	if len(np.MissingPrivileges) != 1 || !slices.Equal(np.MissingPrivileges[0].PrivilegeIds, []string{"Folder.Create"}) {
		t.Errorf("CreateFolder: missingPrivileges %+v", np.MissingPrivileges)
	}

	_, err = object.NewCustomFieldsManager(c.Client).Add(ctx, "instantclone.role", "", nil, nil)
	if np := noPermission(t, "AddCustomFieldDef", err); np.PrivilegeId != "Global.ManageCustomFields" || *np.Object != c.ServiceContent.RootFolder {
		t.Errorf("AddCustomFieldDef: NoPermission{%s on %v}, want Global.ManageCustomFields on the root folder", np.PrivilegeId, np.Object)
	}
	_, err = vm.PowerOff(ctx)
	if np := noPermission(t, "PowerOffVM_Task", err); np.PrivilegeId != "VirtualMachine.Interact.PowerOff" || *np.Object != vm.Reference() {
		t.Errorf("PowerOffVM_Task: NoPermission{%s on %v}", np.PrivilegeId, np.Object)
	}
	// A method the privilege table does not know is refused too, saying so.
	_, err = vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{Annotation: "x"})
	noPermission(t, "ReconfigVM_Task", err)

	// Nothing was written; the administrator is not checked.
	admin := login(t, s)
	defs, err := object.NewCustomFieldsManager(admin.Client).Field(ctx)
	if err != nil || len(defs) != 0 {
		t.Fatalf("definitions after refused writes: %v, %v", defs, err)
	}
	if _, err := object.NewFolder(admin.Client, inv.VMFolder.Ref).CreateFolder(ctx, "pools"); err != nil {
		t.Fatalf("administrator CreateFolder: %v", err)
	}
}

func TestUserRoleGrantsExactlyItsPrivileges(t *testing.T) {
	t.Parallel()
	const name = "clone-only@vsphere.local"
	s := start(t, Options{Users: []User{{Name: name, Privileges: []string{
		"VirtualMachine.Provisioning.Clone", "Folder.Create", "Datastore.AllocateSpace",
	}}}})
	inv := s.Inventory()
	c := loginAs(t, s, name)
	ctx := t.Context()

	f, err := object.NewFolder(c.Client, inv.VMFolder.Ref).CreateFolder(ctx, "mine")
	if err != nil {
		t.Fatalf("CreateFolder with Folder.Create: %v", err)
	}
	// Folder.Delete is wanted on the folder and on its parent; the user has neither.
	_, err = f.Destroy(ctx)
	np := noPermission(t, "Destroy_Task", err)
	var entities []types.ManagedObjectReference
	for _, m := range np.MissingPrivileges {
		entities = append(entities, m.Entity)
	}
	if !slices.Equal(entities, []types.ManagedObjectReference{f.Reference(), inv.VMFolder.Ref}) || np.PrivilegeId != "Folder.Delete" {
		t.Errorf("Destroy_Task of a folder: missing %+v, want Folder.Delete on %s and %s", np.MissingPrivileges, f.Reference(), inv.VMFolder.Ref)
	}

	// Cloning needs more than VirtualMachine.Provisioning.Clone: the destination folder's
	// VirtualMachine.Inventory.CreateFromExisting.
	vm := goldenVM(t, c)
	_, err = vm.Clone(ctx, f, "copy", types.VirtualMachineCloneSpec{})
	np = noPermission(t, "CloneVM_Task", err)
	if np.PrivilegeId != "VirtualMachine.Inventory.CreateFromExisting" || *np.Object != f.Reference() {
		t.Errorf("CloneVM_Task: NoPermission{%s on %v}, want CreateFromExisting on %s", np.PrivilegeId, np.Object, f.Reference())
	}

	// Another user's password does not log this one in; a wrong one neither.
	for _, pass := range []string{s.UserPassword(ReadOnlyUser), s.Password(), ""} {
		u := s.URL()
		u.User = url.UserPassword(name, pass)
		var invalid *types.InvalidLogin
		if _, err := govmomi.NewClient(ctx, u, true); !isFault(err, &invalid) {
			t.Errorf("login with another's password: %v, want InvalidLogin", err)
		}
	}
}

func isFault[T types.BaseMethodFault](err error, target *T) bool {
	_, ok := fault.As(err, target)
	return ok
}
