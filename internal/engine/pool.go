package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

// Rebalance policies.
const (
	RebalanceImmediate   = "immediate"    // converge to an even spread on every apply
	RebalanceOnProvision = "on_provision" // Horizon's lazy way: only new clones are steered
)

// PoolSpec is the pool a user declares.
type PoolSpec struct {
	Name             string            `json:"name"`
	ImageID          string            `json:"image_id"`
	ResourcePool     string            `json:"resource_pool_id"`
	Folder           string            `json:"folder"`
	Datastores       []string          `json:"datastore_ids"`
	Size             int               `json:"size"`
	NamingPattern    string            `json:"naming_pattern"`
	Rebalance        string            `json:"rebalance"`
	PushToken        string            `json:"push_image_token,omitempty"`
	BatchSize        int               `json:"batch_size"`
	StopOnFirstError bool              `json:"stop_on_first_error"`
	GuestInfo        map[string]string `json:"guestinfo,omitempty"`
}

// poolRecord is what a pool folder remembers of its pool (custom attribute instantclone.spec):
// enough to read, import, rebalance from an attachment, and collect garbage without Terraform.
type poolRecord struct {
	PoolSpec
	PendingImageID   string              `json:"pending_image_id,omitempty"`
	PendingPushToken string              `json:"pending_push_image_token,omitempty"`
	Placement        map[string][]string `json:"placement,omitempty"` // datastore → hosts with parents
	Complete         bool                `json:"complete"`            // the pool's create finished once
}

// Clone is one clone of a pool as vCenter shows it.
type Clone struct {
	Name      string
	ID        string
	Index     int
	Datastore string
	Host      string
	ImageID   string
	PushToken string
	PoweredOn bool
}

// Pool is a pool as vCenter shows it.
type Pool struct {
	ID             string
	Spec           PoolSpec
	CurrentImageID string
	PendingImageID string
	Attachments    []string
	AllDatastores  []string
	Clones         []Clone
	// Drift says, in words, how the pool differs from what was last applied.
	Drift []string
}

// Distribution counts clones per datastore.
func (p *Pool) Distribution() map[string]int {
	out := map[string]int{}
	for _, c := range p.Clones {
		out[c.Datastore]++
	}
	return out
}

func decodeRecord(f *vsphere.Folder) (*poolRecord, error) {
	raw := f.Fields[vsphere.FieldSpec]
	if f.Fields[vsphere.FieldRole] != "pool" || raw == "" {
		return nil, fmt.Errorf("folder %s (%s) is not an instant-clone pool: %w", f.Name, f.ID, ErrNotFound)
	}
	var rec poolRecord
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		return nil, fmt.Errorf("pool folder %s has an unreadable %s attribute: %w", f.ID, vsphere.FieldSpec, err)
	}
	return &rec, nil
}

func (e *Engine) writeRecord(ctx context.Context, poolID string, rec *poolRecord) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return e.vc.SetFields(ctx, vsphere.FolderRef(poolID), map[string]string{
		vsphere.FieldRole: "pool", vsphere.FieldSpec: string(raw),
	})
}

// union is the sorted set of a and b.
func union(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string{}, a...), b...) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// ReadPool observes a pool: its folder, clones and the internal VMs it forks from, in one
// property-collector retrieve whatever the pool's size.
func (e *Engine) ReadPool(ctx context.Context, id string) (*Pool, error) {
	folders, err := e.ensureClonePrepFolders(ctx)
	if err != nil {
		return nil, err
	}
	ids := []string{id}
	for _, name := range ClonePrepFolders {
		ids = append(ids, folders[name])
	}
	fs, vms, err := e.vc.Children(ctx, ids)
	if errors.Is(err, vsphere.ErrNotFound) {
		if _, ferr := e.vc.FolderInfo(ctx, id); ferr != nil {
			return nil, fmt.Errorf("pool %s: %w", id, ErrNotFound)
		}
		e.vc.ForgetFolders()
		return e.ReadPool(ctx, id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading pool %s: %w", id, err)
	}
	var self *vsphere.Folder
	for i := range fs {
		if fs[i].ID == id {
			self = &fs[i]
		}
	}
	if self == nil {
		return nil, fmt.Errorf("pool %s: %w", id, ErrNotFound)
	}
	rec, err := decodeRecord(self)
	if err != nil {
		return nil, err
	}
	internal := &internalSet{folders: folders}
	var own []vsphere.VM
	for _, vm := range vms {
		if vm.Parent == id {
			own = append(own, vm)
		} else {
			internal.vms = append(internal.vms, vm)
		}
	}
	return observe(id, rec, parseAttachments(self.Fields[vsphere.FieldAttachments]).ids(), own, internal), nil
}

// observe builds the pool view and its drift from what vCenter holds.
func observe(id string, rec *poolRecord, attachments []string, vms []vsphere.VM, internal *internalSet) *Pool {
	p := &Pool{
		ID: id, Spec: rec.PoolSpec, CurrentImageID: rec.ImageID, PendingImageID: rec.PendingImageID,
		Attachments: attachments, AllDatastores: union(rec.Datastores, attachments),
	}
	pattern, perr := ParseNamingPattern(rec.NamingPattern)
	for _, vm := range vms {
		c := Clone{Name: vm.Name, ID: vm.ID, Host: vm.Host, ImageID: vm.Fields[vsphere.FieldImage],
			PushToken: vm.Fields[vsphere.FieldPushToken], PoweredOn: vm.PoweredOn}
		if len(vm.Datastores) > 0 {
			ds := append([]string{}, vm.Datastores...)
			sort.Strings(ds)
			c.Datastore = ds[0]
		}
		if perr == nil {
			c.Index, _ = pattern.Index(vm.Name)
		}
		p.Clones = append(p.Clones, c)
	}
	sort.Slice(p.Clones, func(i, j int) bool {
		if p.Clones[i].Index != p.Clones[j].Index {
			return p.Clones[i].Index < p.Clones[j].Index
		}
		return p.Clones[i].Name < p.Clones[j].Name
	})
	p.Drift = drift(rec, p, internal)
	return p
}

// drift lists, in words, every way the pool differs from its record.
func drift(rec *poolRecord, p *Pool, internal *internalSet) []string {
	var out []string
	attached := map[string]bool{}
	for _, ds := range p.AllDatastores {
		attached[ds] = true
	}
	present := map[int]bool{}
	var extra, stray, stale []string
	for _, c := range p.Clones {
		switch {
		case c.Index == 0 || c.Index > rec.Size:
			extra = append(extra, c.Name)
			continue
		case !attached[c.Datastore]:
			stray = append(stray, fmt.Sprintf("%s (%s) is on %s", c.Name, c.ID, c.Datastore))
		}
		present[c.Index] = true
		if c.ImageID != rec.ImageID || c.PushToken != rec.PushToken {
			stale = append(stale, c.Name)
		}
	}
	if pattern, err := ParseNamingPattern(rec.NamingPattern); err == nil {
		var missing []string
		for i := 1; i <= rec.Size; i++ {
			if !present[i] {
				missing = append(missing, pattern.Name(i))
			}
		}
		if len(missing) > 0 {
			out = append(out, fmt.Sprintf("%d clone(s) missing: %s", len(missing), abbreviate(missing)))
		}
	}
	if len(extra) > 0 {
		out = append(out, fmt.Sprintf("%d clone(s) beyond size %d or not named by the pattern: %s", len(extra), rec.Size, abbreviate(extra)))
	}
	if len(stray) > 0 {
		out = append(out, fmt.Sprintf("%d clone(s) on a datastore not attached to the pool: %s", len(stray), abbreviate(stray)))
	}
	if rec.PendingImageID != "" {
		out = append(out, fmt.Sprintf("push-image to %s unfinished: %d of %d clone(s) not yet recreated", rec.PendingImageID, len(stale), len(p.Clones)))
	} else if len(stale) > 0 {
		out = append(out, fmt.Sprintf("%d clone(s) not on image %s: %s", len(stale), rec.ImageID, abbreviate(stale)))
	}
	if rec.Rebalance == RebalanceImmediate && len(stray) == 0 && unbalanced(p) {
		out = append(out, "clones are unbalanced across datastores: "+formatCounts(p.Distribution(), p.AllDatastores))
	}
	out = append(out, missingInternal(rec, internal)...)
	return out
}

func unbalanced(p *Pool) bool {
	if len(p.AllDatastores) == 0 {
		return false
	}
	counts := p.Distribution()
	lo, hi := -1, -1
	for _, ds := range p.AllDatastores {
		n := counts[ds]
		if lo < 0 || n < lo {
			lo = n
		}
		if n > hi {
			hi = n
		}
	}
	return hi-lo > 1
}

func missingInternal(rec *poolRecord, internal *internalSet) []string {
	if rec.Size == 0 || internal == nil {
		return nil
	}
	var out []string
	for _, ds := range sortedKeys(rec.Placement) {
		if internal.replica(rec.ImageID, ds) == nil {
			out = append(out, fmt.Sprintf("internal VM %s is missing", replicaName(rec.ImageID, ds)))
		}
		for _, h := range rec.Placement[ds] {
			if p := internal.parent(rec.ImageID, ds, h); p == nil {
				out = append(out, fmt.Sprintf("internal VM %s is missing", parentName(rec.ImageID, ds, h)))
			} else if !p.PoweredOn {
				out = append(out, fmt.Sprintf("internal VM %s is powered off", p.Name))
			}
		}
	}
	return out
}

func formatCounts(counts map[string]int, datastores []string) string {
	parts := make([]string, 0, len(datastores))
	for _, ds := range datastores {
		parts = append(parts, fmt.Sprintf("%s=%d", ds, counts[ds]))
	}
	return strings.Join(parts, ", ")
}

func abbreviate(items []string) string {
	if len(items) <= 5 {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:5], ", ") + fmt.Sprintf(" and %d more", len(items)-5)
}

// FindPoolByName finds a pool by its name (pool names are unique per parent folder; a name
// used in two folders is ambiguous).
func (e *Engine) FindPoolByName(ctx context.Context, name string) (*Pool, error) {
	folders, err := e.vc.AllFolders(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	for i := range folders {
		if rec, err := decodeRecord(&folders[i]); err == nil && rec.Name == name {
			ids = append(ids, folders[i].ID)
		}
	}
	switch len(ids) {
	case 0:
		return nil, fmt.Errorf("pool named %q: %w", name, ErrNotFound)
	case 1:
		return e.ReadPool(ctx, ids[0])
	default:
		return nil, fmt.Errorf("%d pools are named %q (%s): look one up by id", len(ids), name, strings.Join(ids, ", "))
	}
}

// poolRecords reads the record of every pool in the datacenter.
func (e *Engine) poolRecords(ctx context.Context) (map[string]*poolRecord, error) {
	folders, err := e.vc.AllFolders(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]*poolRecord{}
	for i := range folders {
		if rec, err := decodeRecord(&folders[i]); err == nil {
			rec.Datastores = union(rec.Datastores, parseAttachments(folders[i].Fields[vsphere.FieldAttachments]).ids())
			out[folders[i].ID] = rec
		}
	}
	return out, nil
}

// poolsUsingImage lists the pools that use an image: finished ones by name, and the IDs of
// unfinished ones (a create that failed and was never retried, so no state holds them).
func (e *Engine) poolsUsingImage(ctx context.Context, imageID string) (users, unfinished []string, err error) {
	recs, err := e.poolRecords(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("checking which pools use image %s: %w", imageID, err)
	}
	for id, rec := range recs {
		if rec.ImageID != imageID && rec.PendingImageID != imageID {
			continue
		}
		if rec.Complete {
			users = append(users, fmt.Sprintf("%s (%s)", rec.Name, id))
		} else {
			unfinished = append(unfinished, id)
		}
	}
	sort.Strings(users)
	sort.Strings(unfinished)
	return users, unfinished, nil
}
