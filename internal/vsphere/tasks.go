package vsphere

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// waitTask waits for a task to end and returns its result, through the client's one task
// watcher (taskwatch.go).
func (c *Client) waitTask(ctx context.Context, t types.ManagedObjectReference) (types.AnyType, error) {
	return c.tasks.wait(ctx, t)
}

// retry runs f again, with backoff, while it fails with a transient fault; at most 4 tries,
// about 1.4 s in all. It suits faults that pass in a moment (a dropped connection, a host
// out of reach); a task in the way can take much longer: see Client.retryTasks.
func retry(ctx context.Context, f func() error) error { return retryWaiting(ctx, nil, f) }

// retryTasks is retry that, when f fails with TaskInProgress (another operation is running on
// the object: a snapshot, a migration, another client's clone), waits for the task the fault
// names to end, for as long as ctx allows, and tries again. vCenter tasks run for minutes; a
// few short tries would give up long before.
func (c *Client) retryTasks(ctx context.Context, f func() error) error {
	return retryWaiting(ctx, c.waitOthersTask, f)
}

// waitOthersTask waits for a task someone else started to end. How it ended is its starter's
// business: only that it no longer holds the object matters. A task gone from vCenter ended.
func (c *Client) waitOthersTask(ctx context.Context, t types.ManagedObjectReference) error {
	c.log.Debug(ctx, "waiting for the task running on the object", map[string]any{"task": t.Value})
	if _, err := c.waitTask(ctx, t); err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// maxTaskWaits bounds how many running tasks one call waits out in turn before it reports
// the object busy.
const maxTaskWaits = 3

func retryWaiting(ctx context.Context, wait func(context.Context, types.ManagedObjectReference) error, f func() error) error {
	delay := 200 * time.Millisecond
	var err error
	tries, waits := 0, 0
	for {
		if err = f(); err == nil || !IsTransient(err) || ctx.Err() != nil {
			return err
		}
		if task, ok := runningTask(err); ok && wait != nil {
			if waits == maxTaskWaits {
				return fmt.Errorf("gave up after waiting for %d tasks running on the object: %w", waits, err)
			}
			waits++
			if werr := wait(ctx, task); werr != nil {
				return fmt.Errorf("%w (waited for task %s until the operation stopped: %w)", err, task.Value, werr)
			}
			continue
		}
		if tries++; tries == 4 {
			return fmt.Errorf("gave up after 4 tries: %w", err)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// inFlightGrace bounds how long a cancelled operation still waits for the vCenter task it had
// already asked for.
const inFlightGrace = 2 * time.Minute

// runTask starts a task with start and waits for it, retrying the whole start-and-wait on
// transient faults. A task runs on in vCenter whatever becomes of the caller, and only its
// result says what it created: once a task is asked for, cancelling ctx (an interrupted
// apply, a timeout) no longer cuts the request or the wait short, for up to inFlightGrace, so
// the caller learns of the VM it made and can record or remove it. No task starts after ctx
// is done.
func (c *Client) runTask(ctx context.Context, start func(context.Context) (*object.Task, error)) (types.AnyType, error) {
	inFlight, stop := outliving(ctx, inFlightGrace)
	defer stop()
	var result types.AnyType
	err := c.retryTasks(ctx, func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		t, err := start(inFlight)
		if err != nil {
			return err
		}
		result, err = c.waitTask(inFlight, t.Reference())
		return err
	})
	return result, err
}

// outliving returns a context with ctx's values that is cancelled grace after ctx is, or
// when stop is called.
func outliving(ctx context.Context, grace time.Duration) (context.Context, func()) {
	out, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stopAfter := context.AfterFunc(ctx, func() {
		timer := time.NewTimer(grace)
		defer timer.Stop()
		select {
		case <-timer.C:
			cancel()
		case <-out.Done():
		}
	})
	return out, func() { stopAfter(); cancel() }
}

// CloneVM makes a full clone and returns the new VM's ID.
func (c *Client) CloneVM(ctx context.Context, s engine.CloneSpec) (string, error) {
	spec := types.VirtualMachineCloneSpec{PowerOn: s.PowerOn}
	if s.SnapshotID != "" {
		snap := ref("VirtualMachineSnapshot", s.SnapshotID)
		spec.Snapshot = &snap
	}
	if s.Linked {
		// VirtualMachineRelocateDiskMoveOptions: a child disk backing on the snapshot's disks,
		// so the clone takes almost no space of its own.
		spec.Location.DiskMoveType = string(types.VirtualMachineRelocateDiskMoveOptionsCreateNewChildDiskBacking)
	}
	if s.Datastore != "" {
		ds := datastoreRef(s.Datastore)
		spec.Location.Datastore = &ds
	}
	if s.Host != "" {
		h := hostRef(s.Host)
		spec.Location.Host = &h
	}
	if s.Pool != "" {
		p := poolRef(s.Pool)
		spec.Location.Pool = &p
	}
	res, err := c.runTask(ctx, func(ctx context.Context) (*object.Task, error) {
		return c.vm(s.Source).Clone(ctx, c.folder(s.Folder), s.Name, spec)
	})
	if err != nil {
		if s.Datastore == "" {
			return "", wrap(err, "cloning %s to %s", s.Source, s.Name)
		}
		return "", wrap(err, "cloning %s to %s on %s", s.Source, s.Name, s.Datastore)
	}
	return resultID(res)
}

// InstantClone forks a running parent VM and returns the child's ID.
func (c *Client) InstantClone(ctx context.Context, s engine.InstantCloneSpec) (string, error) {
	// VirtualMachineInstantCloneSpec.location takes a folder, a datastore, a resource pool and
	// NIC edits only ("All other settings are NOT supported"): the clone runs on its
	// parent's host, so the parent chosen is what places it.
	folder, ds, pool := folderRef(s.Folder), datastoreRef(s.Datastore), poolRef(s.Pool)
	spec := types.VirtualMachineInstantCloneSpec{
		Name: s.Name,
		Location: types.VirtualMachineRelocateSpec{
			Folder: &folder, Datastore: &ds, Pool: &pool,
		},
	}
	keys := make([]string, 0, len(s.ExtraConfig))
	for k := range s.ExtraConfig {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		spec.Config = append(spec.Config, &types.OptionValue{Key: k, Value: s.ExtraConfig[k]})
	}
	marks, err := configOptions(s.Marks)
	if err != nil {
		return "", fmt.Errorf("instant-cloning %s: %w", s.Name, err)
	}
	spec.Config = append(spec.Config, marks...)
	edits, err := c.nicEdits(ctx, s.Parent, s.Networks, s.DisconnectNICs)
	if err != nil {
		return "", wrap(err, "putting the NICs of %s on %v", s.Name, s.Networks)
	}
	spec.Location.DeviceChange = edits
	res, err := c.runTask(ctx, func(ctx context.Context) (*object.Task, error) { return c.vm(s.Parent).InstantClone(ctx, spec) })
	if err != nil {
		return "", wrap(err, "instant-cloning %s from %s on %s", s.Name, s.Parent, s.Datastore)
	}
	return resultID(res)
}

// Snapshot takes a snapshot of a VM's disks (no memory, not quiesced) and returns its ID.
func (c *Client) Snapshot(ctx context.Context, vmID, name string) (string, error) {
	res, err := c.runTask(ctx, func(ctx context.Context) (*object.Task, error) {
		return c.vm(vmID).CreateSnapshot(ctx, name, "", false, false)
	})
	if err != nil {
		return "", wrap(err, "taking snapshot %s of %s", name, vmID)
	}
	return resultID(res)
}

// SetHardware reconfigures a powered-off VM's CPUs, cores per socket and memory; zero fields
// are left as they are.
func (c *Client) SetHardware(ctx context.Context, id string, h engine.Hardware) error {
	spec := types.VirtualMachineConfigSpec{NumCPUs: int32(h.NumCPUs), MemoryMB: int64(h.MemoryMB)}
	if h.CoresPerSocket > 0 {
		cores := int32(h.CoresPerSocket)
		spec.NumCoresPerSocket = &cores
	}
	_, err := c.runTask(ctx, func(ctx context.Context) (*object.Task, error) { return c.vm(id).Reconfigure(ctx, spec) })
	if err != nil {
		return wrap(err, "reconfiguring the CPUs and memory of %s", id)
	}
	return nil
}

// PowerOn powers a VM on; one already on is fine.
func (c *Client) PowerOn(ctx context.Context, id string) error {
	_, err := c.runTask(ctx, func(ctx context.Context) (*object.Task, error) { return c.vm(id).PowerOn(ctx) })
	if err != nil && !fault.Is(err, &types.InvalidPowerState{}) {
		return wrap(err, "powering on %s", id)
	}
	return nil
}

// DestroyVM powers a VM off and deletes it; one already gone is fine.
func (c *Client) DestroyVM(ctx context.Context, id string) error { return c.RemoveVM(ctx, id, true) }

// RemoveVM deletes a VM; one already gone is fine. A VM the caller knows to be powered off is
// deleted without a power-off task first; if it was running after all, it is powered off then.
func (c *Client) RemoveVM(ctx context.Context, id string, poweredOn bool) error {
	if poweredOn {
		if err := c.PowerOff(ctx, id); err != nil {
			return err
		}
	}
	_, err := c.runTask(ctx, func(ctx context.Context) (*object.Task, error) { return c.vm(id).Destroy(ctx) })
	if !poweredOn && fault.Is(err, &types.InvalidPowerState{}) {
		return c.RemoveVM(ctx, id, true)
	}
	if err != nil && !IsNotFound(err) {
		return wrap(err, "deleting %s", id)
	}
	return nil
}

// PowerOff powers a VM off; one already off or gone is fine.
func (c *Client) PowerOff(ctx context.Context, id string) error {
	_, err := c.runTask(ctx, func(ctx context.Context) (*object.Task, error) { return c.vm(id).PowerOff(ctx) })
	if err != nil && !fault.Is(err, &types.InvalidPowerState{}) && !IsNotFound(err) {
		return wrap(err, "powering off %s", id)
	}
	return nil
}

// MoveIntoFolder moves VMs into a folder.
func (c *Client) MoveIntoFolder(ctx context.Context, folder string, vmIDs ...string) error {
	refs := make([]types.ManagedObjectReference, 0, len(vmIDs))
	for _, id := range vmIDs {
		refs = append(refs, VMRef(id))
	}
	_, err := c.runTask(ctx, func(ctx context.Context) (*object.Task, error) { return c.folder(folder).MoveInto(ctx, refs) })
	if err != nil {
		return wrap(err, "moving %s into folder %s", strings.Join(vmIDs, ", "), folder)
	}
	return nil
}

// RelocateVM moves a VM's storage to another datastore (storage vMotion). The provider
// itself recreates clones instead; this exists for tests that move clones behind its back.
func (c *Client) RelocateVM(ctx context.Context, id, datastore string) error {
	ds := datastoreRef(datastore)
	_, err := c.runTask(ctx, func(ctx context.Context) (*object.Task, error) {
		return c.vm(id).Relocate(ctx, types.VirtualMachineRelocateSpec{Datastore: &ds}, types.VirtualMachineMovePriorityDefaultPriority)
	})
	if err != nil {
		return wrap(err, "relocating %s to %s", id, datastore)
	}
	return nil
}

func resultID(res types.AnyType) (string, error) {
	r, ok := res.(types.ManagedObjectReference)
	if !ok {
		return "", fmt.Errorf("task returned %T, not a managed object reference", res)
	}
	return r.Value, nil
}

// describe gives vCenter's message and the fault's type, e.g. "InvalidPowerState: ...".
func describe(err error) string {
	name := ""
	fault.In(err, func(f types.BaseMethodFault, _ string, _ []types.LocalizableMessage) bool {
		name = strings.TrimPrefix(fmt.Sprintf("%T", f), "*types.")
		return true
	})
	msg := Message(err)
	if name != "" && !strings.Contains(msg, name) {
		return name + ": " + msg
	}
	return msg
}

// Describe is describe for the engine's error messages.
func Describe(err error) string { return describe(err) }

func sortIDs(ids []string) {
	sort.Slice(ids, func(i, j int) bool { return lessID(ids[i], ids[j]) })
}

// lessID orders managed object IDs by prefix, then numerically (host-9 before host-10).
func lessID(a, b string) bool {
	pa, na := splitID(a)
	pb, nb := splitID(b)
	if pa != pb {
		return pa < pb
	}
	if na != nb {
		return na < nb
	}
	return a < b
}

func splitID(id string) (string, int) {
	i := strings.LastIndex(id, "-")
	if i < 0 {
		return id, 0
	}
	n, err := strconv.Atoi(id[i+1:])
	if err != nil {
		return id, 0
	}
	return id[:i], n
}

func (c *Client) vm(id string) *object.VirtualMachine {
	return object.NewVirtualMachine(c.vim, VMRef(id))
}
