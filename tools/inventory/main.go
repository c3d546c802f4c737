// Command inventory prints what a vCenter (named by the VSPHERE_* variables) holds: every VM
// folder and VM with where it lives, or, with -pool, one pool as short tables (clones per
// datastore and host, image per clone). Its -want flags check what the demo expects of each
// step and exit 1 when it does not hold.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "inventory:", err)
		os.Exit(1)
	}
}

type options struct {
	pool       string
	datastores []string
	wantClones int
	wantImage  string
	wantEmpty  bool
}

func parseFlags() options {
	var o options
	var datastores string
	flag.StringVar(&o.pool, "pool", "", "show the pool with this name as tables instead of the whole inventory")
	flag.StringVar(&datastores, "datastores", "", "with -pool: comma-separated datastore IDs to show (and check) even when empty")
	flag.IntVar(&o.wantClones, "want-clones", -1, "with -pool: fail unless the pool has this many powered-on clones, balanced within one over -datastores and over hosts")
	flag.StringVar(&o.wantImage, "want-image", "", "with -pool: fail unless every clone runs this image ID")
	flag.BoolVar(&o.wantEmpty, "want-empty", false, "fail if any VM or pool folder the provider made is left")
	flag.Parse()
	if datastores != "" {
		o.datastores = strings.Split(datastores, ",")
	}
	return o
}

func run() error {
	o := parseFlags()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := vsphere.Connect(ctx, vsphere.ConfigFromEnv())
	if err != nil {
		return err
	}
	defer func() { _ = c.Logout(context.WithoutCancel(ctx)) }()
	inv, err := read(ctx, c)
	if err != nil {
		return err
	}
	switch {
	case o.wantEmpty:
		return inv.expectEmpty()
	case o.pool != "":
		clones := inv.poolClones(o.pool)
		printPool(os.Stdout, clones, o.datastores)
		return expectPool(clones, o)
	default:
		inv.print(os.Stdout)
		return nil
	}
}
