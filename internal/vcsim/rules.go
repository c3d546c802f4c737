package vcsim

import (
	"strings"
	"unicode/utf8"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// enforceVCenterRules makes r refuse, with vCenter's faults, what vCenter refuses although
// govmomi's simulator takes it, for the calls the provider makes; and stores entity names the
// way vCenter does. Each rule cites the vSphere API reference (the comments of govmomi's
// vim25/types carry it). InstantClone_Task's own rules are in instantclone.go.
func enforceVCenterRules(r *simulator.Registry, refused func(string, types.BaseMethodFault)) {
	next := r.Handler
	r.Handler = func(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
		if fault := checkRequest(ctx, m); fault != nil {
			refused(m.Name, fault)
			return nil, fault
		}
		if next != nil {
			return next(ctx, m)
		}
		return nil, nil
	}
}

// checkRequest applies the rules to one request, escaping the names it carries in place.
func checkRequest(ctx *simulator.Context, m *simulator.Method) types.BaseMethodFault {
	switch req := m.Body.(type) {
	case *types.CreateFolder:
		return entityName(&req.Name, simulatorEscapes)
	case *types.Rename_Task:
		return entityName(&req.NewName, storedAsGiven)
	case *types.CloneVM_Task:
		if fault := entityName(&req.Name, simulatorEscapes); fault != nil {
			return fault
		}
		if fault := cloneLocation(ctx, req); fault != nil {
			return fault
		}
		inheritExtraConfig(ctx, req)
	case *types.InstantClone_Task:
		// The child is made by the simulator's clone, which escapes its name.
		return entityName(&req.Spec.Name, simulatorEscapes)
	case *types.MoveIntoFolder_Task:
		return nameFreeIn(ctx, req.This, req.List)
	case *types.SetField:
		// "A ManagedObjectNotFound exception is thrown when a request refers to a managed
		// object that no longer exists or has never existed" (vim25/types); govmomi's
		// simulator dereferences the missing entity and fails with a panic's SystemError.
		if ctx.Map.Get(req.Entity) == nil {
			return &types.ManagedObjectNotFound{Obj: req.Entity}
		}
	}
	return nil
}

// How the simulator's own method stores the name it is given.
const (
	// Folder.CreateFolder and VM creation escape "%", "/" and "" themselves, every "%"
	// included: they are handed the name with vCenter's escapes undone, and so store what
	// vCenter stores.
	simulatorEscapes = true
	// Rename_Task stores the name as given: it is handed the escaped name.
	storedAsGiven = false
)

// maxEntityName bounds entity names: "An entity name must be a non-empty string of less than
// 80 characters" (CreateFolderRequestType.name, CloneVMRequestType.name, RenameRequestType).
const maxEntityName = 80

// entityName escapes name as vCenter stores it and refuses it when vCenter would.
//
// CreateFolderRequestType.name: "The slash (/), backslash (\) and percent (%) will be escaped
// using the URL syntax. For example, %2F. Any percent (%) character used in this parameter
// must be escaped, unless it is used to start an escape sequence." vCenter stores and
// returns the escaped form (%2f, %5c, %25). The length is judged on the stored name, which
// is at least as strict as vCenter.
func entityName(name *string, escapedBySimulator bool) types.BaseMethodFault {
	escaped := EscapeName(*name)
	if escaped == "" || utf8.RuneCountInString(escaped) >= maxEntityName {
		return &types.InvalidName{Name: *name}
	}
	if escapedBySimulator {
		*name = unescapeSpecial(escaped)
	} else {
		*name = escaped
	}
	return nil
}

// unescapeSpecial undoes the escapes of "/", "" and "%" (and only those).
func unescapeSpecial(s string) string {
	return strings.NewReplacer("%2f", "/", "%2F", "/", "%5c", `\`, "%5C", `\`, "%25", "%").Replace(s)
}

// EscapeName is an entity name as vCenter stores it: "/", "\" and a "%" that does not start an
// escape sequence are URL-escaped, in lower case as vCenter writes them.
func EscapeName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '/':
			b.WriteString("%2f")
		case c == '\\':
			b.WriteString("%5c")
		case c == '%' && !startsEscape(name[i:]):
			b.WriteString("%25")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// startsEscape reports whether s begins with an escape sequence: "%" and two hex digits.
func startsEscape(s string) bool {
	return len(s) >= 3 && isHex(s[1]) && isHex(s[2])
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// cloneLocation checks where a full clone is asked to land.
//
// VirtualMachineRelocateSpec.host: "The target host for the virtual machine", which must be
// "a host that is a member of the ComputeResource to which this resource pool belongs"
// (RegisterVMRequestType.host says the same of a VM's host and pool); a host outside it is
// refused with InvalidArgument. A host that does not mount the datastore cannot hold the
// clone: vCenter refuses it with DatastoreNotWritableOnHost (an InvalidDatastore).
func cloneLocation(ctx *simulator.Context, req *types.CloneVM_Task) types.BaseMethodFault {
	loc := req.Spec.Location
	if loc.Host == nil {
		return nil
	}
	src, ok := ctx.Map.Get(req.This).(*simulator.VirtualMachine)
	if !ok {
		return nil // the simulator reports a missing source itself
	}
	host, fault := lookup[*simulator.HostSystem](ctx, *loc.Host, "spec.location.host")
	if fault != nil {
		return fault
	}
	poolRef := src.ResourcePool
	if loc.Pool != nil {
		poolRef = loc.Pool
	}
	if poolRef != nil {
		pool, fault := lookup[*simulator.ResourcePool](ctx, *poolRef, "spec.location.pool")
		if fault != nil {
			return fault
		}
		if host.Parent == nil || *host.Parent != pool.Owner {
			return &types.InvalidArgument{InvalidProperty: "spec.location.host"}
		}
	}
	ds := sourceDatastore(ctx, src)
	if loc.Datastore != nil {
		ds = loc.Datastore
	}
	if ds != nil && !hostMounts(host, *ds) {
		return datastoreNotOnHost(ctx, *ds, host.Self)
	}
	return nil
}

func hostMounts(host *simulator.HostSystem, ds types.ManagedObjectReference) bool {
	for _, d := range host.Datastore {
		if d == ds {
			return true
		}
	}
	return false
}

// nameFreeIn refuses to move an entity into a folder holding another of the same name: the
// API reference of Folder.MoveIntoFolder_Task lists DuplicateName, "thrown if this folder
// already contains an object with the specified name". govmomi's simulator moves it anyway,
// leaving two VMs of one name in a folder.
func nameFreeIn(ctx *simulator.Context, folderRef types.ManagedObjectReference, list []types.ManagedObjectReference) types.BaseMethodFault {
	f, ok := ctx.Map.Get(folderRef).(*simulator.Folder)
	if !ok {
		return nil
	}
	for _, ref := range list {
		e, ok := ctx.Map.Get(ref).(mo.Entity)
		if !ok {
			continue
		}
		name := e.Entity().Name
		if other := ctx.Map.FindByName(name, f.ChildEntity); other != nil && other.Reference() != ref {
			return &types.DuplicateName{Name: name, Object: other.Reference()}
		}
	}
	return nil
}

// inheritExtraConfig gives a clone its source's extraConfig, as vCenter does: CloneVM_Task
// "creates a clone of this virtual machine" (or of the snapshot's state, spec.snapshot), the
// spec's config listing only "changes to the virtual hardware" and settings on top; guestinfo
// and every other extraConfig key travel with the copy. govmomi's simulator gives the clone
// none of them.
func inheritExtraConfig(ctx *simulator.Context, req *types.CloneVM_Task) {
	vm, ok := ctx.Map.Get(req.This).(*simulator.VirtualMachine)
	if !ok || vm.Config == nil {
		return
	}
	source := vm.Config.ExtraConfig
	if req.Spec.Snapshot != nil {
		if snap, ok := ctx.Map.Get(*req.Spec.Snapshot).(*simulator.VirtualMachineSnapshot); ok {
			source = snap.Config.ExtraConfig
		}
	}
	if req.Spec.Config == nil {
		req.Spec.Config = &types.VirtualMachineConfigSpec{}
	}
	req.Spec.Config.ExtraConfig = mergeExtraConfig(source, req.Spec.Config.ExtraConfig)
}
