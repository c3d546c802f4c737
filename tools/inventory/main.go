// Command inventory prints the VM folders and VMs of a vCenter (named by the VSPHERE_*
// variables), with where each VM lives: what the demo shows after publishing and cloning.
package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "inventory:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	insecure, _ := strconv.ParseBool(os.Getenv("VSPHERE_ALLOW_UNVERIFIED_SSL"))
	c, err := vsphere.Connect(ctx, vsphere.Config{
		Server: os.Getenv("VSPHERE_SERVER"), User: os.Getenv("VSPHERE_USER"),
		Password: os.Getenv("VSPHERE_PASSWORD"), Insecure: insecure,
	})
	if err != nil {
		return err
	}
	defer func() { _ = c.Logout(context.WithoutCancel(ctx)) }()
	folders, err := c.Folders(ctx)
	if err != nil {
		return err
	}
	vms, err := c.AllVMs(ctx)
	if err != nil {
		return err
	}
	names := map[string]string{c.VMFolder().Value: "vm"}
	parent := map[string]string{}
	for _, f := range folders {
		names[f.ID], parent[f.ID] = f.Name, f.Parent
	}
	pathOf := func(id string) string {
		var parts []string
		for cur := id; cur != "" && cur != c.VMFolder().Value; cur = parent[cur] {
			parts = append([]string{names[cur]}, parts...)
		}
		return strings.Join(append([]string{c.DatacenterPath(), "vm"}, parts...), "/")
	}
	byFolder := map[string][]engine.VM{}
	for _, vm := range vms {
		byFolder[vm.Folder] = append(byFolder[vm.Folder], vm)
	}
	keys := make([]string, 0, len(byFolder))
	for id := range byFolder {
		keys = append(keys, id)
	}
	sort.Slice(keys, func(i, j int) bool { return pathOf(keys[i]) < pathOf(keys[j]) })
	for _, id := range keys {
		list := byFolder[id]
		sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
		fmt.Printf("%s/ (%d VMs)\n", pathOf(id), len(list))
		for _, vm := range list {
			power := "off"
			if vm.PoweredOn {
				power = "on"
			}
			fmt.Printf("  %-44s %-8s %-14s %-9s %s\n", vm.Name, vm.ID, strings.Join(vm.Datastores, ","), vm.Host, power)
		}
	}
	return nil
}
