package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Port is everything the engine asks of vCenter, in the engine's own terms: objects are
// named by their managed object IDs ("vm-44", "group-v12", "datastore-12", "host-21"), and
// every error that means "no such object" wraps ErrNotFound. internal/vsphere implements it
// on govmomi; internal/engine/fake implements it in memory for the engine's unit tests.
type Port interface {
	// Contents reads, in one round trip, the given folders and the VMs and folders directly
	// in them. A folder that does not exist fails the whole read with ErrNotFound.
	Contents(ctx context.Context, folderIDs ...string) ([]Folder, []VM, error)
	// Folders reads every VM folder of the datacenter with its marks, in a constant number
	// of round trips whatever the inventory's size.
	Folders(ctx context.Context) ([]Folder, error)
	// Folder reads one folder.
	Folder(ctx context.Context, id string) (*Folder, error)
	// FindFolder resolves a VM folder by inventory path, absolute ("/DC0/vm/pools") or
	// relative to the datacenter's VM folder ("pools"; "" is the VM folder itself). The
	// folder's Path is set to the absolute path; a NotFoundError names it too.
	FindFolder(ctx context.Context, path string) (*Folder, error)
	// CreateFolder returns parent's child folder called name, creating it if missing; parent
	// "" is the datacenter's VM folder. Two callers racing end up with the same folder.
	CreateFolder(ctx context.Context, parentID, name string) (string, error)
	RenameFolder(ctx context.Context, id, name string) error
	// DeleteFolder removes an empty folder; one already gone is fine.
	DeleteFolder(ctx context.Context, id string) error
	// NewFolder creates parent's child folder called name and fails with an *ExistsError
	// naming the folder already there: vCenter makes the creation atomic, so of two runs
	// racing exactly one gets the folder (the locks across runs rely on it, lease.go).
	NewFolder(ctx context.Context, parentID, name string) (string, error)
	// Now is vCenter's clock. Lock expiries are written in it, so runs on machines whose
	// clocks disagree still agree on when a lock expires.
	Now(ctx context.Context) (time.Time, error)

	// SourceVM finds the VM an image is published from, by inventory path, managed object ID or BIOS UUID, and reads
	// its snapshots.
	SourceVM(ctx context.Context, ref string) (*SourceVM, error)
	// Environment reads what placement needs, in one round trip: the hosts that run a
	// resource pool's VMs with their state and, for each datastore, the hosts that mount it.
	Environment(ctx context.Context, resourcePoolID string, datastoreIDs []string) (*Environment, error)
	// Observe is Contents and Environment in one round trip. When the resource pool or a
	// datastore is gone, the folders are read alone and the Environment is nil; a folder gone
	// fails the read with ErrNotFound.
	Observe(ctx context.Context, folderIDs []string, resourcePoolID string, datastoreIDs []string) ([]Folder, []VM, *Environment, error)

	// NICs lists a VM's network cards in device order, each with the network it is on.
	NICs(ctx context.Context, vmID string) ([]NIC, error)
	// Network reads a network (a standard network or a distributed port group) by ID.
	Network(ctx context.Context, id string) (*Network, error)

	// CloneVM makes a full or linked clone and returns its ID.
	CloneVM(ctx context.Context, s CloneSpec) (string, error)
	// Snapshot takes a snapshot of a VM's disks and returns its ID.
	Snapshot(ctx context.Context, vmID, name string) (string, error)
	// InstantClone forks a running parent and returns the child's ID.
	InstantClone(ctx context.Context, s InstantCloneSpec) (string, error)
	// Customize gives a running clone made with DisconnectNICs its own identity through
	// vSphere guest customization: it applies c in the guest, then connects the clone's
	// NICs and restarts its guest network. A clone it fails on stays disconnected.
	Customize(ctx context.Context, vmID string, c GuestCustomization) error
	// SetHardware gives a powered-off VM a compute profile (CPUs, cores per socket, memory).
	SetHardware(ctx context.Context, vmID string, h Hardware) error
	// PowerOn powers a VM on; one already on is fine.
	PowerOn(ctx context.Context, vmID string) error
	// RemoveVM deletes a VM, powering it off first when poweredOn (or when it turns out to
	// be running); one already gone is fine.
	RemoveVM(ctx context.Context, vmID string, poweredOn bool) error
	MoveIntoFolder(ctx context.Context, folderID string, vmIDs ...string) error
	// SetMarks writes marks on a VM or folder; an empty value clears one.
	SetMarks(ctx context.Context, obj Object, marks Marks) error
}

// VM is a virtual machine as the engine sees it.
type VM struct {
	ID         string
	Name       string
	Folder     string   // the folder it is in
	Datastore  string   // the datastore that holds its files (config.files.vmPathName)
	Datastores []string // every datastore it uses, a mounted ISO's and a swap file's too
	Host       string
	PoweredOn  bool
	Frozen     bool // runtime.instantCloneFrozen: its guest froze itself, ready to fork
	Marks      Marks
}

// Folder is a VM folder.
type Folder struct {
	ID     string
	Name   string
	Parent string
	Path   string // absolute inventory path; set by FindFolder only
	Marks  Marks
}

// ObjectKind is the kind of object marks are written on.
type ObjectKind string

// The kinds of object the engine marks.
const (
	KindVM     ObjectKind = "vm"
	KindFolder ObjectKind = "folder"
)

// Object names a VM or folder.
type Object struct {
	Kind ObjectKind
	ID   string
}

// VMObject names a VM to mark.
func VMObject(id string) Object { return Object{KindVM, id} }

// FolderObject names a folder to mark.
func FolderObject(id string) Object { return Object{KindFolder, id} }

// Snapshot is one snapshot of a source VM.
type Snapshot struct {
	ID, Name string
}

// SourceVM is a VM an image can be published from.
type SourceVM struct {
	ID        string
	Name      string
	Current   *Snapshot
	Snapshots []Snapshot
}

// Environment is where a pool's VMs may run.
type Environment struct {
	// Hosts run the resource pool's VMs, sorted by ID.
	Hosts []string
	// Mounts lists, for each datastore asked about, the hosts that mount it.
	Mounts map[string][]string
	// Unusable says, of each host that can take no VM now, why: "in maintenance mode",
	// "entering maintenance mode", "disconnected", "not responding".
	Unusable map[string]string
	// Stores holds the state of each datastore asked about.
	Stores map[string]DatastoreState
}

// DatastoreState is what vCenter says of a datastore's room and availability.
type DatastoreState struct {
	Accessible     bool
	Maintenance    string // "", "enteringMaintenance" or "inMaintenance"
	Capacity, Free int64  // bytes
}

// CloneSpec says where a clone lands.
type CloneSpec struct {
	Source     string // VM ID
	SnapshotID string // optional: clone from this snapshot
	Linked     bool   // a linked clone on SnapshotID's disks instead of a full copy
	Folder     string
	Name       string
	Datastore  string
	Host       string
	Pool       string // resource pool ID; empty: the source's
	PowerOn    bool
}

// InstantCloneSpec says where an instant clone should land and what extraConfig it gets. It
// has no host: an instant clone runs on its parent's host. vCenter may also put it elsewhere
// than asked (the vSphere 8 SDK guide: "The location property of InstantCloneSpec is
// ignored"), so the engine checks where each clone is.
type InstantCloneSpec struct {
	Parent      string // running parent VM ID
	Name        string
	Folder      string
	Datastore   string
	Pool        string
	ExtraConfig map[string]string
	// Networks puts the child's NICs, in order, on these networks (the spec's device edits of
	// its network cards); empty keeps the parent's.
	Networks []string
	// DisconnectNICs makes the child resume with every NIC disconnected, for Customize to
	// connect once its guest has its own identity.
	DisconnectNICs bool
	// Marks are made with the child, in its own config, so that no write follows the clone.
	// Reads find them among the VM's marks.
	Marks Marks
}

// NIC is one network card of a VM.
type NIC struct {
	Label   string // "Network adapter 1"
	Network string // the network's ID
}

// Network is a standard network or a distributed port group.
type Network struct {
	ID, Name string
}

// ErrNotFound means an object does not exist in vCenter; errors that say so wrap it.
var ErrNotFound = errors.New("not found")

// NotFoundError names the object that was looked for.
type NotFoundError struct {
	Kind, Name string
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %q not found", e.Kind, e.Name) }

// Unwrap lets errors.Is(err, ErrNotFound) match.
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// ErrExists means an object of that name is already there; errors that say so wrap it.
var ErrExists = errors.New("already exists")

// ExistsError is vCenter's DuplicateName: the name is taken in that folder, by ID.
type ExistsError struct {
	Name string
	ID   string // the object holding the name, when vCenter says
	Err  error
}

func (e *ExistsError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("the name %q already exists", e.Name)
}

// Unwrap lets errors.Is(err, ErrExists) match, and keeps vCenter's fault reachable.
func (e *ExistsError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrExists}
	}
	return []error{ErrExists, e.Err}
}
