package engine

// Every instant clone starts as a byte-for-byte fork of its parent: the same host name, the
// same network identity. The vSphere Web Services SDK programming guide ("Guest Customization
// of Instant Clone Virtual Machines", "Avoiding Network Identity Collisions") has the client
// hand each child its own identity in the InstantClone spec's extraConfig, for a script or
// agent in the guest to apply; Horizon's ClonePrep agent does the same. So every clone is
// made with its name, its pool and its image as guestinfo, and the pool's own guestinfo
// values may name the clone ({name}) and its number ({n}).

// The guestinfo keys every clone carries.
const (
	GuestInfoName  = "guestinfo.instantclone.name"  // the clone's name, to rename the guest to
	GuestInfoPool  = "guestinfo.instantclone.pool"  // its pool's name
	GuestInfoImage = "guestinfo.instantclone.image" // the image it forked from
)

// ReservedGuestInfoPrefix is the guestinfo namespace of the provider's own keys; a pool's
// guestinfo may not use it.
const ReservedGuestInfoPrefix = "instantclone."

// cloneIdentity is the extraConfig one clone is made with: the pool's guestinfo with {name}
// and {n} expanded for it, and the keys that tell the guest who it is.
func cloneIdentity(spec PoolSpec, imageID string, job cloneJob) map[string]string {
	out := make(map[string]string, len(spec.GuestInfo)+3)
	for k, v := range spec.GuestInfo {
		out["guestinfo."+k] = expandClone(v, job.Name, job.Index)
	}
	out[GuestInfoName] = job.Name
	out[GuestInfoPool] = spec.Name
	out[GuestInfoImage] = imageID
	return out
}
