package engine

// Marks are what the engine writes on the VMs and folders it owns (custom attributes in
// vCenter, readable in the same retrieve as the rest of the object, so ownership costs no
// extra reads). They are how a refresh, an import or another run finds what the provider
// made: nothing is leaked that the marks do not lead back to.
type Marks map[string]string

// The marks.
const (
	MarkRole        = "instantclone.role"         // template | replica | parent | pool
	MarkImage       = "instantclone.image"        // the image an internal VM or clone belongs to
	MarkSpec        = "instantclone.spec"         // JSON: an image on its internal VMs, a pool on its folder
	MarkAttachments = "instantclone.attachments"  // datastores attached to a pool from outside its own resource
	MarkPushToken   = "instantclone.push-token"   // the push_image_token a clone was (re)created under
	MarkState       = "instantclone.state"        // "ready" once an internal VM is complete
	MarkClones      = "instantclone.clones"       // instant clones a parent was asked for so far
	MarkParent      = "instantclone.parent"       // the parent VM a clone forked from
	MarkReserved    = "instantclone.reserved"     // on a parent: who last reserved clones of it, and when (parents.go)
	MarkLockHolder  = "instantclone.lock-holder"  // on a lock folder: the run holding it (lease.go)
	MarkLockExpires = "instantclone.lock-expires" // on a lock folder: when it expires, in vCenter's clock
)

// MarkNames lists every mark, for the port to define in vCenter.
var MarkNames = []string{MarkRole, MarkImage, MarkSpec, MarkAttachments, MarkPushToken, MarkState, MarkClones, MarkParent, MarkReserved, MarkLockHolder, MarkLockExpires}

// CloneMarks are the marks a clone is made with (InstantCloneSpec.Marks): they are written in
// the clone's own config, in the call that makes it, rather than by a write after it.
var CloneMarks = []string{MarkImage, MarkParent, MarkPushToken}

// Roles of the objects the engine marks.
const (
	roleTemplate = "template"
	roleReplica  = "replica"
	roleParent   = "parent"
	rolePool     = "pool"
	stateReady   = "ready"
)
