package vcsim

import (
	"context"
	"crypto/rand"
	"fmt"
	"reflect"
	"slices"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// User is a login the simulator accepts besides the administrator. Its role holds Privileges
// and is granted on the root folder, propagating to every object, as a vSphere administrator
// grants a service account's role. vCenter adds System.Anonymous, System.View and System.Read
// to every role it creates (the simulator's AuthorizationManager does the same), so a user
// with no privileges listed has vCenter's ReadOnly role.
type User struct {
	Name       string
	Privileges []string
}

// ReadOnlyUser is the name of the read-only user every simulator has.
const ReadOnlyUser = "readonly@vsphere.local"

// users maps each user's name to its password, random per server.
type users map[string]string

// addUsers creates each user's role and grants it on the root folder, through the
// simulator's AuthorizationManager, so the permissions read back as vCenter's would.
func addUsers(ctx context.Context, c *vim25.Client, list []User) (users, error) {
	am := object.NewAuthorizationManager(c)
	root := c.ServiceContent.RootFolder
	out := users{}
	for _, u := range list {
		if u.Name == "" || u.Name == Username || out[u.Name] != "" {
			return nil, fmt.Errorf("vcsim: user name %q is empty or taken", u.Name)
		}
		role := "role-" + u.Name
		if _, err := am.AddRole(ctx, role, u.Privileges); err != nil {
			return nil, fmt.Errorf("vcsim: role for %s: %w", u.Name, err)
		}
		// The simulator's AddAuthorizationRole does not return the new role's ID.
		roles, err := am.RoleList(ctx)
		if err != nil {
			return nil, fmt.Errorf("vcsim: reading roles: %w", err)
		}
		id := roles.ByName(role).RoleId
		perms, err := am.RetrieveEntityPermissions(ctx, root, false)
		if err != nil {
			return nil, fmt.Errorf("vcsim: reading permissions: %w", err)
		}
		perms = append(perms, types.Permission{Entity: &root, Principal: u.Name, RoleId: id, Propagate: true})
		if err := am.SetEntityPermissions(ctx, root, perms); err != nil {
			return nil, fmt.Errorf("vcsim: granting %s: %w", u.Name, err)
		}
		out[u.Name] = rand.Text()
	}
	return out, nil
}

// acceptLogins makes the session manager accept the administrator and the users.
func acceptLogins(r *simulator.Registry, admin, adminPassword string, us users) {
	r.SessionManager().ValidLogin = func(req *types.Login) bool {
		if req.UserName == admin {
			return req.Password == adminPassword
		}
		pass, ok := us[req.UserName]
		return ok && req.Password == pass
	}
}

// enforcePrivileges makes r refuse the users' calls they hold no privilege for, as vCenter
// does: before the method runs, with NoPermission naming the object and the privilege
// (NoPermission.object and privilegeId, and missingPrivileges since vSphere 7.0.3). The
// administrator is not checked. Methods the table below does not know are refused to users,
// so a call the provider starts making without a privilege here fails loudly in tests.
func enforcePrivileges(r *simulator.Registry, authz, root types.ManagedObjectReference, us users) {
	next := r.Handler
	r.Handler = func(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
		if ctx.Session != nil {
			if _, restricted := us[ctx.Session.UserName]; restricted {
				if fault := checkPrivileges(ctx, m, authz, root, ctx.Session.UserName); fault != nil {
					return nil, fault
				}
			}
		}
		if next != nil {
			return next(ctx, m)
		}
		return nil, nil
	}
}

// need is one privilege a call requires on one object.
type need struct {
	privilege string
	on        types.ManagedObjectReference
}

func checkPrivileges(ctx *simulator.Context, m *simulator.Method, authz, root types.ManagedObjectReference, user string) types.BaseMethodFault {
	needs, known := requiredPrivileges(ctx, m, root)
	if !known {
		return &types.NoPermission{Object: &m.This, PrivilegeId: "(privilege of " + m.Name + " not modelled by the simulator)"}
	}
	am, ok := ctx.Map.Get(authz).(*simulator.AuthorizationManager)
	if !ok {
		return &types.SystemError{Reason: "vcsim: no AuthorizationManager"}
	}
	var missing []types.NoPermissionEntityPrivileges
	for _, n := range needs {
		if granted(ctx, am, user, n.on, n.privilege) {
			continue
		}
		i := slices.IndexFunc(missing, func(e types.NoPermissionEntityPrivileges) bool { return e.Entity == n.on })
		if i < 0 {
			missing = append(missing, types.NoPermissionEntityPrivileges{Entity: n.on})
			i = len(missing) - 1
		}
		missing[i].PrivilegeIds = append(missing[i].PrivilegeIds, n.privilege)
	}
	if len(missing) == 0 {
		return nil
	}
	first := missing[0].Entity
	return &types.NoPermission{Object: &first, PrivilegeId: missing[0].PrivilegeIds[0], MissingPrivileges: missing}
}

// granted reports whether user holds privilege on obj: the permission on obj itself, or else
// the nearest propagating one on an ancestor, decides (vSphere Security, "Permission
// inheritance": a permission on a child overrides one propagated from its parent).
func granted(ctx *simulator.Context, am *simulator.AuthorizationManager, user string, obj types.ManagedObjectReference, privilege string) bool {
	if _, ok := ctx.Map.Get(obj).(mo.Entity); !ok {
		return true // a missing object: the method itself reports it
	}
	body, ok := am.RetrieveEntityPermissions(ctx, &types.RetrieveEntityPermissions{Entity: obj, Inherited: true}).(*methods.RetrieveEntityPermissionsBody)
	if !ok || body.Res == nil {
		return false
	}
	for _, p := range body.Res.Returnval {
		if p.Group || p.Principal != user || (p.Entity != nil && *p.Entity != obj && !p.Propagate) {
			continue
		}
		for _, role := range am.RoleList {
			if role.RoleId == p.RoleId {
				return slices.Contains(role.Privilege, privilege)
			}
		}
		return false
	}
	return false
}

// readMethods need System.View or System.Read on what they read, which every role holds
// (AuthorizationManager.addAuthorizationRole: the system privileges are added to each role).
var readMethods = []string{
	"RetrieveServiceContent", "Login", "Logout", "SessionIsActive", "CurrentTime",
	"RetrieveProperties", "RetrievePropertiesEx", "ContinueRetrievePropertiesEx", "CancelRetrievePropertiesEx",
	"CreateFilter", "DestroyPropertyFilter", "CreatePropertyCollector", "DestroyPropertyCollector",
	"WaitForUpdates", "WaitForUpdatesEx", "CheckForUpdates", "CancelWaitForUpdates",
	"CreateContainerView", "CreateListView", "DestroyView",
	"FindByInventoryPath", "FindChild", "FindByUuid", "FindAllByUuid",
}

// requiredPrivileges lists what a call needs, as the vSphere API reference gives it for the
// methods the provider calls (the method's "Required privileges", the privileges of its
// parameters, and the extra ones its description lists). known is false for a method not in
// the table.
func requiredPrivileges(ctx *simulator.Context, m *simulator.Method, root types.ManagedObjectReference) (needs []need, known bool) {
	if slices.Contains(readMethods, m.Name) {
		return nil, true
	}
	this := m.This
	switch req := m.Body.(type) {
	case *types.CreateFolder:
		// Folder.CreateFolder: "Required privileges: Folder.Create".
		return []need{{"Folder.Create", this}}, true
	case *types.Rename_Task:
		// ManagedEntity.Rename_Task: dynamic; Folder.Rename on a folder ("Folder privileges").
		if this.Type == "Folder" {
			return []need{{"Folder.Rename", this}}, true
		}
	case *types.Destroy_Task:
		// ManagedEntity.Destroy_Task: dynamic. Deleting a VM needs VirtualMachine.Inventory.Delete
		// and a folder Folder.Delete, each "assigned in both the object and its parent object"
		// (vSphere Security, "Virtual Machine Inventory privileges", "Folder privileges").
		priv := map[string]string{"VirtualMachine": "VirtualMachine.Inventory.Delete", "Folder": "Folder.Delete"}[this.Type]
		if priv == "" {
			return nil, false
		}
		needs = []need{{priv, this}}
		if parent := parentOf(ctx, this); parent != nil {
			needs = append(needs, need{priv, *parent})
		}
		return needs, true
	case *types.CloneVM_Task:
		return cloneNeeds(ctx, this, req), true
	case *types.InstantClone_Task:
		return instantCloneNeeds(ctx, this, req), true
	case *types.PowerOnVM_Task:
		return []need{{"VirtualMachine.Interact.PowerOn", this}}, true // "Required privileges"
	case *types.PowerOffVM_Task:
		return []need{{"VirtualMachine.Interact.PowerOff", this}}, true // "Required privileges"
	case *types.CreateSnapshot_Task:
		return []need{{"VirtualMachine.State.CreateSnapshot", this}}, true // "Required privileges"
	case *types.MoveIntoFolder_Task:
		// Folder.MoveIntoFolder_Task: dynamic. A VM changing folders needs
		// VirtualMachine.Inventory.Move "against the virtual machine, source folder, and
		// destination folder" (VirtualMachine.RelocateVM_Task says it of the same move).
		for _, ref := range req.List {
			if ref.Type != "VirtualMachine" {
				return nil, false
			}
			needs = append(needs, need{"VirtualMachine.Inventory.Move", ref}, need{"VirtualMachine.Inventory.Move", this})
			if parent := parentOf(ctx, ref); parent != nil {
				needs = append(needs, need{"VirtualMachine.Inventory.Move", *parent})
			}
		}
		return needs, true
	case *types.RelocateVM_Task:
		return relocateNeeds(ctx, this, req), true
	case *types.ReconfigVM_Task:
		return reconfigureNeeds(this, req.Spec)
	case *types.AddCustomFieldDef, *types.RemoveCustomFieldDef, *types.RenameCustomFieldDef:
		// CustomFieldsManager: "Required privileges: Global.ManageCustomFields". Global
		// privileges are held on the root folder ("Global privileges ... Root vCenter Server").
		return []need{{"Global.ManageCustomFields", root}}, true
	case *types.CustomizeGuest_Task:
		// VirtualMachineGuestCustomizationManager: "Required privileges:
		// VirtualMachine.Provisioning.Customize", on the VM customized.
		return []need{{"VirtualMachine.Provisioning.Customize", req.Vm}}, true
	case *types.StartGuestNetwork_Task:
		return []need{{"VirtualMachine.Provisioning.Customize", req.Vm}}, true // the same
	case *types.SetField:
		// SetFieldRequestType.entity: "Required privileges: Global.SetCustomField".
		return []need{{"Global.SetCustomField", req.Entity}}, true
	}
	return nil, false
}

// cloneNeeds: VirtualMachine.CloneVM_Task. On the source, VirtualMachine.Provisioning.Clone
// (a VM to a VM; DeployTemplate when the source is a template); with customization,
// VirtualMachine.Provisioning.Customize; VirtualMachine.Inventory.CreateFromExisting on the
// folder (CloneVMRequestType.folder; spec.location.folder takes precedence);
// Resource.AssignVMToPool "for the resource pool specified in the CloneSpec";
// Datastore.AllocateSpace "on all datastores where the clone is created" (the source's when
// the spec names none).
func cloneNeeds(ctx *simulator.Context, this types.ManagedObjectReference, req *types.CloneVM_Task) []need {
	src, _ := ctx.Map.Get(this).(*simulator.VirtualMachine)
	source := "VirtualMachine.Provisioning.Clone"
	if src != nil && src.Config != nil && src.Config.Template {
		source = "VirtualMachine.Provisioning.DeployTemplate"
	}
	needs := []need{{source, this}}
	if req.Spec.Customization != nil {
		needs = append(needs, need{"VirtualMachine.Provisioning.Customize", this})
	}
	folder := req.Folder
	if req.Spec.Location.Folder != nil {
		folder = *req.Spec.Location.Folder
	}
	needs = append(needs, need{"VirtualMachine.Inventory.CreateFromExisting", folder})
	if req.Spec.Location.Pool != nil {
		needs = append(needs, need{"Resource.AssignVMToPool", *req.Spec.Location.Pool})
	}
	return append(needs, datastoreNeeds(src, req.Spec.Location.Datastore)...)
}

// instantCloneNeeds: VirtualMachine.InstantClone_Task. "The privilege required for Instant
// Clone operation are: VirtualMachine.Provisioning.Clone, VirtualMachine.Interact.PowerOn,
// VirtualMachine.Inventory.CreateFromExisting, Datastore.AllocateSpace,
// Resource.AssignVMToPool". The reference does not say on which objects; these are checked
// where CloneVM_Task checks them: the source, the destination folder (the source's root VM
// folder when spec.location has none), the resource pool (the source's when unset) and the
// datastore (the source's when unset). PowerOn is checked on the source, whose folder the
// child's permissions come from when none is given.
func instantCloneNeeds(ctx *simulator.Context, this types.ManagedObjectReference, req *types.InstantClone_Task) []need {
	src, _ := ctx.Map.Get(this).(*simulator.VirtualMachine)
	loc := req.Spec.Location
	needs := []need{{"VirtualMachine.Provisioning.Clone", this}, {"VirtualMachine.Interact.PowerOn", this}}
	switch {
	case loc.Folder != nil:
		needs = append(needs, need{"VirtualMachine.Inventory.CreateFromExisting", *loc.Folder})
	case src != nil && src.Parent != nil:
		needs = append(needs, need{"VirtualMachine.Inventory.CreateFromExisting", *src.Parent})
	}
	switch {
	case loc.Pool != nil:
		needs = append(needs, need{"Resource.AssignVMToPool", *loc.Pool})
	case src != nil && src.ResourcePool != nil:
		needs = append(needs, need{"Resource.AssignVMToPool", *src.ResourcePool})
	}
	for _, n := range nicNetworks(loc.DeviceChange) {
		// VirtualDeviceConfigSpec.device of a network card: connecting it to a network needs
		// Network.Assign on that network (vSphere Security, "Network privileges").
		needs = append(needs, need{"Network.Assign", n})
	}
	return append(needs, datastoreNeeds(src, loc.Datastore)...)
}

// relocateNeeds: VirtualMachine.RelocateVM_Task. "Required privileges: Resource.ColdMigrate",
// and "Resource.HotMigrate if the virtual machine is powered on", Datastore.AllocateSpace "if
// the virtual machine or its disks are being relocated to a new datastore",
// Resource.AssignVMToPool "if the resource pool is changing".
func relocateNeeds(ctx *simulator.Context, this types.ManagedObjectReference, req *types.RelocateVM_Task) []need {
	needs := []need{{"Resource.ColdMigrate", this}}
	if vm, ok := ctx.Map.Get(this).(*simulator.VirtualMachine); ok && vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
		needs = append(needs, need{"Resource.HotMigrate", this})
	}
	if req.Spec.Datastore != nil {
		needs = append(needs, need{"Datastore.AllocateSpace", *req.Spec.Datastore})
	}
	if req.Spec.Pool != nil {
		needs = append(needs, need{"Resource.AssignVMToPool", *req.Spec.Pool})
	}
	return needs
}

// datastoreNeeds is Datastore.AllocateSpace on the datastore a clone is written to: the one
// asked for, else the source's.
func datastoreNeeds(src *simulator.VirtualMachine, asked *types.ManagedObjectReference) []need {
	if asked != nil {
		return []need{{"Datastore.AllocateSpace", *asked}}
	}
	if src == nil {
		return nil
	}
	out := make([]need, 0, len(src.Datastore))
	for _, ds := range src.Datastore {
		out = append(out, need{"Datastore.AllocateSpace", ds})
	}
	return out
}

func parentOf(ctx *simulator.Context, ref types.ManagedObjectReference) *types.ManagedObjectReference {
	e, ok := ctx.Map.Get(ref).(mo.Entity)
	if !ok {
		return nil
	}
	return e.Entity().Parent
}

// reconfigureNeeds: VirtualMachine.ReconfigVM_Task is "dynamic": each VirtualMachineConfigSpec
// property names its "Reconfigure privilege" (numCPUs: VirtualMachine.Config.CpuCount, whose
// ID is VirtualMachine.Config.CPUCount; memoryMB: VirtualMachine.Config.Memory). Only the
// properties the provider or the tests set are modelled; any other is refused as unknown.
func reconfigureNeeds(this types.ManagedObjectReference, spec types.VirtualMachineConfigSpec) ([]need, bool) {
	var needs []need
	if spec.NumCPUs != 0 || spec.NumCoresPerSocket != nil {
		needs = append(needs, need{"VirtualMachine.Config.CPUCount", this})
	}
	if spec.MemoryMB != 0 {
		needs = append(needs, need{"VirtualMachine.Config.Memory", this})
	}
	// vSphere Security, "Virtual Machine Configuration privileges": "Modify device settings"
	// (VirtualMachine.Config.EditDevice) for an edit of a device; "Virtual Machine
	// Interaction privileges": "Connect devices" (VirtualMachine.Interact.DeviceConnection) for
	// connecting or disconnecting a NIC. An edit of network cards alone is modelled.
	for _, change := range spec.DeviceChange {
		c := change.GetVirtualDeviceConfigSpec()
		if _, nic := c.Device.(types.BaseVirtualEthernetCard); !nic || c.Operation != types.VirtualDeviceConfigSpecOperationEdit || c.FileOperation != "" {
			return nil, false
		}
		needs = append(needs, need{"VirtualMachine.Config.EditDevice", this}, need{"VirtualMachine.Interact.DeviceConnection", this})
	}
	spec.NumCPUs, spec.NumCoresPerSocket, spec.MemoryMB, spec.DeviceChange = 0, nil, 0, nil
	if !reflect.ValueOf(spec).IsZero() {
		return nil, false
	}
	return needs, true
}
