package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/instantclone/terraform-provider-instantclone/internal/placement"
	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

// placementEnv is where a pool's clones may go: the attached datastores and, for each, the
// hosts of the pool's resource pool that mount it.
type placementEnv struct {
	datastores []string
	hosts      map[string][]string
}

// resolve checks every object a spec names, before anything is created.
func (e *Engine) resolve(ctx context.Context, spec PoolSpec, attachments []string) (*placementEnv, error) {
	pattern, err := ParseNamingPattern(spec.NamingPattern)
	if err != nil {
		return nil, inputError("naming_pattern", "Invalid naming pattern", "%s", err)
	}
	if c := pattern.Capacity(); c > 0 && spec.Size > c {
		return nil, inputError("naming_pattern", "Naming pattern too narrow", "Pattern %q can number at most %d clones, but size is %d; widen the fixed width.", spec.NamingPattern, c, spec.Size)
	}
	if spec.Rebalance != RebalanceImmediate && spec.Rebalance != RebalanceOnProvision {
		return nil, inputError("rebalance", "Invalid rebalance policy", "rebalance must be %q or %q, not %q.", RebalanceImmediate, RebalanceOnProvision, spec.Rebalance)
	}
	img, err := e.ReadImage(ctx, spec.ImageID)
	if errors.Is(err, ErrNotFound) || (err == nil && !img.Published) {
		return nil, inputError("image_id", "Image not published", "No published image has ID %q; create it with an instantclone_image resource (or apply it again if its template was removed).", spec.ImageID)
	}
	if err != nil {
		return nil, err
	}
	hosts, err := e.vc.ResourcePoolHosts(ctx, spec.ResourcePool)
	if errors.Is(err, vsphere.ErrNotFound) {
		return nil, inputError("resource_pool_id", "Resource pool not found", "No resource pool has ID %q; use a managed object ID such as resgroup-8 (data.vsphere_compute_cluster.x.resource_pool_id).", spec.ResourcePool)
	}
	if err != nil {
		return nil, err
	}
	env := &placementEnv{datastores: union(spec.Datastores, attachments), hosts: map[string][]string{}}
	if len(env.datastores) == 0 && spec.Size > 0 {
		return nil, inputError("datastore_ids", "No datastores", "A pool with clones needs at least one datastore; detaching the last one would leave its %d clone(s) nowhere to go.", spec.Size)
	}
	for _, ds := range env.datastores {
		mounts, err := e.vc.DatastoreHosts(ctx, ds)
		if errors.Is(err, vsphere.ErrNotFound) {
			return nil, inputError("datastore_ids", "Datastore not found", "No datastore has ID %q; use managed object IDs such as datastore-12 (data.vsphere_datastore.x.id).", ds)
		}
		if err != nil {
			return nil, err
		}
		for _, h := range hosts {
			for _, m := range mounts {
				if h == m {
					env.hosts[ds] = append(env.hosts[ds], h)
				}
			}
		}
		if len(env.hosts[ds]) == 0 {
			return nil, inputError("datastore_ids", "Datastore not visible from the pool's hosts", "Datastore %s is not mounted on any host of resource pool %s (%v).", ds, spec.ResourcePool, hosts)
		}
	}
	return env, nil
}

// generation is what a clone must have been made from: an image, under a push token.
type generation struct{ image, token string }

func (g generation) of(c Clone) bool { return c.ImageID == g.image && c.PushToken == g.token }

// cloneJob creates clone Name on Datastore/Host; OldID, when set, is the clone it replaces.
type cloneJob struct {
	Name      string
	Index     int
	OldID     string
	Datastore string
	Host      string
	Move      bool // a rebalance move, not a push or a repair
}

// convergePlan is everything a converge will do.
type convergePlan struct {
	Remove []Clone
	Jobs   []cloneJob
}

// Moves counts the clones recreated only to change datastore.
func (p convergePlan) Moves() int {
	n := 0
	for _, j := range p.Jobs {
		if j.Move {
			n++
		}
	}
	return n
}

// planConverge decides which clones to remove, recreate and create, and where. Clones beyond
// size go first (highest numbers); clones on unattached datastores always move; with
// immediate, datastores above their balanced target give up their highest-numbered clones;
// clones on another image are recreated; every clone created goes to the least-loaded datastore
// and host.
func planConverge(clones []Clone, size int, pattern NamingPattern, target generation, env *placementEnv, policy string) convergePlan {
	var plan convergePlan
	attached := map[string]bool{}
	for _, ds := range env.datastores {
		attached[ds] = true
	}
	byIndex := map[int]Clone{}
	for _, c := range clones {
		if c.Index < 1 || c.Index > size {
			plan.Remove = append(plan.Remove, c)
			continue
		}
		byIndex[c.Index] = c
	}
	var stay, place []Clone // place: clones to (re)create, with Index; ID set when replacing
	for i := 1; i <= size; i++ {
		c, ok := byIndex[i]
		switch {
		case !ok:
			place = append(place, Clone{Name: pattern.Name(i), Index: i})
		case !target.of(c):
			place = append(place, c)
		case !attached[c.Datastore]:
			place = append(place, c)
		default:
			stay = append(stay, c)
		}
	}
	toPlacement := func(cs []Clone) []placement.Clone {
		out := make([]placement.Clone, len(cs))
		for i, c := range cs {
			out[i] = placement.Clone{Name: c.Name, Index: c.Index, Datastore: c.Datastore, Host: c.Host}
		}
		return out
	}
	if policy == RebalanceImmediate {
		targets := placement.Targets(size, env.datastores, placement.Counts(toPlacement(stay)))
		byDS := map[string][]Clone{}
		for _, c := range stay {
			byDS[c.Datastore] = append(byDS[c.Datastore], c)
		}
		var kept []Clone
		for _, ds := range sortedKeys(byDS) {
			cs := byDS[ds]
			sort.Slice(cs, func(i, j int) bool { return cs[i].Index < cs[j].Index })
			over := len(cs) - targets[ds]
			if over < 0 {
				over = 0
			}
			kept = append(kept, cs[:len(cs)-over]...)
			place = append(place, cs[len(cs)-over:]...)
		}
		stay = kept
	}
	sort.Slice(place, func(i, j int) bool { return place[i].Index < place[j].Index })
	dsPicks := placement.Spread(len(place), placement.Counts(toPlacement(stay)), env.datastores)
	hosts := newHostLoad(stay)
	for i, c := range place {
		ds := dsPicks[i]
		host := hosts.pick(ds, env.hosts[ds])
		plan.Jobs = append(plan.Jobs, cloneJob{
			Name: c.Name, Index: c.Index, OldID: c.ID, Datastore: ds, Host: host,
			Move: c.ID != "" && target.of(c),
		})
	}
	sort.Slice(plan.Remove, func(i, j int) bool { return plan.Remove[i].Index > plan.Remove[j].Index })
	return plan
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

// converge brings pool id to spec: publish the image onto its datastores and hosts, remove,
// recreate and create clones, record the result, and collect internal VMs no pool needs.
// policy, when set, overrides spec.Rebalance for this run.
func (e *Engine) converge(ctx context.Context, id string, rec *poolRecord, spec PoolSpec, env *placementEnv, policy string) error {
	if policy == "" {
		policy = spec.Rebalance
	}
	target := generation{spec.ImageID, spec.PushToken}
	oldImage := rec.ImageID
	current := generation{rec.ImageID, rec.PushToken}
	// Record the declared pool first, with the push pending, so that an apply cut short
	// leaves a record of what it was doing.
	rec.Name, rec.ResourcePool, rec.Folder, rec.Datastores = spec.Name, spec.ResourcePool, spec.Folder, spec.Datastores
	rec.Size, rec.NamingPattern, rec.Rebalance, rec.GuestInfo = spec.Size, spec.NamingPattern, spec.Rebalance, spec.GuestInfo
	rec.BatchSize, rec.StopOnFirstError = spec.BatchSize, spec.StopOnFirstError
	if rec.ImageID == "" {
		rec.ImageID, rec.PushToken = spec.ImageID, spec.PushToken
	} else if target != current {
		rec.PendingImageID, rec.PendingPushToken = target.image, target.token
	}
	rec.Placement = env.hosts
	if err := e.writeRecord(ctx, id, rec); err != nil {
		return fmt.Errorf("recording pool %s: %w", spec.Name, err)
	}

	parents := map[placementKey]string{}
	if spec.Size > 0 {
		var err error
		if parents, err = e.publishOnto(ctx, target.image, env.hosts); err != nil {
			return err
		}
	}
	pool, err := e.ReadPool(ctx, id)
	if err != nil {
		return err
	}
	pattern, _ := ParseNamingPattern(spec.NamingPattern)
	plan := planConverge(pool.Clones, spec.Size, pattern, target, env, policy)
	e.log(ctx, "converging pool", map[string]any{
		"pool": id, "remove": len(plan.Remove), "create_or_recreate": len(plan.Jobs), "moves": plan.Moves(),
	})
	if err := e.removeClones(ctx, plan.Remove); err != nil {
		return err
	}
	if err := e.runJobs(ctx, id, spec, target, parents, plan.Jobs); err != nil {
		return err
	}
	rec.ImageID, rec.PushToken = target.image, target.token
	rec.PendingImageID, rec.PendingPushToken = "", ""
	if err := e.writeRecord(ctx, id, rec); err != nil {
		return fmt.Errorf("recording pool %s: %w", spec.Name, err)
	}
	return e.collectGarbage(ctx, oldImage, target.image)
}

func (e *Engine) removeClones(ctx context.Context, clones []Clone) error {
	failures := &CloneFailures{Action: "remove", Failures: map[string]error{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range clones {
		wg.Go(func() {
			err := e.slot(ctx, func() error { return e.vc.RemoveVM(ctx, c.ID, c.PoweredOn) })
			if err != nil {
				mu.Lock()
				failures.Failures[c.Name] = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(failures.Failures) > 0 {
		return failures
	}
	return nil
}

// runJobs creates and recreates clones, as many at once as the engine's slots allow. A clone
// being recreated is out of service from its removal until its replacement runs, so at most
// batch_size recreations are in flight at once; creating a missing clone takes nothing out of
// service and needs no batch place.
func (e *Engine) runJobs(ctx context.Context, poolID string, spec PoolSpec, target generation, parents map[placementKey]string, jobs []cloneJob) error {
	if len(jobs) == 0 {
		return nil
	}
	batch := spec.BatchSize
	if batch < 1 {
		batch = e.Concurrency()
	}
	window := make(chan struct{}, batch)
	failures := &CloneFailures{Action: "create or recreate", Failures: map[string]error{}}
	var mu sync.Mutex
	var stop atomic.Bool
	var done atomic.Int64
	total := len(jobs)
	step := max(1, total/20)
	extra := map[string]string{}
	for k, v := range spec.GuestInfo {
		extra["guestinfo."+k] = v
	}
	var wg sync.WaitGroup
	for _, job := range jobs {
		wg.Go(func() {
			if job.OldID != "" {
				select {
				case window <- struct{}{}:
				case <-ctx.Done():
					return
				}
				defer func() { <-window }()
			}
			if stop.Load() || ctx.Err() != nil {
				return
			}
			err := e.cloneOne(ctx, poolID, spec, target, parents, job, extra)
			if err != nil {
				mu.Lock()
				failures.Failures[job.Name] = err
				mu.Unlock()
				if spec.StopOnFirstError {
					stop.Store(true)
				}
				return
			}
			if n := done.Add(1); n%int64(step) == 0 || n == int64(total) {
				e.log(ctx, fmt.Sprintf("created %d/%d clones", n, total), map[string]any{"pool": poolID, "done": n, "of": total})
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stopped after %d of %d clone(s): %w", done.Load(), total, err)
	}
	if len(failures.Failures) > 0 {
		failures.Stopped = stop.Load() && int(done.Load())+len(failures.Failures) < total
		return failures
	}
	return nil
}

func (e *Engine) cloneOne(ctx context.Context, poolID string, spec PoolSpec, target generation, parents map[placementKey]string, job cloneJob, extra map[string]string) error {
	parent, ok := parents[placementKey{job.Datastore, job.Host}]
	if !ok {
		return fmt.Errorf("no parent VM of image %s on %s/%s", target.image, job.Datastore, job.Host)
	}
	if job.OldID != "" {
		if err := e.slot(ctx, func() error { return e.vc.RemoveVM(ctx, job.OldID, true) }); err != nil {
			return err
		}
	}
	var id string
	err := e.slot(ctx, func() error {
		var err error
		id, err = e.vc.InstantClone(ctx, vsphere.InstantCloneSpec{
			Parent: parent, Name: job.Name, Folder: poolID, Datastore: job.Datastore,
			Host: job.Host, Pool: spec.ResourcePool, ExtraConfig: extra,
		})
		return err
	})
	if err != nil {
		return err
	}
	marks := map[string]string{vsphere.FieldImage: target.image}
	if target.token != "" {
		marks[vsphere.FieldPushToken] = target.token
	}
	return e.vc.SetFields(ctx, vsphere.VMRef(id), marks)
}
