package vsphere

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// A clone's marks (engine.CloneMarks) are extraConfig options set by the InstantClone spec's
// config, so that the clone costs no custom-attribute write after it is made. They are read
// by key: a property path selects one element of an array of data objects by its key
// (`config.extraConfig["instantclone.image"]`, the syntax govmomi's mo.Field parses), so a
// read does not carry a VM's whole extraConfig.

// configMarkPath is the property path of one mark in a VM's extraConfig.
func configMarkPath(mark string) string { return fmt.Sprintf("config.extraConfig[%q]", mark) }

func configMarkPaths() []string {
	out := make([]string, len(engine.CloneMarks))
	for i, m := range engine.CloneMarks {
		out[i] = configMarkPath(m)
	}
	return out
}

// configOptions turns marks into the extraConfig options of a clone's spec, in a stable order.
func configOptions(marks engine.Marks) ([]types.BaseOptionValue, error) {
	keys := make([]string, 0, len(marks))
	for k := range marks {
		if !slices.Contains(engine.CloneMarks, k) {
			return nil, fmt.Errorf("mark %s cannot be made with a clone (only %s)", k, strings.Join(engine.CloneMarks, ", "))
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]types.BaseOptionValue, 0, len(keys))
	for _, k := range keys {
		out = append(out, &types.OptionValue{Key: k, Value: marks[k]})
	}
	return out, nil
}

// splitConfigMarks takes the marks read from a VM's extraConfig out of its properties, which
// then decode as a plain mo.VirtualMachine.
func splitConfigMarks(oc types.ObjectContent) (types.ObjectContent, engine.Marks) {
	marks := engine.Marks{}
	rest := make([]types.DynamicProperty, 0, len(oc.PropSet))
	for _, p := range oc.PropSet {
		mark, ok := configMarkOf(p.Name)
		if !ok {
			rest = append(rest, p)
			continue
		}
		var value any
		switch o := p.Val.(type) {
		case types.OptionValue:
			value = o.Value
		case *types.OptionValue:
			value = o.Value
		}
		if s, ok := value.(string); ok && s != "" {
			marks[mark] = s
		}
	}
	oc.PropSet = rest
	return oc, marks
}

func configMarkOf(path string) (string, bool) {
	for _, m := range engine.CloneMarks {
		if path == configMarkPath(m) {
			return m, true
		}
	}
	return "", false
}
