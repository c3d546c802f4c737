package vsphere

import (
	"context"

	"github.com/vmware/govmomi/vim25/types"
)

// ReadVMsAfter reads the datacenter's VMs through a container view, running between after the
// view is created and before it is first read: the window in which a session can end.
func (c *Client) ReadVMsAfter(ctx context.Context, between func()) (int, error) {
	first := true
	var contents []types.ObjectContent
	err := c.withContainerView(ctx, c.vmFolder, []string{"VirtualMachine"}, func(v types.ManagedObjectReference) error {
		if first {
			first = false
			between()
		}
		return c.retrieveView(ctx, v, []types.PropertySpec{{Type: "VirtualMachine", PathSet: []string{"name"}}}, &contents)
	})
	return len(contents), err
}
