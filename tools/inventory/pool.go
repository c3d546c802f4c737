package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

func datastoreOf(vm engine.VM) string {
	if len(vm.Datastores) == 0 {
		return "-"
	}
	return vm.Datastores[0]
}

// printPool prints two tables: clones per datastore (rows) and host (columns), and per
// clone its image, datastore, host and power state.
func printPool(w io.Writer, clones []engine.VM, datastores []string) {
	count := map[[2]string]int{}
	dsSet, hostSet := map[string]bool{}, map[string]bool{}
	for _, ds := range datastores {
		dsSet[ds] = true
	}
	for _, vm := range clones {
		ds := datastoreOf(vm)
		count[[2]string{ds, vm.Host}]++
		dsSet[ds], hostSet[vm.Host] = true, true
	}
	dss, hosts := sortedKeys(dsSet), sortedKeys(hostSet)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintf(tw, "  clones\t%s\ttotal\n", strings.Join(hosts, "\t"))
	for _, ds := range dss {
		row, total := []string{}, 0
		for _, h := range hosts {
			n := count[[2]string{ds, h}]
			row, total = append(row, fmt.Sprint(n)), total+n
		}
		_, _ = fmt.Fprintf(tw, "  %s\t%s\t%d\n", ds, strings.Join(row, "\t"), total)
	}
	_ = tw.Flush()
	_, _ = fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "  clone\timage\tdatastore\thost\tpower")
	for _, vm := range clones {
		_, _ = fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", vm.Name, vm.Marks[engine.MarkImage], datastoreOf(vm), vm.Host, power(vm))
	}
	_ = tw.Flush()
}

// expectPool checks what the -want flags ask of a pool.
func expectPool(clones []engine.VM, o options) error {
	if o.wantClones >= 0 {
		if len(clones) != o.wantClones {
			return fmt.Errorf("the pool holds %d clones, want %d", len(clones), o.wantClones)
		}
		perDS, perHost := map[string]int{}, map[string]int{}
		for _, vm := range clones {
			if !vm.PoweredOn {
				return fmt.Errorf("clone %s is powered off", vm.Name)
			}
			perDS[datastoreOf(vm)]++
			perHost[vm.Host]++
		}
		if len(o.datastores) > 0 {
			if err := balanced("datastores", perDS, o.datastores); err != nil {
				return err
			}
		}
		if err := balanced("hosts", perHost, sortedKeys(perHost)); err != nil {
			return err
		}
	}
	if o.wantImage != "" {
		for _, vm := range clones {
			if img := vm.Marks[engine.MarkImage]; img != o.wantImage {
				return fmt.Errorf("clone %s runs image %s, want %s", vm.Name, img, o.wantImage)
			}
		}
	}
	return nil
}

// balanced checks counts lie only on keys and differ by at most one between them.
func balanced(what string, counts map[string]int, keys []string) error {
	lo, hi, on := -1, 0, 0
	for _, k := range keys {
		n := counts[k]
		if lo < 0 || n < lo {
			lo = n
		}
		hi, on = max(hi, n), on+n
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	if on != total {
		return fmt.Errorf("%d clones are not on the %s %v: %v", total-on, what, keys, counts)
	}
	if hi-lo > 1 {
		return fmt.Errorf("clones unbalanced over %s: %v", what, counts)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
