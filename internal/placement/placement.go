// Package placement holds the pure placement math of the pool engine: where
// new clones go, which clones a shrink removes and which clones a rebalance
// recreates on another datastore.
//
// Every function is deterministic: decisions never depend on map iteration
// order, and ties are always broken by ID (for datastores and hosts) or by
// clone Index (for clones). Inputs are never modified.
//
// Datastore and host lists are treated as sets: duplicates and empty IDs are
// ignored. Balance is defined relative to a non-empty attached set; with no
// attached datastores there is nowhere to place or move a clone, so
// Rebalance returns no moves, MinMoves returns 0 and Imbalance reports false.
package placement

import (
	"cmp"
	"container/heap"
	"fmt"
	"slices"
)

// Clone is what placement needs to know about one clone.
type Clone struct {
	Name      string
	Index     int // the number in the clone's name (naming pattern {n})
	Datastore string
	Host      string
}

// Move says: recreate Clone on datastore To.
type Move struct {
	Clone Clone
	To    string
}

// Counts returns clones per datastore. Datastores without clones are absent.
func Counts(clones []Clone) map[string]int {
	counts := make(map[string]int)
	for _, c := range clones {
		counts[c.Datastore]++
	}
	return counts
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

// Rebalance returns the fewest moves that leave the clones balanced over
// datastores (the attached set): counts differ by at most one and nothing
// stays on an unattached datastore. Every clone on an unattached datastore
// moves; an over-target attached datastore gives up its highest-Index
// clones. Movers, in Index order, each go to the datastore with the largest
// remaining deficit, ties by ID. The moves are sorted by clone Index.
func Rebalance(clones []Clone, datastores []string) []Move {
	ids := normalize(datastores)
	if len(ids) == 0 || len(clones) == 0 {
		return nil
	}
	attached := make(map[string]bool, len(ids))
	for _, id := range ids {
		attached[id] = true
	}

	byDS := make(map[string][]Clone)
	var movers []Clone
	for _, c := range clones {
		if attached[c.Datastore] {
			byDS[c.Datastore] = append(byDS[c.Datastore], c)
		} else {
			movers = append(movers, c)
		}
	}

	targets := Targets(len(clones), ids, Counts(clones))
	// bucketHeap pops the smallest load first, so storing deficits negated
	// makes it pop the largest deficit first, ties still by ID.
	deficits := &bucketHeap{}
	for _, id := range ids {
		held := byDS[id]
		switch t := targets[id]; {
		case len(held) > t:
			// Highest Index leave first, so lower-numbered clones stay put.
			slices.SortFunc(held, func(a, b Clone) int { return compareClones(b, a) })
			movers = append(movers, held[:len(held)-t]...)
		case len(held) < t:
			*deficits = append(*deficits, bucket{id: id, n: len(held) - t})
		}
	}
	if len(movers) == 0 {
		return nil
	}
	heap.Init(deficits)

	slices.SortFunc(movers, compareClones)
	moves := make([]Move, 0, len(movers))
	for _, c := range movers {
		if deficits.Len() == 0 {
			break // unreachable: total deficit equals the number of movers
		}
		top := &(*deficits)[0]
		moves = append(moves, Move{Clone: c, To: top.id})
		top.n++
		if top.n == 0 {
			heap.Pop(deficits)
		} else {
			heap.Fix(deficits, 0)
		}
	}
	return moves
}

// Spread picks a bucket (datastore or host) for each of n new items, each
// time the least loaded one counting current plus the picks so far, ties by
// ID. It returns the n IDs in pick order. Buckets absent from current count
// as 0 and keys of current that are not buckets are ignored. With no buckets
// or n <= 0 it returns nil.
func Spread(n int, current map[string]int, buckets []string) []string {
	ids := normalize(buckets)
	if n <= 0 || len(ids) == 0 {
		return nil
	}
	h := make(bucketHeap, len(ids))
	for i, id := range ids {
		h[i] = bucket{id: id, n: current[id]}
	}
	heap.Init(&h)
	picks := make([]string, n)
	for i := range picks {
		picks[i] = h[0].id
		h[0].n++
		heap.Fix(&h, 0)
	}
	return picks
}

// Shrink returns the clones to remove so that size remain: the ones with the
// highest Index, highest first. It returns nil when size >= len(clones); a
// negative size is treated as 0.
func Shrink(clones []Clone, size int) []Clone {
	size = max(size, 0)
	if size >= len(clones) {
		return nil
	}
	sorted := slices.Clone(clones)
	slices.SortFunc(sorted, func(a, b Clone) int { return compareClones(b, a) })
	return sorted[:len(sorted)-size]
}

// Imbalance reports whether the clones are out of balance for the attached
// datastores: some clone sits on an unattached datastore, or two attached
// datastores differ by more than one clone (empty ones count as 0). It is
// true exactly when Rebalance would return moves.
func Imbalance(clones []Clone, datastores []string) bool {
	ids := normalize(datastores)
	if len(ids) == 0 || len(clones) == 0 {
		return false
	}
	counts := Counts(clones)
	lo, hi, onAttached := counts[ids[0]], counts[ids[0]], 0
	for _, id := range ids {
		c := counts[id]
		lo, hi = min(lo, c), max(hi, c)
		onAttached += c
	}
	return onAttached < len(clones) || hi-lo > 1
}

// MinMoves returns the minimum number of moves that balance the clones over
// the attached datastores: every clone on an unattached datastore plus, for
// each attached datastore, its excess over the optimal Targets. It equals
// len(Rebalance(clones, datastores)).
func MinMoves(clones []Clone, datastores []string) int {
	ids := normalize(datastores)
	if len(ids) == 0 {
		return 0
	}
	counts := Counts(clones)
	targets := Targets(len(clones), ids, counts)
	moves := len(clones)
	for _, id := range ids {
		moves -= min(counts[id], targets[id]) // clones that stay
	}
	return moves
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

// bucket is a datastore or host with a load.
type bucket struct {
	id string
	n  int
}

// bucketHeap is a min-heap on load, ties by ID.
type bucketHeap []bucket

func (h bucketHeap) Len() int { return len(h) }
func (h bucketHeap) Less(i, j int) bool {
	return cmp.Or(cmp.Compare(h[i].n, h[j].n), cmp.Compare(h[i].id, h[j].id)) < 0
}
func (h bucketHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *bucketHeap) Push(x any) {
	b, ok := x.(bucket)
	if !ok {
		panic(fmt.Sprintf("bucketHeap holds buckets, not %T", x))
	}
	*h = append(*h, b)
}
func (h *bucketHeap) Pop() any {
	old := *h
	b := old[len(old)-1]
	*h = old[:len(old)-1]
	return b
}
