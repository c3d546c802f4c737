package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

// inventory is every VM folder and VM of the datacenter, read once.
type inventory struct {
	dcPath, root string
	folders      map[string]engine.Folder
	vms          []engine.VM
}

func read(ctx context.Context, c *vsphere.Client) (*inventory, error) {
	folders, err := c.Folders(ctx)
	if err != nil {
		return nil, err
	}
	vms, err := c.AllVMs(ctx)
	if err != nil {
		return nil, err
	}
	inv := &inventory{dcPath: c.DatacenterPath(), root: c.VMFolder().Value, folders: map[string]engine.Folder{}, vms: vms}
	for _, f := range folders {
		inv.folders[f.ID] = f
	}
	sort.Slice(inv.vms, func(i, j int) bool { return inv.vms[i].Name < inv.vms[j].Name })
	return inv, nil
}

func (inv *inventory) pathOf(id string) string {
	var parts []string
	for cur := id; cur != "" && cur != inv.root; cur = inv.folders[cur].Parent {
		parts = append([]string{inv.folders[cur].Name}, parts...)
	}
	return strings.Join(append([]string{inv.dcPath, "vm"}, parts...), "/")
}

// print lists every folder that holds VMs, and its VMs with where they live.
func (inv *inventory) print(w io.Writer) {
	byFolder := map[string][]engine.VM{}
	for _, vm := range inv.vms {
		byFolder[vm.Folder] = append(byFolder[vm.Folder], vm)
	}
	keys := make([]string, 0, len(byFolder))
	for id := range byFolder {
		keys = append(keys, id)
	}
	sort.Slice(keys, func(i, j int) bool { return inv.pathOf(keys[i]) < inv.pathOf(keys[j]) })
	for _, id := range keys {
		list := byFolder[id]
		_, _ = fmt.Fprintf(w, "%s/ (%d VMs)\n", inv.pathOf(id), len(list))
		for _, vm := range list {
			_, _ = fmt.Fprintf(w, "  %-44s %-8s %-14s %-9s %s\n", vm.Name, vm.ID, strings.Join(vm.Datastores, ","), vm.Host, power(vm))
		}
	}
}

// poolClones are the VMs in the pool folder called name.
func (inv *inventory) poolClones(name string) []engine.VM {
	var out []engine.VM
	for _, vm := range inv.vms {
		if f, ok := inv.folders[vm.Folder]; ok && f.Name == name && f.Marks[engine.MarkRole] == "pool" {
			out = append(out, vm)
		}
	}
	return out
}

// expectEmpty fails if anything the provider marks as its own is left: internal VMs, clones,
// pool folders.
func (inv *inventory) expectEmpty() error {
	var left []string
	for _, vm := range inv.vms {
		if vm.Marks[engine.MarkRole] != "" || vm.Marks[engine.MarkImage] != "" {
			left = append(left, vm.Name)
		}
	}
	for _, f := range inv.folders {
		if f.Marks[engine.MarkRole] == "pool" {
			left = append(left, inv.pathOf(f.ID)+"/")
		}
	}
	if len(left) > 0 {
		sort.Strings(left)
		return fmt.Errorf("left behind: %s", strings.Join(left, ", "))
	}
	fmt.Printf("nothing left: %d VMs, none made by the provider\n", len(inv.vms))
	return nil
}

func power(vm engine.VM) string {
	if vm.PoweredOn {
		return "on"
	}
	return "off"
}
