package vsphere

import (
	"context"
	"slices"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// enteringMaintenance is the description ID of a host's EnterMaintenanceMode_Task.
// runtime.inMaintenanceMode "is not set during the entering phase", so a host entering is
// told by its running task.
const enteringMaintenance = "HostSystem.enterMaintenanceMode"

// Environment reads, in one retrieve, the hosts of a resource pool's compute resource with
// their state and running tasks, and each datastore asked about: the hosts that mount it,
// whether it is accessible or in maintenance mode, its size and free space.
func (c *Client) Environment(ctx context.Context, poolID string, datastoreIDs []string) (*engine.Environment, error) {
	objs, err := c.retrieve(ctx, environmentSpec(poolID, datastoreIDs))
	if err != nil {
		return nil, environmentError(err, poolID)
	}
	return decodeEnvironment(objs, poolID, datastoreIDs)
}

// environmentSpec selects what Environment reads.
func environmentSpec(poolID string, datastoreIDs []string) types.PropertyFilterSpec {
	objects := []types.ObjectSpec{{
		Obj: poolRef(poolID),
		SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{
			Type: "ResourcePool", Path: "owner",
			SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{
				Type: "ComputeResource", Path: "host",
				SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: "HostSystem", Path: "recentTask"}},
			}},
		}},
	}}
	for _, id := range datastoreIDs {
		objects = append(objects, types.ObjectSpec{Obj: datastoreRef(id)})
	}
	return types.PropertyFilterSpec{
		ObjectSet: objects,
		PropSet: []types.PropertySpec{
			{Type: "ResourcePool", PathSet: []string{"owner"}},
			{Type: "HostSystem", PathSet: []string{"runtime.connectionState", "runtime.inMaintenanceMode"}},
			{Type: "Task", PathSet: []string{"info.descriptionId", "info.state", "info.entity"}},
			{Type: "Datastore", PathSet: []string{"host", "summary.accessible", "summary.maintenanceMode", "summary.capacity", "summary.freeSpace"}},
		},
	}
}

// environmentError names the object an Environment read found missing.
func environmentError(err error, poolID string) error {
	var missing *types.ManagedObjectNotFound
	if _, ok := fault.As(err, &missing); ok {
		if missing.Obj.Type == "Datastore" {
			return notFound("datastore", missing.Obj.Value)
		}
		return notFound("resource pool", poolID)
	}
	return wrap(err, "reading the hosts and datastores of resource pool %s", poolID)
}

// decodeEnvironment builds the Environment from a retrieve that selected at least what
// environmentSpec does. Datastores other than those asked about are left out.
func decodeEnvironment(objs []types.ObjectContent, poolID string, datastoreIDs []string) (*engine.Environment, error) {
	var hosts []mo.HostSystem
	var tasks []mo.Task
	var stores []mo.Datastore
	for _, o := range objs {
		var err error
		switch o.Obj.Type {
		case "HostSystem":
			var h mo.HostSystem
			err = mo.LoadObjectContent([]types.ObjectContent{o}, &h)
			hosts = append(hosts, h)
		case "Task":
			var t mo.Task
			err = mo.LoadObjectContent([]types.ObjectContent{o}, &t)
			tasks = append(tasks, t)
		case "Datastore":
			if !slices.Contains(datastoreIDs, o.Obj.Value) {
				continue
			}
			var d mo.Datastore
			err = mo.LoadObjectContent([]types.ObjectContent{o}, &d)
			stores = append(stores, d)
		}
		if err != nil {
			return nil, wrap(err, "reading the hosts and datastores of resource pool %s", poolID)
		}
	}
	env := &engine.Environment{Mounts: map[string][]string{}, Unusable: map[string]string{}, Stores: map[string]engine.DatastoreState{}}
	for _, h := range hosts {
		env.Hosts = append(env.Hosts, h.Self.Value)
		switch h.Runtime.ConnectionState {
		case types.HostSystemConnectionStateDisconnected:
			env.Unusable[h.Self.Value] = "disconnected"
		case types.HostSystemConnectionStateNotResponding:
			env.Unusable[h.Self.Value] = "not responding"
		}
		if h.Runtime.InMaintenanceMode {
			env.Unusable[h.Self.Value] = "in maintenance mode"
		}
	}
	for _, t := range tasks {
		running := t.Info.State == types.TaskInfoStateRunning || t.Info.State == types.TaskInfoStateQueued
		if t.Info.DescriptionId == enteringMaintenance && running && t.Info.Entity != nil {
			if _, known := env.Unusable[t.Info.Entity.Value]; !known && slices.Contains(env.Hosts, t.Info.Entity.Value) {
				env.Unusable[t.Info.Entity.Value] = "entering maintenance mode"
			}
		}
	}
	sortIDs(env.Hosts)
	for _, d := range stores {
		for _, m := range d.Host {
			env.Mounts[d.Self.Value] = append(env.Mounts[d.Self.Value], m.Key.Value)
		}
		st := engine.DatastoreState{Accessible: d.Summary.Accessible, Capacity: d.Summary.Capacity, Free: d.Summary.FreeSpace}
		if mode := d.Summary.MaintenanceMode; mode != string(types.DatastoreSummaryMaintenanceModeStateNormal) {
			st.Maintenance = mode
		}
		env.Stores[d.Self.Value] = st
	}
	return env, nil
}
