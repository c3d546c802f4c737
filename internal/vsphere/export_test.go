package vsphere

import "context"

// ReadVMsAfter reads the datacenter's VMs through a container view, running between after the
// view is created and before it is first read: the window in which a session can end.
func (c *Client) ReadVMsAfter(ctx context.Context, between func()) (int, error) {
	contents, err := c.viewContentsAfter(ctx, "VirtualMachine", []string{"name"}, between)
	return len(contents), err
}
