package engine

import (
	"sort"
	"strings"
)

// attachments are the datastores attached to a pool from outside its own resource, as its
// folder records them: "datastore-40,datastore-41~", where "~" marks an attach that has not
// finished (its apply failed or was interrupted).
type attachments struct {
	pending map[string]bool // datastore → unfinished
}

const pendingMark = "~"

func parseAttachments(raw string) attachments {
	a := attachments{pending: map[string]bool{}}
	for _, item := range strings.Split(raw, ",") {
		if item == "" {
			continue
		}
		ds, unfinished := strings.CutSuffix(item, pendingMark)
		a.pending[ds] = unfinished
	}
	return a
}

// ids lists every attached datastore, finished or not, sorted.
func (a attachments) ids() []string {
	out := make([]string, 0, len(a.pending))
	for ds := range a.pending {
		out = append(out, ds)
	}
	sort.Strings(out)
	return out
}

// has reports whether ds is attached, finished or not.
func (a attachments) has(ds string) bool {
	_, ok := a.pending[ds]
	return ok
}

func (a attachments) add(ds string, unfinished bool) { a.pending[ds] = unfinished }

func (a attachments) remove(ds string) { delete(a.pending, ds) }

func (a attachments) String() string {
	items := a.ids()
	for i, ds := range items {
		if a.pending[ds] {
			items[i] += pendingMark
		}
	}
	return strings.Join(items, ",")
}
