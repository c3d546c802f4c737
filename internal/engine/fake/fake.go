// Package fake is an in-memory vCenter behind the engine's port, for the engine's unit tests:
// fast, deterministic, and able to fail any call on demand. It keeps vCenter's rules that the
// engine relies on (names unique per folder, instant clones only of running sources and on
// their source's host, not-found errors for missing objects), and nothing more; the
// simulator-backed tests cover the real API.
package fake

import (
	"context"
	"fmt"
	"maps"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// The fixed inventory every fake starts with.
const (
	Datacenter   = "/DC0"
	RootFolder   = "group-v1"
	ResourcePool = "resgroup-1"
	GoldenVM     = "vm-1"
	GoldenPath   = "/DC0/vm/golden"
	Snapshot     = "snapshot-1"
	SnapshotName = "base"
)

// Options size the inventory.
type Options struct {
	Hosts      int // in the resource pool's cluster; default 2
	Datastores int // each mounted on every host; default 4
	// InstantCloneIgnoresLocation puts instant clones in the datacenter's VM folder on their
	// parent's datastore whatever the spec asks, as the vSphere 8 SDK guide allows.
	InstantCloneIgnoresLocation bool
}

type folder struct {
	engine.Folder
}

// VCenter is the in-memory inventory. Its methods are safe for concurrent use.
type VCenter struct {
	mu      sync.Mutex
	next    int
	folders map[string]*folder
	vms     map[string]*engine.VM
	hosts   []string
	mounts  map[string][]string
	calls   map[string]int
	faults  []*Fault
	opts    Options
	// snapshots of the VMs other than the golden one, by VM
	snapshots map[string][]engine.Snapshot
	// instant clones made from each source: vCenter refuses the 256th of an unfrozen one
	forks map[string]int
	skew  time.Duration // vCenter's clock minus this machine's
	// compute profiles given by SetHardware, by VM
	hardware map[string]engine.Hardware
	// the network of each NIC, by VM; a VM not listed has one NIC on Network
	nics map[string][]string
	// instant clones made with their NICs disconnected, and what Customize gave them
	disconnected map[string]bool
	customized   map[string]engine.GuestCustomization
	// hosts that take no VM, and why; datastores not in their normal state
	unusable map[string]string
	stores   map[string]engine.DatastoreState
}

// The networks every fake has: a standard network, which VMs start on, and a port group.
const (
	Network   = "network-1"
	PortGroup = "dvportgroup-1"
)

var networkNames = map[string]string{Network: "VM Network", PortGroup: "DVPG0"}

// MaxForks is how many instant clones an unfrozen source makes before vCenter refuses more
// (KB 67186: its delta chain reaches 255).
const MaxForks = 255

var _ engine.Port = (*VCenter)(nil)

// New makes an inventory of one datacenter, one cluster with its resource pool, hosts,
// datastores, and the golden VM with one snapshot.
func New(o Options) *VCenter {
	if o.Hosts == 0 {
		o.Hosts = 2
	}
	if o.Datastores == 0 {
		o.Datastores = 4
	}
	v := &VCenter{
		next:    100,
		folders: map[string]*folder{RootFolder: {engine.Folder{ID: RootFolder, Name: "vm", Marks: engine.Marks{}}}},
		vms:     map[string]*engine.VM{},
		mounts:  map[string][]string{},
		calls:   map[string]int{},
		opts:    o,

		snapshots: map[string][]engine.Snapshot{},
		forks:     map[string]int{},
		hardware:  map[string]engine.Hardware{},
		nics:      map[string][]string{},

		disconnected: map[string]bool{},
		customized:   map[string]engine.GuestCustomization{},
		unusable:     map[string]string{},
		stores:       map[string]engine.DatastoreState{},
	}
	for i := 1; i <= o.Hosts; i++ {
		v.hosts = append(v.hosts, fmt.Sprintf("host-%d", i))
	}
	for i := 1; i <= o.Datastores; i++ {
		v.mounts[fmt.Sprintf("datastore-%d", i)] = append([]string{}, v.hosts...)
	}
	v.vms[GoldenVM] = &engine.VM{ID: GoldenVM, Name: "golden", Folder: RootFolder, Datastore: "datastore-1", Datastores: []string{"datastore-1"}, Host: v.hosts[0], Marks: engine.Marks{}}
	return v
}

// Hosts lists the hosts of the cluster, sorted.
func (v *VCenter) Hosts() []string { return append([]string{}, v.hosts...) }

// Datastores lists the datastores, sorted by number.
func (v *VCenter) Datastores() []string {
	out := make([]string, 0, len(v.mounts))
	for i := 1; i <= len(v.mounts); i++ {
		out = append(out, fmt.Sprintf("datastore-%d", i))
	}
	return out
}

// Fault makes calls of Method fail with Err: the first Skip calls pass, then Count calls fail
// (0 means every one). Match, when set, picks the calls by their spec or ID.
type Fault struct {
	Method string
	Skip   int
	Count  int
	Err    error
	Match  func(arg any) bool
	seen   int
	Fired  int
}

// Inject adds a fault rule and returns it, so a test can read how often it fired.
func (v *VCenter) Inject(f *Fault) *Fault {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.faults = append(v.faults, f)
	return f
}

// Calls counts the calls of each method made so far.
func (v *VCenter) Calls(method string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.calls[method]
}

// call counts a call and returns the fault it must fail with, if any; v.mu is held.
func (v *VCenter) call(method string, arg any) error {
	v.calls[method]++
	for _, f := range v.faults {
		if f.Method != method || (f.Match != nil && !f.Match(arg)) {
			continue
		}
		f.seen++
		if f.seen > f.Skip && (f.Count == 0 || f.Fired < f.Count) {
			f.Fired++
			return f.Err
		}
	}
	return nil
}

func (v *VCenter) id(prefix string) string {
	v.next++
	return fmt.Sprintf("%s-%d", prefix, v.next)
}

func notFound(kind, name string) error { return &engine.NotFoundError{Kind: kind, Name: name} }

func copyVM(vm *engine.VM) engine.VM {
	out := *vm
	out.Datastores = append([]string{}, vm.Datastores...)
	out.Marks = engine.Marks{}
	for k, val := range vm.Marks {
		out.Marks[k] = val
	}
	return out
}

func copyFolder(f *folder) engine.Folder {
	out := f.Folder
	out.Marks = engine.Marks{}
	for k, val := range f.Marks {
		out.Marks[k] = val
	}
	return out
}

// Contents implements engine.Port.
func (v *VCenter) Contents(_ context.Context, ids ...string) ([]engine.Folder, []engine.VM, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("Contents", ids); err != nil {
		return nil, nil, err
	}
	return v.contents(ids)
}

// Observe implements engine.Port: Contents and Environment in one call.
func (v *VCenter) Observe(_ context.Context, ids []string, pool string, datastores []string) ([]engine.Folder, []engine.VM, *engine.Environment, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("Observe", ids); err != nil {
		return nil, nil, nil, err
	}
	fs, vms, err := v.contents(ids)
	if err != nil {
		return nil, nil, nil, err
	}
	env, err := v.environment(pool, datastores)
	if err != nil {
		env = nil // as vCenter: the folders are read alone
	}
	return fs, vms, env, nil
}

func (v *VCenter) contents(ids []string) ([]engine.Folder, []engine.VM, error) {
	var fs []engine.Folder
	var vms []engine.VM
	for _, id := range ids {
		f, ok := v.folders[id]
		if !ok {
			return nil, nil, notFound("folder", strings.Join(ids, ", "))
		}
		fs = append(fs, copyFolder(f))
		for _, child := range sortedFolders(v.folders) {
			if child.Parent == id {
				fs = append(fs, copyFolder(child))
			}
		}
		for _, vm := range sortedVMs(v.vms) {
			if vm.Folder == id {
				vms = append(vms, copyVM(vm))
			}
		}
	}
	return fs, vms, nil
}

// Folders implements engine.Port.
func (v *VCenter) Folders(context.Context) ([]engine.Folder, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("Folders", nil); err != nil {
		return nil, err
	}
	var out []engine.Folder
	for _, f := range sortedFolders(v.folders) {
		out = append(out, copyFolder(f))
	}
	return out, nil
}

// Folder implements engine.Port.
func (v *VCenter) Folder(_ context.Context, id string) (*engine.Folder, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("Folder", id); err != nil {
		return nil, err
	}
	f, ok := v.folders[id]
	if !ok {
		return nil, notFound("folder", id)
	}
	out := copyFolder(f)
	return &out, nil
}

// FindFolder implements engine.Port.
func (v *VCenter) FindFolder(_ context.Context, p string) (*engine.Folder, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("FindFolder", p); err != nil {
		return nil, err
	}
	abs := p
	if !strings.HasPrefix(p, "/") {
		abs = path.Join(Datacenter, "vm", p)
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(abs, path.Join(Datacenter, "vm")), "/")
	cur := v.folders[RootFolder]
	if rel != "" {
		for _, name := range strings.Split(rel, "/") {
			cur = v.child(cur.ID, name)
			if cur == nil {
				return nil, notFound("folder", abs)
			}
		}
	}
	out := copyFolder(cur)
	out.Path = abs
	return &out, nil
}

func (v *VCenter) child(parent, name string) *folder {
	for _, f := range sortedFolders(v.folders) {
		if f.Parent == parent && f.Name == name {
			return f
		}
	}
	return nil
}

// CreateFolder implements engine.Port.
func (v *VCenter) CreateFolder(_ context.Context, parent, name string) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("CreateFolder", name); err != nil {
		return "", err
	}
	if parent == "" {
		parent = RootFolder
	}
	if _, ok := v.folders[parent]; !ok {
		return "", notFound("folder", parent)
	}
	if f := v.child(parent, name); f != nil {
		return f.ID, nil
	}
	id := v.id("group-v")
	v.folders[id] = &folder{engine.Folder{ID: id, Name: name, Parent: parent, Marks: engine.Marks{}}}
	return id, nil
}

// NewFolder implements engine.Port: a name taken fails with an ExistsError naming the folder.
func (v *VCenter) NewFolder(_ context.Context, parent, name string) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("NewFolder", name); err != nil {
		return "", err
	}
	if _, ok := v.folders[parent]; !ok {
		return "", notFound("folder", parent)
	}
	if f := v.child(parent, name); f != nil {
		return "", &engine.ExistsError{Name: name, ID: f.ID}
	}
	id := v.id("group-v")
	v.folders[id] = &folder{engine.Folder{ID: id, Name: name, Parent: parent, Marks: engine.Marks{}}}
	return id, nil
}

// Now implements engine.Port: this machine's clock, moved by Skew.
func (v *VCenter) Now(context.Context) (time.Time, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("Now", nil); err != nil {
		return time.Time{}, err
	}
	return time.Now().Add(v.skew), nil
}

// Skew sets how far vCenter's clock is ahead of this machine's.
func (v *VCenter) Skew(d time.Duration) {
	v.mu.Lock()
	v.skew = d
	v.mu.Unlock()
}

// RenameFolder implements engine.Port.
func (v *VCenter) RenameFolder(_ context.Context, id, name string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("RenameFolder", id); err != nil {
		return err
	}
	f, ok := v.folders[id]
	if !ok {
		return notFound("folder", id)
	}
	f.Name = name
	return nil
}

// DeleteFolder implements engine.Port: like vCenter's Destroy_Task, it removes what the
// folder holds too.
func (v *VCenter) DeleteFolder(_ context.Context, id string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("DeleteFolder", id); err != nil {
		return err
	}
	v.deleteFolderLocked(id)
	return nil
}

func (v *VCenter) deleteFolderLocked(id string) {
	for _, f := range sortedFolders(v.folders) {
		if f.Parent == id {
			v.deleteFolderLocked(f.ID)
		}
	}
	for vid, vm := range v.vms {
		if vm.Folder == id {
			delete(v.vms, vid)
		}
	}
	delete(v.folders, id)
}

// SourceVM implements engine.Port.
func (v *VCenter) SourceVM(_ context.Context, ref string) (*engine.SourceVM, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("SourceVM", ref); err != nil {
		return nil, err
	}
	if ref == GoldenVM || ref == GoldenPath || ref == "golden" {
		snap := engine.Snapshot{ID: Snapshot, Name: SnapshotName}
		return &engine.SourceVM{ID: GoldenVM, Name: "golden", Current: &snap, Snapshots: []engine.Snapshot{snap}}, nil
	}
	vm, ok := v.vms[ref]
	if !ok {
		return nil, notFound("virtual machine", ref)
	}
	src := &engine.SourceVM{ID: vm.ID, Name: vm.Name, Snapshots: append([]engine.Snapshot{}, v.snapshots[ref]...)}
	if n := len(src.Snapshots); n > 0 {
		cur := src.Snapshots[n-1]
		src.Current = &cur
	}
	return src, nil
}

// Environment implements engine.Port.
func (v *VCenter) Environment(_ context.Context, pool string, datastores []string) (*engine.Environment, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("Environment", pool); err != nil {
		return nil, err
	}
	return v.environment(pool, datastores)
}

func (v *VCenter) environment(pool string, datastores []string) (*engine.Environment, error) {
	if pool != ResourcePool {
		return nil, notFound("resource pool", pool)
	}
	env := &engine.Environment{Hosts: append([]string{}, v.hosts...), Mounts: map[string][]string{}, Unusable: maps.Clone(v.unusable), Stores: map[string]engine.DatastoreState{}}
	for _, ds := range datastores {
		m, ok := v.mounts[ds]
		if !ok {
			return nil, notFound("datastore", ds)
		}
		env.Mounts[ds] = append([]string{}, m...)
		env.Stores[ds] = v.store(ds)
	}
	return env, nil
}

// SetHostState makes a host unusable, with vCenter's words for why ("in maintenance mode",
// "entering maintenance mode", "disconnected"), or usable again with "".
func (v *VCenter) SetHostState(host, state string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if state == "" {
		delete(v.unusable, host)
		return
	}
	v.unusable[host] = state
}

// AddHost adds a host to the cluster, mounting every datastore.
func (v *VCenter) AddHost(host string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.hosts = append(v.hosts, host)
	for ds := range v.mounts {
		v.mounts[ds] = append(v.mounts[ds], host)
	}
}

// DatastoreCapacity is the size of every fake datastore.
const DatastoreCapacity = 1 << 40

// SetDatastoreState gives a datastore a state of vCenter's (maintenance mode, inaccessible,
// free space); the zero state is back to normal and empty.
func (v *VCenter) SetDatastoreState(ds string, st engine.DatastoreState) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if st == (engine.DatastoreState{}) {
		delete(v.stores, ds)
		return
	}
	v.stores[ds] = st
}

// store is a datastore's state; v.mu is held.
func (v *VCenter) store(ds string) engine.DatastoreState {
	if st, ok := v.stores[ds]; ok {
		return st
	}
	return engine.DatastoreState{Accessible: true, Capacity: DatastoreCapacity, Free: DatastoreCapacity}
}

// refusesWork is what vCenter says of a power-on or a clone on a host that cannot take it.
func (v *VCenter) refusesWork(host string) error {
	if state, out := v.unusable[host]; out {
		return fmt.Errorf("InvalidState: host %s is %s", host, state)
	}
	return nil
}

// place checks a new VM's name and folder and stores it; v.mu is held.
func (v *VCenter) place(name, folderID, datastore, host string, poweredOn bool) (string, error) {
	if _, ok := v.folders[folderID]; !ok {
		return "", notFound("folder", folderID)
	}
	if err := v.refusesWork(host); err != nil {
		return "", err
	}
	if st := v.store(datastore); datastore != "" && (!st.Accessible || st.Maintenance != "") {
		return "", fmt.Errorf("InvalidDatastoreState: datastore %s cannot take VMs (%+v)", datastore, st)
	}
	for _, vm := range v.vms {
		if vm.Folder == folderID && vm.Name == name {
			return "", &engine.ExistsError{Name: name, ID: vm.ID}
		}
	}
	id := v.id("vm")
	v.vms[id] = &engine.VM{ID: id, Name: name, Folder: folderID, Datastore: datastore, Datastores: []string{datastore}, Host: host, PoweredOn: poweredOn, Marks: engine.Marks{}}
	return id, nil
}

// CloneVM implements engine.Port.
func (v *VCenter) CloneVM(_ context.Context, s engine.CloneSpec) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("CloneVM", s); err != nil {
		return "", err
	}
	src, ok := v.vms[s.Source]
	if !ok {
		return "", notFound("virtual machine", s.Source)
	}
	if s.Linked && !v.hasSnapshot(s.Source, s.SnapshotID) {
		return "", fmt.Errorf("InvalidArgument: a linked clone of %s needs one of its snapshots, not %q", s.Source, s.SnapshotID)
	}
	if s.Pool != "" && s.Pool != ResourcePool {
		return "", notFound("resource pool", s.Pool)
	}
	ds, host := s.Datastore, s.Host
	if ds == "" {
		ds = src.Datastore
	}
	if host == "" {
		host = src.Host
	}
	return v.place(s.Name, s.Folder, ds, host, s.PowerOn)
}

func (v *VCenter) hasSnapshot(vmID, snapshotID string) bool {
	if vmID == GoldenVM && snapshotID == Snapshot {
		return true
	}
	for _, s := range v.snapshots[vmID] {
		if s.ID == snapshotID {
			return true
		}
	}
	return false
}

// InstantClone implements engine.Port: the child runs on its parent's host, as on vCenter.
func (v *VCenter) InstantClone(_ context.Context, s engine.InstantCloneSpec) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("InstantClone", s); err != nil {
		return "", err
	}
	parent, ok := v.vms[s.Parent]
	if !ok {
		return "", notFound("virtual machine", s.Parent)
	}
	if !parent.PoweredOn {
		return "", fmt.Errorf("InvalidPowerState: instant clone source %s is powered off", s.Parent)
	}
	if v.forks[s.Parent] >= MaxForks {
		return "", fmt.Errorf("TooManySnapshotLevels: instant clone source %s has %d delta disks", s.Parent, v.forks[s.Parent])
	}
	nics := append([]string{}, v.nicsOf(s.Parent)...)
	if len(s.Networks) > len(nics) {
		return "", fmt.Errorf("InvalidArgument: %d networks for the %d NICs of %s", len(s.Networks), len(nics), s.Parent)
	}
	for i, n := range s.Networks {
		if _, ok := networkNames[n]; !ok {
			return "", fmt.Errorf("InvalidDeviceBacking: no network %s", n)
		}
		nics[i] = n
	}
	v.forks[s.Parent]++
	folder, ds := s.Folder, s.Datastore
	if v.opts.InstantCloneIgnoresLocation {
		folder, ds = RootFolder, parent.Datastore
	}
	id, err := v.place(s.Name, folder, ds, parent.Host, true)
	if err == nil {
		v.nics[id] = nics
		v.disconnected[id] = s.DisconnectNICs
		for k, val := range s.Marks {
			v.vms[id].Marks[k] = val
		}
	}
	return id, err
}

// Customize implements engine.Port: like vCenter, it needs the clone running and a guest
// login, and connects the NICs only once the guest has its identity.
func (v *VCenter) Customize(_ context.Context, id string, c engine.GuestCustomization) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("Customize", id); err != nil {
		return err
	}
	vm, ok := v.vms[id]
	switch {
	case !ok:
		return notFound("virtual machine", id)
	case !vm.PoweredOn:
		return fmt.Errorf("InvalidPowerState: %s is not powered on", id)
	case c.User == "" || c.Password == "":
		return fmt.Errorf("InvalidGuestLogin: no guest login for %s", id)
	case len(c.NICs) > len(v.nicsOf(id)):
		return fmt.Errorf("NicSettingMismatch: %d NIC settings for the %d NICs of %s", len(c.NICs), len(v.nicsOf(id)), id)
	}
	v.customized[id] = c
	v.disconnected[id] = false
	return nil
}

// Customized is what Customize gave a VM, and whether its NICs are connected.
func (v *VCenter) Customized(id string) (engine.GuestCustomization, bool, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c, ok := v.customized[id]
	return c, ok, !v.disconnected[id]
}

// NICs implements engine.Port.
func (v *VCenter) NICs(_ context.Context, id string) ([]engine.NIC, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("NICs", id); err != nil {
		return nil, err
	}
	if _, ok := v.vms[id]; !ok {
		return nil, notFound("virtual machine", id)
	}
	var out []engine.NIC
	for i, n := range v.nicsOf(id) {
		out = append(out, engine.NIC{Label: fmt.Sprintf("Network adapter %d", i+1), Network: n})
	}
	return out, nil
}

func (v *VCenter) nicsOf(id string) []string {
	if n, ok := v.nics[id]; ok {
		return n
	}
	return []string{Network}
}

// Network implements engine.Port.
func (v *VCenter) Network(_ context.Context, id string) (*engine.Network, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("Network", id); err != nil {
		return nil, err
	}
	name, ok := networkNames[id]
	if !ok {
		return nil, notFound("network", id)
	}
	return &engine.Network{ID: id, Name: name}, nil
}

// SetHardware implements engine.Port: the profile is kept for Hardware to report.
func (v *VCenter) SetHardware(_ context.Context, id string, h engine.Hardware) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("SetHardware", id); err != nil {
		return err
	}
	vm, ok := v.vms[id]
	if !ok {
		return notFound("virtual machine", id)
	}
	if vm.PoweredOn {
		return fmt.Errorf("InvalidPowerState: %s must be powered off to change its CPUs and memory", id)
	}
	v.hardware[id] = h
	return nil
}

// Hardware is the compute profile SetHardware gave a VM.
func (v *VCenter) Hardware(id string) engine.Hardware {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.hardware[id]
}

// PowerOn implements engine.Port.
func (v *VCenter) PowerOn(_ context.Context, id string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("PowerOn", id); err != nil {
		return err
	}
	vm, ok := v.vms[id]
	if !ok {
		return notFound("virtual machine", id)
	}
	if err := v.refusesWork(vm.Host); err != nil && !vm.PoweredOn {
		return err
	}
	vm.PoweredOn = true
	return nil
}

// RemoveVM implements engine.Port.
func (v *VCenter) RemoveVM(_ context.Context, id string, _ bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("RemoveVM", id); err != nil {
		return err
	}
	delete(v.vms, id)
	return nil
}

// MoveIntoFolder implements engine.Port.
func (v *VCenter) MoveIntoFolder(_ context.Context, folderID string, ids ...string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("MoveIntoFolder", folderID); err != nil {
		return err
	}
	if _, ok := v.folders[folderID]; !ok {
		return notFound("folder", folderID)
	}
	for _, id := range ids {
		vm, ok := v.vms[id]
		if !ok {
			return notFound("virtual machine", id)
		}
		for _, other := range v.vms {
			if other.Folder == folderID && other.Name == vm.Name && other.ID != id {
				return &engine.ExistsError{Name: vm.Name, ID: other.ID}
			}
		}
	}
	for _, id := range ids {
		v.vms[id].Folder = folderID
	}
	return nil
}

// SetMarks implements engine.Port.
func (v *VCenter) SetMarks(_ context.Context, obj engine.Object, marks engine.Marks) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("SetMarks", obj); err != nil {
		return err
	}
	var target engine.Marks
	switch obj.Kind {
	case engine.KindFolder:
		f, ok := v.folders[obj.ID]
		if !ok {
			return notFound("folder", obj.ID)
		}
		target = f.Marks
	default:
		vm, ok := v.vms[obj.ID]
		if !ok {
			return notFound("virtual machine", obj.ID)
		}
		target = vm.Marks
	}
	for k, val := range marks {
		if val == "" {
			delete(target, k)
		} else {
			target[k] = val
		}
	}
	return nil
}

// VMs lists every VM, sorted by ID, for tests to check what the engine left.
func (v *VCenter) VMs() []engine.VM {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []engine.VM
	for _, vm := range sortedVMs(v.vms) {
		out = append(out, copyVM(vm))
	}
	return out
}

// FolderNamed finds a folder's ID by name ("" when none).
func (v *VCenter) FolderNamed(name string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, f := range sortedFolders(v.folders) {
		if f.Name == name {
			return f.ID
		}
	}
	return ""
}

// Tamper changes a VM behind the engine's back, as an administrator would.
func (v *VCenter) Tamper(id string, change func(vm *engine.VM)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if vm, ok := v.vms[id]; ok {
		change(vm)
	}
}

// Forks is how many instant clones were made from a source.
func (v *VCenter) Forks(id string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.forks[id]
}

// Delete removes a VM or folder behind the engine's back.
func (v *VCenter) Delete(id string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.vms, id)
	if _, ok := v.folders[id]; ok {
		v.deleteFolderLocked(id)
	}
}

func sortedVMs(m map[string]*engine.VM) []*engine.VM {
	out := make([]*engine.VM, 0, len(m))
	for _, vm := range m {
		out = append(out, vm)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func sortedFolders(m map[string]*folder) []*folder {
	out := make([]*folder, 0, len(m))
	for _, f := range m {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Snapshot implements engine.Port.
func (v *VCenter) Snapshot(_ context.Context, vmID, name string) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.call("Snapshot", vmID); err != nil {
		return "", err
	}
	if _, ok := v.vms[vmID]; !ok {
		return "", notFound("virtual machine", vmID)
	}
	id := v.id("snapshot")
	v.snapshots[vmID] = append(v.snapshots[vmID], engine.Snapshot{ID: id, Name: name})
	return id, nil
}
