package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// ReadPool observes a pool: its folder, clones and the internal VMs it forks from, and the
// state of its hosts and datastores, in one property-collector retrieve whatever the pool's
// size when last says where the pool is, and in one more when it does not (an import) or the
// pool's record says otherwise.
func (e *Engine) ReadPool(ctx context.Context, id string, last LastSeen) (*Pool, error) {
	p, rec, internal, found, err := e.observePool(ctx, id, last)
	if err != nil {
		return nil, err
	}
	// Covered, a nil environment means the resource pool or a datastore is gone: reading
	// it again would find the same.
	if !last.covers(rec.ResourcePool, p.AllDatastores) {
		if found, err = e.environmentOf(ctx, rec, p.AllDatastores); err != nil {
			return nil, err
		}
	}
	hosts, err := hostDrift(rec, p, internal, found)
	if err != nil {
		return nil, err
	}
	p.Drift = append(p.Drift, hosts...)
	return p, nil
}

// LastSeen is where the caller last saw a pool (Terraform's state): its resource pool and
// every datastore it uses. The zero value says nothing.
type LastSeen struct {
	ResourcePool string
	Datastores   []string
}

// LastSeenOf is where p was.
func LastSeenOf(p *Pool) LastSeen {
	return LastSeen{ResourcePool: p.Spec.ResourcePool, Datastores: p.AllDatastores}
}

// covers: what was read with last holds the state of the resource pool and datastores the
// record names.
func (last LastSeen) covers(resourcePool string, datastores []string) bool {
	return last.ResourcePool != "" && last.ResourcePool == resourcePool &&
		!slices.ContainsFunc(datastores, func(ds string) bool { return !slices.Contains(last.Datastores, ds) })
}

// observePool reads the pool's clones and its record's drift, with the hosts' and
// datastores' state where last names them (nil where it does not or they are gone), in one
// retrieve. A converge, which has just read the environment, plans from it.
func (e *Engine) observePool(ctx context.Context, id string, last LastSeen) (*Pool, *poolRecord, *internalSet, *Environment, error) {
	read := e.vc.Contents
	var found *Environment
	if last.ResourcePool != "" {
		read = func(ctx context.Context, ids ...string) ([]Folder, []VM, error) {
			fs, vms, env, err := e.vc.Observe(ctx, ids, last.ResourcePool, last.Datastores)
			found = env
			return fs, vms, err
		}
	}
	folders, fs, vms, err := e.readClonePrep(ctx, e.existingClonePrepFolders, read, id)
	if errors.Is(err, ErrNotFound) {
		// The ClonePrep folders were looked up again, so the missing one is the pool's.
		return nil, nil, nil, nil, fmt.Errorf("pool %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("reading pool %s: %w", id, err)
	}
	p, rec, internal, err := poolFromRead(id, folders, fs, vms)
	return p, rec, internal, found, err
}

// poolFromRead builds the pool view from a read of its folder and the ClonePrep folders
// (and maybe others, whose VMs are neither the pool's nor internal).
func poolFromRead(id string, folders map[string]string, fs []Folder, vms []VM) (*Pool, *poolRecord, *internalSet, error) {
	var self *Folder
	for i := range fs {
		if fs[i].ID == id {
			self = &fs[i]
		}
	}
	if self == nil {
		return nil, nil, nil, fmt.Errorf("pool %s: %w", id, ErrNotFound)
	}
	rec, err := decodeRecord(self)
	if err != nil {
		return nil, nil, nil, err
	}
	internal := &internalSet{folders: folders}
	var own []VM
	for _, vm := range vms {
		switch {
		case vm.Folder == id:
			own = append(own, vm)
		case slices.ContainsFunc(ClonePrepFolders, func(name string) bool { return folders[name] == vm.Folder }):
			internal.vms = append(internal.vms, vm)
		}
	}
	return observe(id, rec, parseAttachments(self.Marks[MarkAttachments]).ids(), own, internal), rec, internal, nil
}

// observe builds the pool view and its drift from what vCenter holds.
func observe(id string, rec *poolRecord, attachments []string, vms []VM, internal *internalSet) *Pool {
	p := &Pool{
		ID: id, Spec: rec.PoolSpec, CurrentImageID: rec.ImageID, PendingImageID: rec.PendingImageID,
		Attachments: attachments, AllDatastores: union(rec.Datastores, attachments),
	}
	pattern, perr := ParseNamingPattern(rec.NamingPattern)
	for _, vm := range vms {
		c := Clone{Name: vm.Name, ID: vm.ID, Host: vm.Host, ImageID: vm.Marks[MarkImage],
			PushToken: vm.Marks[MarkPushToken], PoweredOn: vm.PoweredOn}
		// Where its files are, not the first of the datastores it uses: an ISO mounted from
		// another datastore does not move a clone.
		c.Datastore = vm.Datastore
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
	if perr != nil {
		p.Drift = append(p.Drift, fmt.Sprintf("the pool's recorded naming pattern is unreadable (%s): its clones cannot be numbered", perr))
	}
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
	var extra, stray, strayHost, stale []string
	for _, c := range p.Clones {
		switch {
		case c.Index == 0 || c.Index > rec.Size:
			extra = append(extra, c.Name)
			continue
		case !attached[c.Datastore]:
			stray = append(stray, fmt.Sprintf("%s (%s) is on %s", c.Name, c.ID, c.Datastore))
		case rec.Placement != nil && !slices.Contains(rec.Placement[c.Datastore], c.Host):
			strayHost = append(strayHost, fmt.Sprintf("%s (%s) runs on %s", c.Name, c.ID, c.Host))
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
	if len(strayHost) > 0 {
		out = append(out, fmt.Sprintf("%d clone(s) on a host the pool does not use for their datastore: %s", len(strayHost), abbreviate(strayHost)))
	}
	if rec.PendingImageID != "" {
		out = append(out, fmt.Sprintf("push-image to %s unfinished: %d of %d clone(s) not yet recreated", rec.PendingImageID, len(stale), len(p.Clones)))
	} else if len(stale) > 0 {
		out = append(out, fmt.Sprintf("%d clone(s) not on image %s: %s", len(stale), rec.ImageID, abbreviate(stale)))
	}
	out = append(out, missingInternal(rec, internal)...)
	return out
}

func missingInternal(rec *poolRecord, internal *internalSet) []string {
	if rec.Size == 0 || internal == nil {
		return nil
	}
	var out []string
	for _, ds := range sortedKeys(rec.Placement) {
		if on := rec.replicaOn(ds); internal.replica(rec.ImageID, on) == nil && !slices.Contains(out, fmt.Sprintf("internal VM %s is missing", replicaName(rec.ImageID, on))) {
			out = append(out, fmt.Sprintf("internal VM %s is missing", replicaName(rec.ImageID, on)))
		}
		for _, h := range rec.Placement[ds] {
			if p := internal.parent(rec.ImageID, ds, h); p == nil {
				out = append(out, fmt.Sprintf("internal VM %s is missing", parentName(rec.ImageID, ds, h, 1)))
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
