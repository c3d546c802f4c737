package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/instantclone/terraform-provider-instantclone/internal/placement"
)

// vSphere administrators patch hosts by putting them into maintenance mode, which waits until
// no powered-on VM is left on the host; hosts also disconnect, and new ones join. A pool
// follows: the hosts it uses are those of its resource pool that are connected and not in
// (nor entering) maintenance mode (placeOn), clones and parents on any other host are drift
// that the next apply moves away, and with rebalance = "immediate" a host that came back or
// joined takes its share of the clones.

// environmentOf reads the state of the pool's hosts and datastores; nil when its resource
// pool or a datastore is gone (the next apply names it).
func (e *Engine) environmentOf(ctx context.Context, rec *poolRecord, datastores []string) (*Environment, error) {
	if rec.ResourcePool == "" {
		return nil, nil
	}
	found, err := e.vc.Environment(ctx, rec.ResourcePool, datastores)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the hosts of pool %s: %w", rec.Name, err)
	}
	return found, nil
}

// hostDrift says, in words, what the state of the pool's hosts and datastores asks of the
// pool: clones and parents to move off hosts that take no VM now, and clones to spread when
// hosts are uneven. Nothing when that state is unknown.
func hostDrift(rec *poolRecord, p *Pool, internal *internalSet, found *Environment) ([]string, error) {
	if found == nil {
		return nil, nil
	}
	var out []string
	var off []string
	for _, c := range p.Clones {
		if why, unusable := found.Unusable[c.Host]; unusable {
			off = append(off, fmt.Sprintf("%s on %s (%s)", c.Name, c.Host, why))
		}
	}
	if len(off) > 0 {
		out = append(out, fmt.Sprintf("%d clone(s) on a host that takes no VM now; apply recreates them elsewhere: %s", len(off), abbreviate(off)))
	}
	var parents []string
	if internal != nil {
		for _, vm := range internal.ofImage(rec.ImageID, roleParent) {
			if why, unusable := found.Unusable[vm.Host]; unusable {
				parents = append(parents, fmt.Sprintf("%s on %s (%s)", vm.Name, vm.Host, why))
			}
		}
	}
	if len(parents) > 0 {
		out = append(out, fmt.Sprintf("%d parent VM(s) on a host that takes no VM now; apply removes them, so that the host can enter maintenance mode: %s", len(parents), abbreviate(parents)))
	}
	env, err := placeOn(rec.PoolSpec, p.AllDatastores, found)
	if err != nil {
		if ie, ok := AsInputError(err); ok {
			return append(out, ie.Detail), nil
		}
		return nil, err
	}
	return append(out, storeDrift(rec, p, internal, env)...), nil
}

// storeDrift says what the datastores' state asks of the pool: the planner's evacuations of
// datastores that take no clone now or hold more than the limit, the internal VMs there, and
// with immediate the hosts to even out.
func storeDrift(rec *poolRecord, p *Pool, internal *internalSet, env *placementEnv) []string {
	pattern, err := ParseNamingPattern(rec.NamingPattern)
	if err != nil {
		return nil
	}
	plan, err := planConverge(p.Clones, rec.Size, pattern, generation{rec.ImageID, rec.PushToken}, env, rec.Rebalance)
	if err != nil {
		return []string{err.Error()}
	}
	var out, refused, over []string
	where := map[string]Clone{}
	for _, c := range p.Clones {
		where[c.Name] = c
	}
	for _, j := range plan.Jobs {
		c, ok := where[j.Name]
		if !ok || j.Reason != placement.Evacuate || !slices.Contains(env.hosts[c.Datastore], c.Host) {
			continue // a missing clone, or one on a host or datastore the pool cannot use: said above
		}
		if why, no := env.refuses[c.Datastore]; no {
			refused = append(refused, fmt.Sprintf("%s on %s (%s)", c.Name, c.Datastore, why))
		} else {
			over = append(over, fmt.Sprintf("%s on %s", c.Name, c.Datastore))
		}
	}
	if len(refused) > 0 {
		out = append(out, fmt.Sprintf("%d clone(s) on a datastore that takes no clone now; apply moves them: %s", len(refused), abbreviate(refused)))
	}
	if len(over) > 0 {
		out = append(out, fmt.Sprintf("%d clone(s) past the limit of %d per datastore: %s", len(over), rec.MaxClonesPerDatastore, abbreviate(over)))
	}
	if internal != nil && rec.Rebalance == RebalanceImmediate {
		var stranded []string
		for _, vm := range internal.ofImage(rec.ImageID, roleReplica, roleParent) {
			if why, no := env.refuses[vm.Datastore]; no {
				stranded = append(stranded, fmt.Sprintf("%s on %s (%s)", vm.Name, vm.Datastore, why))
			}
		}
		if len(stranded) > 0 {
			out = append(out, fmt.Sprintf("%d internal VM(s) on a datastore that takes no clone now; apply removes them once no clone needs them: %s", len(stranded), abbreviate(stranded)))
		}
	}
	// With immediate, the planner says whether the spread needs evening out.
	if slices.ContainsFunc(plan.Jobs, func(j cloneJob) bool { return j.Reason == placement.Rebalance }) {
		taking := slices.Sorted(maps.Keys(env.placing()))
		counts := p.Distribution()
		lo, hi := -1, 0
		for _, ds := range taking {
			if lo < 0 || counts[ds] < lo {
				lo = counts[ds]
			}
			hi = max(hi, counts[ds])
		}
		if hi-lo > 1 {
			out = append(out, "clones are unbalanced across datastores: "+formatCounts(counts, taking))
		} else {
			out = append(out, "clones are unbalanced across hosts: "+formatHostCounts(p.Clones, env))
		}
	}
	return out
}

// formatHostCounts counts the clones on each usable host of the pool.
func formatHostCounts(clones []Clone, env *placementEnv) string {
	counts := map[string]int{}
	for _, c := range clones {
		counts[c.Host]++
	}
	var hosts []string
	for _, hs := range env.hosts {
		for _, h := range hs {
			if !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
	}
	sort.Strings(hosts)
	return formatCounts(counts, hosts)
}
