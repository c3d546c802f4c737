package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/instantclone/terraform-provider-instantclone/internal/placement"
)

// Rebalance: clones on a datastore no longer attached are evacuated (always); with
// rebalance = "immediate", datastores above their even share also give up their
// highest-numbered clones, so that counts differ by at most one, moving the fewest clones.
// Attachments (instantclone_pool_datastore) add datastores from outside the pool's resource.

// planRebalance splits the clones that stay where they are from those that move: a clone on a
// datastore not attached, or on a host that does not run the pool's clones on that datastore
// (where vCenter put it, not where it was asked for), always moves.
func planRebalance(current []Clone, size int, env *placementEnv, policy string) (stay, move []Clone) {
	for _, c := range current {
		if slices.Contains(env.datastores, c.Datastore) && slices.Contains(env.hosts[c.Datastore], c.Host) {
			stay = append(stay, c)
		} else {
			move = append(move, c)
		}
	}
	if policy != RebalanceImmediate {
		return stay, move
	}
	targets := placement.Targets(size, env.datastores, placement.Counts(toPlacement(stay)))
	byDS := map[string][]Clone{}
	for _, c := range stay {
		byDS[c.Datastore] = append(byDS[c.Datastore], c)
	}
	var kept []Clone
	for _, ds := range sortedKeys(byDS) {
		kept, move = giveUpOver(byDS[ds], targets[ds], kept, move)
	}
	// Then hosts: a host that came back, or joined, takes its share; the clones moved for
	// it are the highest-numbered of the fullest hosts.
	hostTargets := placement.Targets(size, usableHosts(env), hostCounts(kept))
	byHost := map[string][]Clone{}
	for _, c := range kept {
		byHost[c.Host] = append(byHost[c.Host], c)
	}
	var balanced []Clone
	for _, h := range sortedKeys(byHost) {
		balanced, move = giveUpOver(byHost[h], hostTargets[h], balanced, move)
	}
	return balanced, move
}

// giveUpOver keeps the lowest-numbered target clones of cs and moves the rest.
func giveUpOver(cs []Clone, target int, kept, move []Clone) ([]Clone, []Clone) {
	sortClones(cs, false)
	over := max(0, len(cs)-target)
	return append(kept, cs[:len(cs)-over]...), append(move, cs[len(cs)-over:]...)
}

// usableHosts lists, sorted, the hosts that can take some of the pool's clones.
func usableHosts(env *placementEnv) []string {
	var out []string
	for _, hs := range env.hosts {
		for _, h := range hs {
			if !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	sort.Strings(out)
	return out
}

// hostCounts counts clones per host.
func hostCounts(cs []Clone) map[string]int {
	out := map[string]int{}
	for _, c := range cs {
		out[c.Host]++
	}
	return out
}

// hostLoad counts clones per host and per (datastore, host), so that new clones use hosts
// evenly overall and also within each datastore.
type hostLoad struct {
	total map[string]int
	pair  map[placementKey]int
}

func newHostLoad(clones []Clone) *hostLoad {
	h := &hostLoad{total: map[string]int{}, pair: map[placementKey]int{}}
	for _, c := range clones {
		h.total[c.Host]++
		h.pair[placementKey{c.Datastore, c.Host}]++
	}
	return h
}

// pick chooses the least-loaded host for a clone on ds, ties broken by that datastore's own
// load on each host, then by ID; and counts the clone.
func (h *hostLoad) pick(ds string, candidates []string) string {
	best := ""
	for _, c := range candidates {
		if best == "" || h.total[c] < h.total[best] ||
			(h.total[c] == h.total[best] && h.pair[placementKey{ds, c}] < h.pair[placementKey{ds, best}]) {
			best = c
		}
	}
	h.total[best]++
	h.pair[placementKey{ds, best}]++
	return best
}

func toPlacement(cs []Clone) []placement.Clone {
	out := make([]placement.Clone, len(cs))
	for i, c := range cs {
		out[i] = placement.Clone{Name: c.Name, Index: c.Index, Datastore: c.Datastore, Host: c.Host}
	}
	return out
}

// sortClones orders clones by number, highest first when desc.
func sortClones(cs []Clone, desc bool) {
	sort.Slice(cs, func(i, j int) bool {
		if desc {
			return cs[i].Index > cs[j].Index
		}
		return cs[i].Index < cs[j].Index
	})
}

// Attach adds a datastore to a pool from outside its own resource and rebalances it.
// policy overrides the pool's rebalance policy for this change when not empty. An attach that
// failed half-way stays recorded as unfinished, and attaching again carries on with it.
func (e *Engine) Attach(ctx context.Context, poolID, ds, policy string) (*Pool, error) {
	held, err := e.lockPool(ctx, poolID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, inputError("pool_id", "Pool not found", "No instant-clone pool has ID %s.", poolID)
		}
		return nil, err
	}
	defer held.unlock()
	ctx, rec, att := held.ctx, held.rec, held.att
	if (att.has(ds) && !att.pending[ds]) || slices.Contains(rec.Datastores, ds) {
		return nil, inputError("datastore_id", "Datastore already attached", "Datastore %s is already attached to pool %s (%s); each datastore is attached once, either in the pool's datastore_ids or by one instantclone_pool_datastore.", ds, rec.Name, poolID)
	}
	att.add(ds, true)
	if err := e.changeAttachments(ctx, poolID, rec, att, policy); err != nil {
		return nil, err
	}
	att.add(ds, false)
	if err := e.writeAttachments(ctx, poolID, att); err != nil {
		return nil, err
	}
	return e.ReadPool(ctx, poolID)
}

// Detach removes an attached datastore; its clones are evacuated to the remaining ones.
func (e *Engine) Detach(ctx context.Context, poolID, ds, policy string) error {
	held, err := e.lockPool(ctx, poolID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer held.unlock()
	// Converge even when the datastore is already gone from the record: a detach cut short
	// leaves clones on it to evacuate.
	held.att.remove(ds)
	return e.changeAttachments(held.ctx, poolID, held.rec, held.att, policy)
}

func (e *Engine) changeAttachments(ctx context.Context, poolID string, rec *poolRecord, att attachments, policy string) error {
	env, err := e.resolve(ctx, rec.PoolSpec, att.ids())
	if err != nil {
		return err
	}
	if err := e.writeAttachments(ctx, poolID, att); err != nil {
		return err
	}
	// The policy override applies to this rebalance only; the pool keeps its own.
	return e.converge(ctx, poolID, rec, rec.PoolSpec, env, policy)
}

func (e *Engine) writeAttachments(ctx context.Context, poolID string, att attachments) error {
	if err := e.vc.SetMarks(ctx, FolderObject(poolID), Marks{MarkAttachments: att.String()}); err != nil {
		return fmt.Errorf("recording the datastores attached to pool %s: %w", poolID, err)
	}
	return nil
}

// Attached reports whether a datastore is attached to a pool by an attachment.
func (e *Engine) Attached(ctx context.Context, poolID, ds string) (bool, error) {
	_, att, err := e.record(ctx, poolID)
	if err != nil {
		return false, err
	}
	return att.has(ds), nil
}

// attachments are the datastores attached to a pool from outside its own resource, as its
// folder records them: "datastore-40,datastore-41~", where "~" marks an attach that has not
// finished (its apply failed or was interrupted).
type attachments struct {
	pending map[string]bool // datastore → unfinished
}

const pendingMark = "~"

func parseAttachments(raw string) attachments {
	a := attachments{pending: map[string]bool{}}
	for _, item := range strings.Split(raw, ",") {
		if item == "" {
			continue
		}
		ds, unfinished := strings.CutSuffix(item, pendingMark)
		a.pending[ds] = unfinished
	}
	return a
}

// ids lists every attached datastore, finished or not, sorted.
func (a attachments) ids() []string { return sortedKeys(a.pending) }

// has reports whether ds is attached, finished or not.
func (a attachments) has(ds string) bool {
	_, ok := a.pending[ds]
	return ok
}

func (a attachments) add(ds string, unfinished bool) { a.pending[ds] = unfinished }

func (a attachments) remove(ds string) { delete(a.pending, ds) }

func (a attachments) String() string {
	items := a.ids()
	for i, ds := range items {
		if a.pending[ds] {
			items[i] += pendingMark
		}
	}
	return strings.Join(items, ",")
}
