package placement

import (
	"cmp"
	"slices"
)

// balance is Decide's immediate policy: it keeps as many clones in place as an even spread
// allows and says where the others go. The datastores that take clones end within one of
// each other (capacity allowing: a full datastore holds its limit and the rest share the
// remainder), and so do the hosts. Which clones stay is a maximum flow from datastores to
// hosts, each bounded by its target, through the clones already on each (datastore, host):
// no other choice keeps more in place. The places left are filled the same way, from each
// datastore's shortfall to each host's, over the hosts that mount it.
func balance(size int, stay []Clone, ds []Datastore) (moved []Clone, slots []slot) {
	takers := taking(ds)
	now := newLoad(stay)
	dsTargets := cappedTargets(size, takers, now.ds)
	var hosts []string
	for _, d := range takers {
		hosts = append(hosts, d.Hosts...)
	}
	hosts = normalize(hosts)
	hostTargets := Targets(size, hosts, now.host)
	ids := make([]string, len(takers))
	for i, d := range takers {
		ids[i] = d.ID
	}

	// Keep the most clones in place.
	cells := map[slot][]Clone{}
	for _, c := range stay {
		cells[slot{c.Datastore, c.Host}] = append(cells[slot{c.Datastore, c.Host}], c)
	}
	staying := transport(ids, hosts, dsTargets, hostTargets, func(d, h string) int { return len(cells[slot{d, h}]) })
	var kept []Clone
	for _, cell := range sortedSlots(cells) {
		cs := cells[cell]
		slices.SortFunc(cs, compareClones)
		n := staying[cell]
		kept = append(kept, cs[:n]...)
		moved = append(moved, cs[n:]...)
	}

	// Fill each datastore's shortfall on the hosts short of clones that mount it.
	after := newLoad(kept)
	short, hostShort := map[string]int{}, map[string]int{}
	for _, id := range ids {
		short[id] = dsTargets[id] - after.ds[id]
	}
	for _, h := range hosts {
		hostShort[h] = hostTargets[h] - after.host[h]
	}
	mounts := map[slot]bool{}
	for _, d := range takers {
		for _, h := range d.Hosts {
			mounts[slot{d.ID, h}] = true
		}
	}
	fill := transport(ids, hosts, short, hostShort, func(d, h string) int {
		if mounts[slot{d, h}] {
			return size
		}
		return 0
	})
	// What the mounts kept from even hosts goes to the least loaded host of its datastore.
	for cell, n := range fill {
		for range n {
			after.add(cell)
		}
	}
	for _, d := range takers {
		for ; after.ds[d.ID] < dsTargets[d.ID]; fill[after.take(d.ID, d.Hosts)]++ {
		}
	}
	free := map[string]int64{}
	for _, d := range takers {
		free[d.ID] = d.Free
	}
	return moved, interleave(fill, kept, free)
}

// interleave orders the places so that clones made in number order spread as they go: each
// next one takes the place whose datastore holds the fewest so far (the one with more free
// space of two), then whose host, then pair. Any
// first clones of the pool are then spread too, so a shrink, which removes the highest
// numbers, leaves the rest balanced.
func interleave(fill map[slot]int, kept []Clone, free map[string]int64) []slot {
	l := newLoad(kept)
	var out []slot
	for {
		best, found := slot{}, false
		for _, cell := range sortedSlots(fill) {
			if fill[cell] == 0 {
				continue
			}
			if !found || cmp.Or(cmp.Compare(l.ds[cell.ds], l.ds[best.ds]), cmp.Compare(free[best.ds], free[cell.ds]), cmp.Compare(l.host[cell.host], l.host[best.host]), cmp.Compare(l.pair[cell], l.pair[best])) < 0 {
				best, found = cell, true
			}
		}
		if !found {
			return out
		}
		fill[best]--
		l.add(best)
		out = append(out, best)
	}
}

// cappedTargets spreads total clones over the datastores as evenly as their limits allow:
// each next clone goes to the datastore with the fewest so far that has room, ties to the one
// holding more clones now (that keeps more in place), then to the one with more free space,
// then by ID.
func cappedTargets(total int, takers []Datastore, current map[string]int) map[string]int {
	t := make(map[string]int, len(takers))
	for range total {
		best := -1
		for i, d := range takers {
			if d.Limit != Unlimited && t[d.ID] >= d.Limit {
				continue
			}
			if best < 0 || cmp.Or(cmp.Compare(t[d.ID], t[takers[best].ID]), cmp.Compare(current[takers[best].ID], current[d.ID]), cmp.Compare(takers[best].Free, d.Free)) < 0 {
				best = i
			}
		}
		if best < 0 {
			break
		}
		t[takers[best].ID]++
	}
	return t
}

// transport is a maximum flow from the datastores (each up to its supply) to the hosts (each
// up to its demand) through the (datastore, host) pairs (each up to capacity). It returns the
// flow of each pair.
func transport(ds, hosts []string, supply, demand map[string]int, capacity func(ds, host string) int) map[slot]int {
	// Nodes: 0 source, 1..len(ds) datastores, then hosts, then the sink.
	n := len(ds) + len(hosts) + 2
	sink := n - 1
	c := make([][]int, n)
	for i := range c {
		c[i] = make([]int, n)
	}
	for i, d := range ds {
		c[0][1+i] = max(supply[d], 0)
		for j, h := range hosts {
			c[1+i][1+len(ds)+j] = capacity(d, h)
		}
	}
	for j, h := range hosts {
		c[1+len(ds)+j][sink] = max(demand[h], 0)
	}
	flow := make([][]int, n)
	for i := range flow {
		flow[i] = make([]int, n)
	}
	for {
		// Breadth-first search for the shortest augmenting path, lowest node first.
		prev := make([]int, n)
		for i := range prev {
			prev[i] = -1
		}
		prev[0] = 0
		queue := []int{0}
		for len(queue) > 0 && prev[sink] < 0 {
			u := queue[0]
			queue = queue[1:]
			for v := range n {
				if prev[v] < 0 && c[u][v]-flow[u][v] > 0 {
					prev[v] = u
					queue = append(queue, v)
				}
			}
		}
		if prev[sink] < 0 {
			break
		}
		push := -1
		for v := sink; v != 0; v = prev[v] {
			if r := c[prev[v]][v] - flow[prev[v]][v]; push < 0 || r < push {
				push = r
			}
		}
		for v := sink; v != 0; v = prev[v] {
			flow[prev[v]][v] += push
			flow[v][prev[v]] -= push
		}
	}
	out := map[slot]int{}
	for i, d := range ds {
		for j, h := range hosts {
			if f := flow[1+i][1+len(ds)+j]; f > 0 {
				out[slot{d, h}] = f
			}
		}
	}
	return out
}

// sortedSlots lists a map's (datastore, host) keys in order.
func sortedSlots[V any](m map[slot]V) []slot {
	out := make([]slot, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b slot) int { return cmp.Or(cmp.Compare(a.ds, b.ds), cmp.Compare(a.host, b.host)) })
	return out
}
