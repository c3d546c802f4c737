package engine

import (
	"context"
	"errors"
	"fmt"
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

// hostDrift reads the pool's hosts and says, in words, what their state asks of the pool:
// clones and parents to move off hosts that take no VM now, and clones to spread when hosts
// are uneven.
func (e *Engine) hostDrift(ctx context.Context, rec *poolRecord, p *Pool, internal *internalSet) ([]string, error) {
	if rec.ResourcePool == "" {
		return nil, nil
	}
	found, err := e.vc.Environment(ctx, rec.ResourcePool, p.AllDatastores)
	if errors.Is(err, ErrNotFound) {
		return nil, nil // a resource pool or datastore gone: the next apply names it
	}
	if err != nil {
		return nil, fmt.Errorf("reading the hosts of pool %s: %w", rec.Name, err)
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
	// With immediate, the planner says whether the hosts need evening out; the datastores'
	// own imbalance has its line already.
	if rec.Rebalance == RebalanceImmediate && !unbalanced(p) {
		if pattern, err := ParseNamingPattern(rec.NamingPattern); err == nil {
			plan, err := planConverge(p.Clones, rec.Size, pattern, generation{rec.ImageID, rec.PushToken}, env, rec.Rebalance)
			if err == nil && slices.ContainsFunc(plan.Jobs, func(j cloneJob) bool { return j.Reason == placement.Rebalance }) {
				out = append(out, "clones are unbalanced across hosts: "+formatHostCounts(p.Clones, env))
			}
		}
	}
	return out, nil
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
