package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
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
	Networks         []string          `json:"network_ids,omitempty"` // the network of each NIC, in order
	Customization    *Customization    `json:"customization,omitempty"`
	// Storage: a datastore with less free space than the floor takes no new clone; none holds
	// more of the pool's clones than the limit (0: no limit).
	MinFreeSpaceGB        int `json:"min_free_space_gb,omitempty"`
	MaxClonesPerDatastore int `json:"max_clones_per_datastore,omitempty"`
	// ReplicaDatastore, when set, holds the image's one replica for the pool (Horizon's
	// "separate datastore for replica disks"); the parents, linked clones of it, and the
	// clones stay on the pool's datastores.
	ReplicaDatastore string `json:"replica_datastore_id,omitempty"`
}

// replicaOn is the datastore that holds the replica the parents on ds are linked clones of.
func (s PoolSpec) replicaOn(ds string) string {
	if s.ReplicaDatastore != "" {
		return s.ReplicaDatastore
	}
	return ds
}

// poolRecord is what a pool folder remembers of its pool (mark instantclone.spec): enough to
// read, import, rebalance from an attachment, and collect garbage without Terraform.
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

func decodeRecord(f *Folder) (*poolRecord, error) {
	raw := f.Marks[MarkSpec]
	if f.Marks[MarkRole] != rolePool || raw == "" {
		return nil, fmt.Errorf("folder %s (%s) is not an instant-clone pool: %w", f.Name, f.ID, ErrNotFound)
	}
	var rec poolRecord
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		return nil, fmt.Errorf("pool folder %s has an unreadable %s mark: %w", f.ID, MarkSpec, err)
	}
	return &rec, nil
}

func (e *Engine) writeRecord(ctx context.Context, poolID string, rec *poolRecord) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := e.vc.SetMarks(ctx, FolderObject(poolID), Marks{MarkRole: rolePool, MarkSpec: string(raw)}); err != nil {
		return fmt.Errorf("recording pool %s on its folder %s: %w", rec.Name, poolID, err)
	}
	return nil
}

// record reads a pool's record and attachments.
func (e *Engine) record(ctx context.Context, id string) (*poolRecord, attachments, error) {
	info, err := e.vc.Folder(ctx, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, attachments{}, fmt.Errorf("pool %s: %w", id, ErrNotFound)
		}
		return nil, attachments{}, fmt.Errorf("reading pool %s: %w", id, err)
	}
	rec, err := decodeRecord(info)
	if err != nil {
		return nil, attachments{}, err
	}
	return rec, parseAttachments(info.Marks[MarkAttachments]), nil
}

// FindPoolByName finds a pool by its name (pool names are unique per parent folder; a name
// used in two folders is ambiguous).
func (e *Engine) FindPoolByName(ctx context.Context, name string) (*Pool, error) {
	recs, err := e.poolRecords(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	for id, rec := range recs {
		if rec.Name == name {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	switch len(ids) {
	case 0:
		return nil, fmt.Errorf("pool named %q: %w", name, ErrNotFound)
	case 1:
		return e.ReadPool(ctx, ids[0], LastSeen{})
	default:
		return nil, fmt.Errorf("%d pools are named %q (%s): look one up by id", len(ids), name, strings.Join(ids, ", "))
	}
}

// poolRecords reads the record of every pool in the datacenter, attachments included in
// each record's datastores.
func (e *Engine) poolRecords(ctx context.Context) (map[string]*poolRecord, error) {
	folders, err := e.vc.Folders(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading pool folders: %w", err)
	}
	out := map[string]*poolRecord{}
	for i := range folders {
		if rec, err := decodeRecord(&folders[i]); err == nil {
			rec.Datastores = union(rec.Datastores, parseAttachments(folders[i].Marks[MarkAttachments]).ids())
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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
