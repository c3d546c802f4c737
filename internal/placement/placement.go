// Package placement makes every placement decision of the pool engine, as pure functions:
// Decide says, from the pool as vCenter shows it and where its clones may go, which clones
// a resize removes and which clones are made or made again where (create, resize,
// push-image, rebalance, evacuating hosts and datastores); the engine only runs the plan.
//
// Every function is deterministic: decisions never depend on map iteration
// order, and ties are always broken by ID (for datastores and hosts) or by
// clone Index (for clones). Inputs are never modified.
//
// Datastore and host lists are treated as sets: duplicates and empty IDs are
// ignored.
package placement

import (
	"cmp"
	"slices"
)

// Clone is what placement needs to know about one clone.
type Clone struct {
	Name      string
	Index     int // the number in the clone's name (naming pattern {n})
	Datastore string
	Host      string
	Stale     bool // runs another image or push token than the pool's: it is recreated
}

// Targets returns balanced per-datastore counts for total clones over
// datastores: every count is total/len or total/len+1. The remainder goes to
// the datastores currently holding the most clones (that keeps the most
// clones in place), ties by ID. Every datastore appears in the result,
// possibly with 0.
//
// With no datastores the result is empty whatever total is: there is nowhere
// to put clones, and callers detect that from the sum of the result. A
// negative total is treated as 0. current may be nil.
func Targets(total int, datastores []string, current map[string]int) map[string]int {
	ids := normalize(datastores)
	targets := make(map[string]int, len(ids))
	if len(ids) == 0 {
		return targets
	}
	total = max(total, 0)
	base, rem := total/len(ids), total%len(ids)

	// Giving the extra clone to a datastore that already holds more than
	// base saves one move; giving it to a fuller one is never worse.
	slices.SortStableFunc(ids, func(a, b string) int {
		return cmp.Compare(current[b], current[a]) // IDs are already sorted
	})
	for i, id := range ids {
		targets[id] = base
		if i < rem {
			targets[id]++
		}
	}
	return targets
}

// normalize returns the sorted, de-duplicated, non-empty IDs without
// modifying the caller's slice.
func normalize(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// compareClones orders clones by Index; the remaining fields only make the
// order total should two clones ever share an Index.
func compareClones(a, b Clone) int {
	return cmp.Or(
		cmp.Compare(a.Index, b.Index),
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Datastore, b.Datastore),
		cmp.Compare(a.Host, b.Host),
	)
}
