package vcsim

import (
	"context"
	"testing"
	"time"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// TestListViewEditsWhileWaiting: a client waits for updates through a filter over a list
// view while others edit the view as fast as they can. vCenter answers all of them; govmomi's
// simulator alone can deadlock there (listview.go).
func TestListViewEditsWhileWaiting(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := login(t, s)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	vm := goldenVM(t, c)

	pc, err := property.DefaultCollector(c.Client).Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lv, err := view.NewManager(c.Client).CreateListView(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.CreateFilter(ctx, types.CreateFilter{Spec: types.PropertyFilterSpec{
		ObjectSet: []types.ObjectSpec{{Obj: lv.Reference(), Skip: types.NewBool(true),
			SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: "ListView", Path: "view"}}}},
		PropSet: []types.PropertySpec{{Type: "Task", PathSet: []string{"info.state"}}},
	}}); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error, 1)
	go func() {
		req := types.WaitForUpdatesEx{This: pc.Reference(), Options: &types.WaitOptions{MaxWaitSeconds: types.NewInt32(1)}}
		for ctx.Err() == nil {
			res, err := methods.WaitForUpdatesEx(ctx, c.Client, &req)
			if err != nil {
				waiting <- err
				return
			}
			if res.Returnval != nil {
				req.Version = res.Returnval.Version
			}
		}
		waiting <- nil
	}()
	task, err := vm.PowerOff(ctx)
	if err != nil {
		t.Fatal(err)
	}
	edits := make(chan error, 4)
	for range 4 {
		go func() {
			for range 200 {
				for _, req := range []types.ModifyListView{
					{This: lv.Reference(), Add: []types.ManagedObjectReference{task.Reference()}},
					{This: lv.Reference(), Remove: []types.ManagedObjectReference{task.Reference()}},
				} {
					if _, err := methods.ModifyListView(ctx, c.Client, &req); err != nil {
						edits <- err
						return
					}
				}
			}
			edits <- nil
		}()
	}
	for range 4 {
		if err := <-edits; err != nil {
			t.Fatalf("editing the view: %v", err)
		}
	}
	cancel()
	if err := <-waiting; err != nil && ctx.Err() == nil {
		t.Fatal(err)
	}
}
