package vcsim

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// answerListViewEdits makes r answer ModifyListView without the deadlock govmomi's simulator
// has there. Its ModifyListView holds the view's lock while it tells the property collectors,
// and telling a filter over the view takes the filter's lock; a WaitForUpdatesEx that
// re-reads that filter holds the filter's lock while it takes the view's. Two clients doing
// both at once (one waiting for tasks through a view, another adding tasks to it) stop for
// good. vCenter answers both; so does this, by changing the view under its lock and telling
// the collectors after.
func answerListViewEdits(r *simulator.Registry) {
	answer(r, func(ctx *simulator.Context, m *simulator.Method) mo.Reference {
		if m.Name != "ModifyListView" || m.This.Type != "ListView" || ctx.Session == nil {
			return nil
		}
		lv, ok := ctx.Session.Get(m.This).(*simulator.ListView)
		if !ok {
			return nil
		}
		h := &listViewEdit{ListView: lv}
		shadowInSession(ctx, lv, h)
		return h
	})
}

// listViewEdit answers one ModifyListView call. It opts out of the lock the simulator takes
// around a call (Lock and Unlock do nothing) and takes the view's own lock only while it
// changes the view.
type listViewEdit struct {
	*simulator.ListView
}

func (*listViewEdit) Lock()   {}
func (*listViewEdit) Unlock() {}

func (v *listViewEdit) ModifyListView(ctx *simulator.Context, req *types.ModifyListView) soap.HasFault {
	body := &methods.ModifyListViewBody{Res: new(types.ModifyListViewResponse)}
	ctx.WithLock(v.ListView, func() {
		for _, ref := range req.Add {
			if ctx.Session.Get(ref) == nil {
				body.Res.Returnval = append(body.Res.Returnval, ref)
			}
			v.View = append(v.View, ref)
		}
		for _, ref := range req.Remove {
			simulator.RemoveReference(&v.View, ref)
		}
	})
	if len(req.Add)+len(req.Remove) > 0 {
		// A change with a key only notifies (mo.ApplyPropertyChange assigns no keyed path),
		// so the view, already changed under its lock, is not written again outside it.
		ctx.Map.Update(ctx, v.ListView, []types.PropertyChange{{Name: `view["edited"]`, Op: types.PropertyChangeOpAssign}})
	}
	return body
}
