package placement

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Unlimited is a datastore's Limit when nothing bounds how many clones it holds.
const Unlimited = -1

// Input is everything one placement decision needs: the pool as vCenter shows it, and
// where its clones may go.
type Input struct {
	Size   int     // the clones the pool must have, numbered 1..Size
	Clones []Clone // the clones that exist
	// Datastores are the pool's attached datastores; a clone on any other datastore moves.
	Datastores []Datastore
	// Immediate rebalances: the clones end balanced over the datastores that take clones
	// (within one, capacity allowing) and over the hosts (within one), moving the fewest.
	// Otherwise only new and recreated clones are steered to the least loaded.
	Immediate bool
}

// Datastore is one attached datastore as placement sees it.
type Datastore struct {
	ID string
	// Hosts are the usable hosts that mount it; a clone on another host moves.
	Hosts []string
	// Takes says it takes new clones (not in maintenance mode, accessible, above the pool's
	// free-space floor). With Immediate, clones on one that does not take any move.
	Takes bool
	// Limit is the most clones of the pool it may hold, or Unlimited.
	Limit int
	// Free is its free space in bytes: of two datastores holding as many of the pool's
	// clones, the one with more room takes the next, so pools sharing datastores do not all
	// pile onto the first.
	Free int64
}

// Reason says why a job (re)creates a clone.
type Reason string

// The reasons for a job.
const (
	Missing   Reason = "missing"   // a clone the pool lacks
	Recreate  Reason = "recreate"  // a clone that must be made again where it may (push-image)
	Evacuate  Reason = "evacuate"  // a clone where it may not stay: a datastore or host the pool cannot use
	Rebalance Reason = "rebalance" // a clone moved only to even the spread
)

// Job makes clone Index on Datastore and Host; Replaces says a clone of that number exists
// and is removed first.
type Job struct {
	Index     int
	Replaces  bool
	Datastore string
	Host      string
	Reason    Reason
}

// Plan is what converges a pool: the clones to remove for good (past Size, or a second
// clone of one number), then the jobs, by clone number.
type Plan struct {
	Remove []Clone
	Jobs   []Job
}

// Moves counts the jobs that recreate a clone elsewhere to rebalance or evacuate.
func (p Plan) Moves() int {
	n := 0
	for _, j := range p.Jobs {
		if j.Reason.Moves() {
			n++
		}
	}
	return n
}

// Moves says a job for this reason recreates a clone elsewhere, not a new or stale one.
func (r Reason) Moves() bool { return r == Rebalance || r == Evacuate }

// CapacityError says the datastores cannot hold the pool: how many clones fit where.
type CapacityError struct {
	Size int
	Fit  map[string]int // datastore → clones it can hold; absent: takes none
	Held int            // clones staying on datastores that take no new clone
}

func (e *CapacityError) Error() string {
	ids := make([]string, 0, len(e.Fit))
	total := e.Held
	for id := range e.Fit {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	parts := make([]string, 0, len(ids))
	for _, id := range ids {
		parts = append(parts, fmt.Sprintf("%s: %d", id, e.Fit[id]))
		total += e.Fit[id]
	}
	where := strings.Join(parts, ", ")
	if where == "" {
		where = "no datastore takes new clones"
	}
	return fmt.Sprintf("the pool needs %d clones and its datastores hold at most %d (%s)", e.Size, total, where)
}

// Decide plans a pool's convergence. It is pure and deterministic: ties are broken by ID and
// clone number, never by map order, and the input is not modified.
func Decide(in Input) (Plan, error) {
	ds := normalizeDatastores(in.Datastores)
	keep, remove := byNumber(in.Clones, in.Size)
	var plan Plan
	plan.Remove = remove

	// Clones that may stay where they are, and the rest with why they move.
	var stay []Clone
	place := map[int]Reason{}
	for i := 1; i <= in.Size; i++ {
		c, ok := keep[i]
		switch {
		case !ok:
			place[i] = Missing
		case c.Stale:
			place[i] = Recreate
		case !canStay(ds, c, in.Immediate):
			place[i] = Evacuate
		default:
			stay = append(stay, c)
		}
	}
	stay, over := withinLimits(stay, ds)
	for _, c := range over {
		place[c.Index] = Evacuate
	}
	if err := checkCapacity(in.Size, stay, ds); err != nil {
		return Plan{}, err
	}

	var slots []slot
	if in.Immediate {
		var moved []Clone
		moved, slots = balance(in.Size, stay, ds)
		for _, c := range moved {
			place[c.Index] = Rebalance
		}
	} else {
		slots = leastLoaded(len(place), stay, ds)
	}

	numbers := make([]int, 0, len(place))
	for i := range place {
		numbers = append(numbers, i)
	}
	slices.Sort(numbers)
	for k, i := range numbers {
		_, exists := keep[i]
		plan.Jobs = append(plan.Jobs, Job{Index: i, Replaces: exists, Datastore: slots[k].ds, Host: slots[k].host, Reason: place[i]})
	}
	return plan, nil
}

// slot is a place for one clone.
type slot struct{ ds, host string }

// byNumber keeps one clone per number in 1..size (the first by name when two share one) and
// returns the others, highest number first.
func byNumber(clones []Clone, size int) (map[int]Clone, []Clone) {
	sorted := slices.Clone(clones)
	slices.SortFunc(sorted, compareClones)
	keep := map[int]Clone{}
	var remove []Clone
	for _, c := range sorted {
		if _, dup := keep[c.Index]; dup || c.Index < 1 || c.Index > size {
			remove = append(remove, c)
			continue
		}
		keep[c.Index] = c
	}
	slices.SortFunc(remove, func(a, b Clone) int { return compareClones(b, a) })
	return keep, remove
}

// canStay: on an attached datastore, on a usable host that mounts it; with Immediate, on a
// datastore that takes clones.
func canStay(ds []Datastore, c Clone, immediate bool) bool {
	d := find(ds, c.Datastore)
	return d != nil && slices.Contains(d.Hosts, c.Host) && (d.Takes || !immediate)
}

// withinLimits keeps, on each datastore, its lowest-numbered clones up to its limit.
func withinLimits(stay []Clone, ds []Datastore) (kept, over []Clone) {
	held := map[string]int{}
	slices.SortFunc(stay, compareClones)
	for _, c := range stay {
		d := find(ds, c.Datastore)
		if d.Limit != Unlimited && held[c.Datastore] >= d.Limit {
			over = append(over, c)
			continue
		}
		held[c.Datastore]++
		kept = append(kept, c)
	}
	return kept, over
}

// checkCapacity fails when the datastores that take clones cannot hold the clones to place.
func checkCapacity(size int, stay []Clone, ds []Datastore) error {
	room, held := 0, 0
	fit := map[string]int{}
	for _, c := range stay {
		if d := find(ds, c.Datastore); !d.Takes {
			held++
		}
	}
	for _, d := range ds {
		if !d.Takes || len(d.Hosts) == 0 {
			continue
		}
		if d.Limit == Unlimited {
			return nil
		}
		fit[d.ID] = d.Limit
		room += d.Limit
	}
	if held+room >= size {
		return nil
	}
	return &CapacityError{Size: size, Fit: fit, Held: held}
}

// taking lists the datastores new clones may go to.
func taking(ds []Datastore) []Datastore {
	var out []Datastore
	for _, d := range ds {
		if d.Takes && len(d.Hosts) > 0 && d.Limit != 0 {
			out = append(out, d)
		}
	}
	return out
}

// leastLoaded places n clones one at a time on the least loaded datastore that has room, and
// on its least loaded host.
func leastLoaded(n int, stay []Clone, ds []Datastore) []slot {
	load := newLoad(stay)
	takers := taking(ds)
	out := make([]slot, 0, n)
	for range n {
		var best *Datastore
		for i, d := range takers {
			if d.Limit != Unlimited && load.ds[d.ID] >= d.Limit {
				continue
			}
			if best == nil || cmp.Or(cmp.Compare(load.ds[d.ID], load.ds[best.ID]), cmp.Compare(best.Free, d.Free)) < 0 {
				best = &takers[i]
			}
		}
		if best == nil {
			break // unreachable: checkCapacity made room for every clone
		}
		out = append(out, load.take(best.ID, best.Hosts))
	}
	return out
}

// load counts clones per datastore, per host and per (datastore, host).
type load struct {
	ds, host map[string]int
	pair     map[slot]int
}

func newLoad(cs []Clone) *load {
	l := &load{ds: map[string]int{}, host: map[string]int{}, pair: map[slot]int{}}
	for _, c := range cs {
		l.add(slot{c.Datastore, c.Host})
	}
	return l
}

func (l *load) add(s slot) {
	l.ds[s.ds]++
	l.host[s.host]++
	l.pair[s]++
}

// take places a clone on ds, on the host of hosts with the fewest clones (then the fewest of
// this datastore's, then by ID), and counts it.
func (l *load) take(ds string, hosts []string) slot {
	best := ""
	for _, h := range hosts {
		if best == "" || cmp.Or(cmp.Compare(l.host[h], l.host[best]), cmp.Compare(l.pair[slot{ds, h}], l.pair[slot{ds, best}])) < 0 {
			best = h
		}
	}
	s := slot{ds, best}
	l.add(s)
	return s
}

func find(ds []Datastore, id string) *Datastore {
	for i := range ds {
		if ds[i].ID == id {
			return &ds[i]
		}
	}
	return nil
}

// normalizeDatastores sorts the datastores by ID, keeps the first of each ID, and sorts and
// de-duplicates each one's hosts.
func normalizeDatastores(in []Datastore) []Datastore {
	out := make([]Datastore, 0, len(in))
	for _, d := range in {
		if d.ID == "" || find(out, d.ID) != nil {
			continue
		}
		d.Hosts = normalize(d.Hosts)
		if d.Limit < 0 {
			d.Limit = Unlimited
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b Datastore) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
