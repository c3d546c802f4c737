package vsphere

import (
	"context"

	"github.com/vmware/govmomi/vim25/types"
)

// ReadVMsAfter reads the datacenter's VMs through a container view, running between after the
// view is created and before it is first read: the window in which a session can end.
func (c *Client) ReadVMsAfter(ctx context.Context, between func()) (int, error) {
	contents, err := c.viewContentsAfter(ctx, "VirtualMachine", []string{"name"}, between)
	return len(contents), err
}

// WaitTask waits for a task through the client's task watcher.
func (c *Client) WaitTask(ctx context.Context, task types.ManagedObjectReference) (types.AnyType, error) {
	return c.waitTask(ctx, task)
}
