// Command tamper changes a pool behind Terraform's back, as an administrator might: it
// destroys one clone and moves another to a datastore the pool does not use. The demo then
// expects terraform plan to report the drift.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

func main() {
	destroy := flag.String("destroy", "", "name of a VM to destroy")
	move := flag.String("move", "", "name of a VM to move to -to")
	to := flag.String("to", "", "datastore ID to move -move to")
	flag.Parse()
	if err := run(*destroy, *move, *to); err != nil {
		fmt.Fprintln(os.Stderr, "tamper:", err)
		os.Exit(1)
	}
}

func run(destroy, move, to string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := vsphere.Connect(ctx, vsphere.ConfigFromEnv())
	if err != nil {
		return err
	}
	defer func() { _ = c.Logout(context.WithoutCancel(ctx)) }()
	vms, err := c.AllVMs(ctx)
	if err != nil {
		return err
	}
	ids := map[string]string{}
	for _, vm := range vms {
		ids[vm.Name] = vm.ID
	}
	if destroy != "" {
		if ids[destroy] == "" {
			return fmt.Errorf("no VM called %s", destroy)
		}
		if err := c.DestroyVM(ctx, ids[destroy]); err != nil {
			return err
		}
		fmt.Printf("  destroyed %s (%s)\n", destroy, ids[destroy])
	}
	if move != "" {
		if ids[move] == "" {
			return fmt.Errorf("no VM called %s", move)
		}
		if err := c.RelocateVM(ctx, ids[move], to); err != nil {
			return err
		}
		fmt.Printf("  moved %s (%s) to %s, which the pool does not use\n", move, ids[move], to)
	}
	return nil
}
