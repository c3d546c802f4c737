package vsphere

// Privilege is one vCenter privilege the provider's role needs, and what the provider does
// with it. docs/index.md lists the same role (a test keeps the two equal).
type Privilege struct {
	ID  string
	For string
}

// Privileges is the role the provider needs to apply: create, resize, push, attach, detach and
// delete. Reads (plan, refresh, import, data sources) need none of them: System.Anonymous,
// System.View and System.Read, which vCenter puts in every role, are enough.
var Privileges = []Privilege{
	{"Folder.Create", "the four ClonePrep folders, each pool's folder, and the lock folders runs take turns with (Folder.CreateFolder)"},
	{"Folder.Delete", "a pool's folder when the pool is deleted, and a lock folder when its lock is released or taken over (Destroy_Task, on the folder and its parent)"},
	{"Folder.Rename", "a pool's folder when the pool's name changes (Rename_Task)"},
	{"Global.ManageCustomFields", "the provider's custom attribute definitions (instantclone.*), created on the first apply (AddCustomFieldDef)"},
	{"Global.SetCustomField", "the marks on internal VMs, clones and pool folders that say what the provider owns, and a lock's holder and expiry (SetField)"},
	{"VirtualMachine.Provisioning.Clone", "the template, replicas and parents (CloneVM_Task) and the instant clones (InstantClone_Task)"},
	{"VirtualMachine.Inventory.CreateFromExisting", "new VMs in the ClonePrep and pool folders (CloneVM_Task, InstantClone_Task)"},
	{"VirtualMachine.Inventory.Move", "internal VMs into their ClonePrep folder, and clones vCenter put elsewhere into their pool's folder (MoveIntoFolder_Task)"},
	{"VirtualMachine.Inventory.Delete", "clones and internal VMs no pool needs any more (Destroy_Task, on the VM and its folder)"},
	{"VirtualMachine.Interact.PowerOn", "parents, which clones fork from, and the instant clones themselves (PowerOnVM_Task, InstantClone_Task)"},
	{"VirtualMachine.Interact.PowerOff", "VMs before they are deleted (PowerOffVM_Task)"},
	{"VirtualMachine.Config.CPUCount", "the CPUs of an image's template, when the image sets num_cpus or cores_per_socket (ReconfigVM_Task)"},
	{"VirtualMachine.Config.Memory", "the memory of an image's template, when the image sets memory_mb (ReconfigVM_Task)"},
	{"VirtualMachine.Provisioning.Customize", "a pool's guest customization, when it has a customization block (CustomizeGuest_Task, StartGuestNetwork_Task)"},
	{"VirtualMachine.Config.EditDevice", "connecting a customized clone's network cards once its guest has its identity (ReconfigVM_Task)"},
	{"VirtualMachine.Interact.DeviceConnection", "the same: the cards start disconnected and are connected then (ReconfigVM_Task)"},
	{"Network.Assign", "the networks of a pool's network_ids, which its clones' NICs are put on (InstantClone_Task)"},
	{"VirtualMachine.State.CreateSnapshot", "the snapshot of each replica that parents are linked clones of (CreateSnapshot_Task)"},
	{"Resource.AssignVMToPool", "replicas, parents and clones in the pool's resource pool (CloneVM_Task, InstantClone_Task)"},
	{"Datastore.AllocateSpace", "the files of every VM the provider makes, on the pool's datastores (CloneVM_Task, InstantClone_Task)"},
}

// PrivilegeIDs lists the IDs of Privileges.
func PrivilegeIDs() []string {
	out := make([]string, 0, len(Privileges))
	for _, p := range Privileges {
		out = append(out, p.ID)
	}
	return out
}
