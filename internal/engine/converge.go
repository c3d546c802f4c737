package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/instantclone/terraform-provider-instantclone/internal/placement"
)

// Converge is the one loop behind create, resize, push-image, rebalance and drift repair:
// publish the image where the pool needs it, plan (internal/placement decides every
// placement), remove and (re)create clones, record the result, collect internal VMs no pool
// needs. A pool grows by creating the numbers it lacks and shrinks by removing its
// highest-numbered clones; clones the pattern cannot number, or numbered twice, go too.

// placementEnv is where a pool's clones may go: the attached datastores and, for each, the
// hosts of the pool's resource pool that mount it.
type placementEnv struct {
	datastores []string            // the attached datastores a usable host mounts
	hosts      map[string][]string // for each of those, the usable hosts that mount it
	unusable   map[string]string   // the hosts that take no clone, and why
	refuses    map[string]string   // the datastores of those that take no new clone, and why
	limit      int                 // most clones of the pool per datastore; 0 none
	free       map[string]int64    // free bytes of each datastore
}

// placing is where new clones, and the replicas and parents they fork from, may go: the
// datastores that take clones, with their usable hosts.
func (env *placementEnv) placing() map[string][]string {
	out := map[string][]string{}
	for _, ds := range env.datastores {
		if _, refused := env.refuses[ds]; !refused {
			out[ds] = env.hosts[ds]
		}
	}
	return out
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
	if c := spec.Customization; c != nil {
		if problems := CheckCustomization(*c, spec.Size); len(problems) > 0 {
			return nil, inputError("customization", "Invalid customization", "%s", problems[0])
		}
	}
	if err := e.checkNetworks(ctx, img, spec); err != nil {
		return nil, err
	}
	datastores := union(spec.Datastores, attachments)
	if len(datastores) == 0 && spec.Size > 0 {
		return nil, inputError("datastore_ids", "No datastores", "A pool with clones needs at least one datastore; detaching the last one would leave its %d clone(s) nowhere to go.", spec.Size)
	}
	asked := datastores
	if spec.ReplicaDatastore != "" {
		asked = union(datastores, []string{spec.ReplicaDatastore})
	}
	found, err := e.vc.Environment(ctx, spec.ResourcePool, asked)
	var nf *NotFoundError
	if errors.As(err, &nf) && nf.Kind == "resource pool" {
		return nil, inputError("resource_pool_id", "Resource pool not found", "No resource pool has ID %q; use a managed object ID such as resgroup-8 (data.vsphere_compute_cluster.x.resource_pool_id).", spec.ResourcePool)
	}
	if errors.As(err, &nf) && nf.Kind == "datastore" && nf.Name == spec.ReplicaDatastore {
		return nil, inputError("replica_datastore_id", "Datastore not found", "No datastore has ID %q; use a managed object ID such as datastore-12 (data.vsphere_datastore.x.id).", nf.Name)
	}
	if errors.As(err, &nf) && nf.Kind == "datastore" {
		return nil, inputError("datastore_ids", "Datastore not found", "No datastore has ID %q; use managed object IDs such as datastore-12 (data.vsphere_datastore.x.id).", nf.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the hosts and datastores of pool %s: %w", spec.Name, err)
	}
	env, err := placeOn(spec, datastores, found)
	if err != nil {
		return nil, err
	}
	if err := checkReplicaDatastore(spec, env, found); err != nil {
		return nil, err
	}
	return env, env.checkRoom(spec)
}

// checkReplicaDatastore: the replica datastore must take VMs now, and every host that runs
// the pool's parents must mount it, since a parent's disks are deltas on the replica's.
func checkReplicaDatastore(spec PoolSpec, env *placementEnv, found *Environment) error {
	r := spec.ReplicaDatastore
	if r == "" || spec.Size == 0 {
		return nil
	}
	if why := refusal(found.Stores[r], 0); why != "" {
		return inputError("replica_datastore_id", "Replica datastore takes no VM", "Datastore %s is %s: the image's replica cannot be made there.", r, why)
	}
	for _, hosts := range env.placing() {
		for _, h := range hosts {
			if !slices.Contains(found.Mounts[r], h) {
				return inputError("replica_datastore_id", "Replica datastore not visible from the pool's hosts", "Host %s runs the pool's parents, but does not mount replica datastore %s: each parent's disks are deltas on the replica's.", h, r)
			}
		}
	}
	return nil
}

// checkRoom fails, before anything is made, a pool its datastores cannot hold: with a clone
// limit, the datastores that take clones hold at most that many each. (Clones that stay on a
// datastore that takes no new clone count too under on_provision; the planner counts them.)
func (env *placementEnv) checkRoom(spec PoolSpec) error {
	if spec.Size == 0 || (len(env.refuses) > 0 && spec.Rebalance != RebalanceImmediate) {
		return nil
	}
	fit := map[string]int{}
	room := 0
	for ds := range env.placing() {
		if env.limit == 0 {
			return nil
		}
		fit[ds] = env.limit
		room += env.limit
	}
	if room >= spec.Size {
		return nil
	}
	return capacityError(&placement.CapacityError{Size: spec.Size, Fit: fit})
}

// placeOn keeps, of the pool's datastores and the resource pool's hosts, what can take
// clones now: hosts that are connected and not in (nor entering) maintenance mode, and the
// datastores one of those mounts. A datastore no usable host mounts takes no clone, and the
// clones on it move; a pool with clones and no usable host at all fails, naming every host.
func placeOn(spec PoolSpec, datastores []string, found *Environment) (*placementEnv, error) {
	env := &placementEnv{hosts: map[string][]string{}, unusable: found.Unusable, refuses: map[string]string{}, limit: spec.MaxClonesPerDatastore, free: map[string]int64{}}
	for _, ds := range datastores {
		mounted := false
		for _, h := range found.Hosts {
			if !slices.Contains(found.Mounts[ds], h) {
				continue
			}
			mounted = true
			if _, out := found.Unusable[h]; !out {
				env.hosts[ds] = append(env.hosts[ds], h)
			}
		}
		if !mounted {
			return nil, inputError("datastore_ids", "Datastore not visible from the pool's hosts", "Datastore %s is not mounted on any host of resource pool %s (%v).", ds, spec.ResourcePool, found.Hosts)
		}
		if len(env.hosts[ds]) > 0 {
			env.datastores = append(env.datastores, ds)
		}
		env.free[ds] = found.Stores[ds].Free
		if why := refusal(found.Stores[ds], spec.MinFreeSpaceGB); why != "" {
			env.refuses[ds] = why
		}
	}
	if len(env.datastores) == 0 && spec.Size > 0 {
		states := make([]string, 0, len(found.Hosts))
		for _, h := range found.Hosts {
			state := found.Unusable[h]
			if state == "" {
				state = "mounts none of the pool's datastores"
			}
			states = append(states, fmt.Sprintf("%s (%s)", h, state))
		}
		return nil, inputError("resource_pool_id", "No usable host", "No host of resource pool %s can take the pool's clones now: %s. Bring a host out of maintenance mode or reconnect it; nothing was changed.", spec.ResourcePool, strings.Join(states, ", "))
	}
	return env, nil
}

// ApplyPool converges an existing pool to spec: resize, push-image, rebalance, repair drift.
func (e *Engine) ApplyPool(ctx context.Context, id string, spec PoolSpec) (*Pool, error) {
	held, err := e.lockPool(ctx, id)
	if err != nil {
		return nil, err
	}
	defer held.unlock()
	ctx, rec, attachments := held.ctx, held.rec, held.att
	env, err := e.resolve(ctx, spec, attachments.ids())
	if err != nil {
		return nil, err
	}
	if spec.Name != rec.Name {
		if err := e.vc.RenameFolder(ctx, id, spec.Name); err != nil {
			return nil, fmt.Errorf("renaming pool %s to %s: %w", rec.Name, spec.Name, err)
		}
	}
	if err := e.converge(ctx, id, rec, spec, env, ""); err != nil {
		return nil, err
	}
	return e.ReadPool(ctx, id, LastSeen{ResourcePool: spec.ResourcePool, Datastores: union(spec.Datastores, attachments.ids())})
}

// converge brings pool id to spec. policy, when set, overrides spec.Rebalance for this run.
func (e *Engine) converge(ctx context.Context, id string, rec *poolRecord, spec PoolSpec, env *placementEnv, policy string) error {
	if policy == "" {
		policy = spec.Rebalance
	}
	pattern, err := ParseNamingPattern(spec.NamingPattern)
	if err != nil {
		return inputError("naming_pattern", "Invalid naming pattern", "%s", err)
	}
	target := generation{spec.ImageID, spec.PushToken}
	oldImage := rec.ImageID
	// Record the declared pool first, with the push pending, so that an apply cut short
	// leaves a record of what it was doing.
	rec.declare(spec, env)
	if err := e.writeRecord(ctx, id, rec); err != nil {
		return err
	}

	var pub *publication
	if spec.Size > 0 {
		if pub, err = e.publishOnto(ctx, target.image, spec, env.placing()); err != nil {
			return err
		}
	}
	err = e.convergeClones(ctx, id, spec, pattern, target, env, policy, pub)
	pub.releaseLock() // where no parent was assigned
	if err != nil {
		return err
	}
	rec.ImageID, rec.PushToken = target.image, target.token
	rec.PendingImageID, rec.PendingPushToken = "", ""
	if err := e.writeRecord(ctx, id, rec); err != nil {
		return err
	}
	return e.collectGarbage(ctx, rec, oldImage, target.image)
}

// declare records spec as the pool's, with a push to a new image or token pending until
// every clone runs it.
func (rec *poolRecord) declare(spec PoolSpec, env *placementEnv) {
	target, current := generation{spec.ImageID, spec.PushToken}, generation{rec.ImageID, rec.PushToken}
	image, token, pendingImage, pendingToken := rec.ImageID, rec.PushToken, rec.PendingImageID, rec.PendingPushToken
	rec.PoolSpec = spec
	switch {
	case image == "":
		rec.ImageID, rec.PushToken = spec.ImageID, spec.PushToken
	case target != current:
		rec.ImageID, rec.PushToken = image, token
		rec.PendingImageID, rec.PendingPushToken = target.image, target.token
	default:
		rec.ImageID, rec.PushToken = image, token
		rec.PendingImageID, rec.PendingPushToken = pendingImage, pendingToken
	}
	// Where the pool's clones fork from: where they may be made; under on_provision also
	// the datastores that take no new clone but keep theirs (their clones need them).
	rec.Placement = env.placing()
	if spec.Rebalance != RebalanceImmediate {
		rec.Placement = env.hosts
	}
}

// convergeClones plans and runs the removals and (re)creations that bring the pool's clones to
// spec. vCenter may put a clone elsewhere than asked: a second pass moves or recreates those
// (placementPasses bounds it, so a vCenter that always misplaces leaves drift, not a loop).
// The second pass plans from the read that looked for clones outside the pool's folder.
func (e *Engine) convergeClones(ctx context.Context, id string, spec PoolSpec, pattern NamingPattern, target generation, env *placementEnv, policy string, pub *publication) error {
	var pool *Pool
	for pass := 1; pass <= placementPasses; pass++ {
		if pool == nil {
			var err error
			if pool, _, _, _, err = e.observePool(ctx, id, LastSeen{}); err != nil {
				return err
			}
		}
		plan, err := planConverge(pool.Clones, spec.Size, pattern, target, env, policy)
		if err != nil {
			return capacityError(err)
		}
		if pass > 1 && len(plan.Jobs)+len(plan.Remove) == 0 {
			return nil
		}
		e.log.Info(ctx, "converging pool", map[string]any{
			"pool": id, "pass": pass, "remove": len(plan.Remove), "create_or_recreate": len(plan.Jobs), "moves": plan.Moves(),
		})
		// Parents first, under the image lock the publish took, which then goes: clones are
		// removed and made without it.
		err = e.assignParents(ctx, pub, plan.Jobs)
		pub.releaseLock()
		if err == nil {
			err = e.removeVMs(ctx, clonesAsVMs(plan.Remove), "clone")
		}
		if err != nil {
			for _, j := range plan.Jobs {
				e.inFlight.add(j.Parent, -1)
			}
			return err
		}
		created, err := e.runJobs(ctx, id, spec, target, plan.Jobs)
		if err != nil {
			return err
		}
		if len(created) == 0 {
			return nil
		}
		if pool, err = e.adoptStrays(ctx, id, created); err != nil {
			return err
		}
	}
	return nil
}

// placementPasses is how many times a converge plans and runs: the second pass recreates the
// clones vCenter put on another datastore or host than asked.
const placementPasses = 2

// adoptStrays moves the clones just made that vCenter put outside the pool's folder (the
// vSphere 8 SDK guide: "The location property of InstantCloneSpec is ignored", so a clone may
// land in its parent's or the datacenter's VM folder) into it, in one call, and returns the
// pool as that read found it, with the strays in its folder.
func (e *Engine) adoptStrays(ctx context.Context, poolID string, created []string) (*Pool, error) {
	root, err := e.vmFolder(ctx)
	if err != nil {
		return nil, err
	}
	folders, fs, vms, err := e.readWithClonePrep(ctx, poolID, root)
	if err != nil {
		return nil, fmt.Errorf("checking where the clones of pool %s landed: %w", poolID, err)
	}
	var strays []string
	for i, vm := range vms {
		if vm.Folder != poolID && slices.Contains(created, vm.ID) {
			strays = append(strays, vm.ID)
			vms[i].Folder = poolID
		}
	}
	if len(strays) > 0 {
		e.log.Warn(ctx, "vCenter put clones outside the pool's folder; moving them in", map[string]any{"pool": poolID, "count": len(strays)})
		if err := e.vc.MoveIntoFolder(ctx, poolID, strays...); err != nil {
			return nil, fmt.Errorf("moving %d clone(s) into the folder of pool %s: %w", len(strays), poolID, err)
		}
	}
	pool, _, _, err := poolFromRead(poolID, folders, fs, vms)
	return pool, err
}

// cloneJob creates clone Name on Datastore/Host; OldID, when set, is the clone it replaces.
type cloneJob struct {
	Name      string
	Index     int
	OldID     string
	Datastore string
	Host      string
	Reason    placement.Reason
	Parent    string // the parent it forks from (assignParents)
}

// convergePlan is everything a converge will do.
type convergePlan struct {
	Remove []Clone
	Jobs   []cloneJob
}

// Moves counts the clones recreated only to change datastore or host.
func (p convergePlan) Moves() int {
	return len(slices.DeleteFunc(slices.Clone(p.Jobs), func(j cloneJob) bool { return !j.Reason.Moves() }))
}

// planConverge asks the placement planner which clones to remove, recreate and create, and
// where (internal/placement decides every placement; the engine runs the plan).
func planConverge(clones []Clone, size int, pattern NamingPattern, target generation, env *placementEnv, policy string) (convergePlan, error) {
	in := placement.Input{Size: size, Immediate: policy == RebalanceImmediate}
	byNumber := map[int][]Clone{}
	for _, c := range clones {
		in.Clones = append(in.Clones, placement.Clone{Name: c.Name, Index: c.Index, Datastore: c.Datastore, Host: c.Host, Stale: !target.of(c)})
		byNumber[c.Index] = append(byNumber[c.Index], c)
	}
	for _, ds := range env.datastores {
		limit := placement.Unlimited
		if env.limit > 0 {
			limit = env.limit
		}
		_, refused := env.refuses[ds]
		in.Datastores = append(in.Datastores, placement.Datastore{ID: ds, Hosts: env.hosts[ds], Takes: !refused, Limit: limit, Free: env.free[ds]})
	}
	decided, err := placement.Decide(in)
	if err != nil {
		return convergePlan{}, err
	}
	find := func(pc placement.Clone) Clone {
		for _, c := range byNumber[pc.Index] {
			if c.Name == pc.Name && c.Datastore == pc.Datastore && c.Host == pc.Host {
				return c
			}
		}
		return Clone{Name: pc.Name, Index: pc.Index}
	}
	var plan convergePlan
	for _, r := range decided.Remove {
		plan.Remove = append(plan.Remove, find(r))
	}
	for _, j := range decided.Jobs {
		job := cloneJob{Name: pattern.Name(j.Index), Index: j.Index, Datastore: j.Datastore, Host: j.Host, Reason: j.Reason}
		if j.Replaces {
			for _, c := range byNumber[j.Index] {
				if !slices.ContainsFunc(plan.Remove, func(r Clone) bool { return r.ID == c.ID }) {
					job.OldID, job.Name = c.ID, c.Name
				}
			}
		}
		plan.Jobs = append(plan.Jobs, job)
	}
	return plan, nil
}

func clonesAsVMs(cs []Clone) []VM {
	out := make([]VM, len(cs))
	for i, c := range cs {
		out[i] = VM{ID: c.ID, Name: c.Name, PoweredOn: c.PoweredOn}
	}
	return out
}

// runJobs creates and recreates clones, as many at once as the engine's slots allow, with at
// most batch_size recreations out of service at once (pushimage.go). It returns the IDs of the
// clones vCenter made.
func (e *Engine) runJobs(ctx context.Context, poolID string, spec PoolSpec, target generation, jobs []cloneJob) ([]string, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	batch := spec.BatchSize
	if batch < 1 {
		batch = e.Concurrency()
	}
	window := newServiceWindow(batch)
	res := &jobResults{total: len(jobs), failures: &VMFailures{Action: "create or recreate", What: "clone", Failures: map[string]error{}}}
	var wg sync.WaitGroup
	for _, job := range jobs {
		wg.Go(func() {
			defer e.inFlight.add(job.Parent, -1) // assignParents counted it
			if job.OldID != "" {
				if window.enter(ctx) != nil {
					return
				}
				defer window.leave()
			}
			if res.stop.Load() || ctx.Err() != nil {
				return
			}
			id, err := e.cloneOne(ctx, poolID, spec, target, job)
			if err != nil {
				e.log.Error(ctx, "clone failed", map[string]any{"pool": poolID, "clone": job.Name, "error": err.Error()})
				if spec.StopOnFirstError {
					res.stop.Store(true)
				}
			}
			if n, progress := res.record(job.Name, id, err); progress {
				e.log.Info(ctx, "clones created", map[string]any{"pool": poolID, "done": n, "of": res.total})
			}
		})
	}
	wg.Wait()
	return res.outcome(ctx)
}

// jobResults gathers what the clone jobs of one run made and what failed.
type jobResults struct {
	mu       sync.Mutex
	total    int
	done     int
	created  []string
	failures *VMFailures
	stop     atomic.Bool // stop_on_first_error: start no more jobs
}

// record counts one job's outcome; progress says whether to log it (about every 5%).
func (r *jobResults) record(name, id string, err error) (done int, progress bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id != "" {
		r.created = append(r.created, id)
	}
	if err != nil {
		r.failures.Failures[name] = err
		return r.done, false
	}
	r.done++
	step := max(1, r.total/20)
	return r.done, r.done%step == 0 || r.done == r.total
}

// outcome is the run's result: the clones made, and why it fell short if it did.
func (r *jobResults) outcome(ctx context.Context) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return r.created, fmt.Errorf("stopped after %d of %d clone(s): %w", r.done, r.total, err)
	}
	if len(r.failures.Failures) > 0 {
		r.failures.Stopped = r.stop.Load() && r.done+len(r.failures.Failures) < r.total
		return r.created, r.failures
	}
	return r.created, nil
}

// cloneOne (re)creates one clone and returns its ID once vCenter made it (even when marking
// it failed, so that it can be found again).
func (e *Engine) cloneOne(ctx context.Context, poolID string, spec PoolSpec, target generation, job cloneJob) (string, error) {
	// Checked before the old clone goes: one that cannot be customized is not made.
	var guest *GuestCustomization
	if c := spec.Customization; c != nil {
		g, err := c.forClone(job.Name, job.Index)
		if err != nil {
			return "", fmt.Errorf("customizing clone %s: %w", job.Name, err)
		}
		guest = &g
	}
	if job.OldID != "" {
		if err := e.slot(ctx, func() error { return e.vc.RemoveVM(ctx, job.OldID, true) }); err != nil {
			return "", err
		}
	}
	marks := Marks{MarkImage: target.image, MarkParent: job.Parent}
	if target.token != "" {
		marks[MarkPushToken] = target.token
	}
	clone := InstantCloneSpec{
		Parent: job.Parent, Name: job.Name, Folder: poolID, Datastore: job.Datastore,
		Pool: spec.ResourcePool, ExtraConfig: cloneIdentity(spec, target.image, job), Networks: spec.Networks,
		DisconnectNICs: guest != nil,
	}
	// A clone is marked as it is made. One to customize is marked only once customized: if
	// it fails and cannot be removed, it stays unmarked, which reads as a clone to replace.
	if guest == nil {
		clone.Marks = marks
	}
	var id string
	err := e.slot(ctx, func() error {
		var err error
		id, err = e.vc.InstantClone(ctx, clone)
		return err
	})
	if err != nil || guest == nil {
		return id, err
	}
	if err := e.customize(ctx, id, job.Name, *guest); err != nil {
		return "", err
	}
	if err := e.vc.SetMarks(ctx, VMObject(id), marks); err != nil {
		return id, fmt.Errorf("marking clone %s (%s): %w", job.Name, id, err)
	}
	return id, nil
}

// refusal says why a datastore takes no new clone now, "" when it takes them: vCenter
// refuses provisioning on one in (or entering) maintenance mode or inaccessible, and the pool
// keeps floorGB free on each.
func refusal(st DatastoreState, floorGB int) string {
	switch {
	case !st.Accessible:
		return "inaccessible"
	case st.Maintenance == "enteringMaintenance":
		return "entering maintenance mode"
	case st.Maintenance == "inMaintenance":
		return "in maintenance mode"
	case floorGB > 0 && st.Free < int64(floorGB)<<30:
		return fmt.Sprintf("%.1f GB free, below the pool's floor of %d GB", float64(st.Free)/(1<<30), floorGB)
	}
	return ""
}

// capacityError turns the planner's capacity error into a diagnostic on datastore_ids.
func capacityError(err error) error {
	var ce *placement.CapacityError
	if errors.As(err, &ce) {
		return inputError("datastore_ids", "Not enough room for the pool", "%s; attach more datastores or make the pool smaller.", ce)
	}
	return err
}
