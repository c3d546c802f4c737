package vsphere

import (
	"context"
	"slices"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// Observe is Contents and Environment in one retrieve: a refresh reads a pool's clones and
// what its hosts and datastores say of them in a single round trip. When the resource pool or
// a datastore is gone, the folders are read alone and the environment is nil.
func (c *Client) Observe(ctx context.Context, folderIDs []string, poolID string, datastoreIDs []string) ([]engine.Folder, []engine.VM, *engine.Environment, error) {
	objs, err := c.retrieve(ctx, mergeSpecs(contentsSpec(folderIDs), environmentSpec(poolID, datastoreIDs)))
	if err != nil {
		var missing *types.ManagedObjectNotFound
		if _, ok := fault.As(err, &missing); ok && missing.Obj.Type != "Folder" {
			folders, vms, err := c.Contents(ctx, folderIDs...)
			return folders, vms, nil, err
		}
		return nil, nil, nil, contentsError(err, folderIDs)
	}
	folders, vms, err := c.decodeContents(ctx, objs)
	if err != nil {
		return nil, nil, nil, err
	}
	env, err := decodeEnvironment(objs, poolID, datastoreIDs)
	return folders, vms, env, err
}

// mergeSpecs makes one filter of two: both object sets, and per type the union of the
// properties either selects, so that an object both reach comes back once with all of them.
func mergeSpecs(a, b types.PropertyFilterSpec) types.PropertyFilterSpec {
	out := types.PropertyFilterSpec{ObjectSet: slices.Concat(a.ObjectSet, b.ObjectSet)}
	for _, p := range slices.Concat(a.PropSet, b.PropSet) {
		i := slices.IndexFunc(out.PropSet, func(q types.PropertySpec) bool { return q.Type == p.Type })
		if i < 0 {
			out.PropSet = append(out.PropSet, types.PropertySpec{Type: p.Type, PathSet: slices.Clone(p.PathSet)})
			continue
		}
		for _, path := range p.PathSet {
			if !slices.Contains(out.PropSet[i].PathSet, path) {
				out.PropSet[i].PathSet = append(out.PropSet[i].PathSet, path)
			}
		}
	}
	return out
}
