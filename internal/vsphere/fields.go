package vsphere

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// The engine's marks are vCenter custom attributes (custom fields), readable in the same
// property-collector retrieve as the rest of a VM or folder.
//
// Reads never write: they decode values with the definitions vCenter has, and a vCenter where
// the provider never wrote has none of ours, which reads as "nothing of ours here". Only a
// write (SetMarks) creates missing definitions, which needs Global.ManageCustomFields.
type customFields struct {
	c       *Client
	mu      sync.Mutex
	loaded  bool
	byName  map[string]int32
	byKey   map[int32]string // every definition, ours and others'
	unknown map[int32]bool   // keys with no definition even after a reload
}

func newCustomFields(c *Client) *customFields { return &customFields{c: c} }

// loadLocked reads every custom field definition; the caller holds f.mu.
func (f *customFields) loadLocked(ctx context.Context) error {
	defs, err := object.NewCustomFieldsManager(f.c.vim).Field(ctx)
	if err != nil {
		return wrap(err, "reading custom attribute definitions")
	}
	f.byName, f.byKey, f.unknown = map[string]int32{}, map[int32]string{}, map[int32]bool{}
	for _, d := range defs {
		f.byName[d.Name] = d.Key
		f.byKey[d.Key] = d.Name
	}
	f.loaded = true
	return nil
}

// decoder returns a function that turns customValue into the engine's marks. The
// definitions are read once; values with a key not seen before (a definition another
// process made since) read them again, once.
func (f *customFields) decoder(ctx context.Context, contents []types.ObjectContent) (func([]types.BaseCustomFieldValue) engine.Marks, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.loaded || f.hasNewKeyLocked(contents) {
		if err := f.loadLocked(ctx); err != nil {
			return nil, err
		}
		f.rememberUnknownLocked(contents)
	}
	byKey := f.byKey
	return func(values []types.BaseCustomFieldValue) engine.Marks { return decodeMarks(byKey, values) }, nil
}

// values decodes the customValue of one object.
func (f *customFields) values(ctx context.Context, values []types.BaseCustomFieldValue) (engine.Marks, error) {
	oc := types.ObjectContent{PropSet: []types.DynamicProperty{{Name: "customValue", Val: types.ArrayOfCustomFieldValue{CustomFieldValue: values}}}}
	decode, err := f.decoder(ctx, []types.ObjectContent{oc})
	if err != nil {
		return nil, err
	}
	return decode(values), nil
}

func decodeMarks(byKey map[int32]string, values []types.BaseCustomFieldValue) engine.Marks {
	out := engine.Marks{}
	for _, v := range values {
		s, ok := v.(*types.CustomFieldStringValue)
		if !ok || s.Value == "" {
			continue
		}
		if name, ok := byKey[s.Key]; ok && slices.Contains(engine.MarkNames, name) {
			out[name] = s.Value
		}
	}
	return out
}

func eachKey(contents []types.ObjectContent, f func(int32) bool) bool {
	for _, oc := range contents {
		for _, p := range oc.PropSet {
			arr, ok := p.Val.(types.ArrayOfCustomFieldValue)
			if !ok {
				continue
			}
			for _, v := range arr.CustomFieldValue {
				if f(v.GetCustomFieldValue().Key) {
					return true
				}
			}
		}
	}
	return false
}

func (f *customFields) hasNewKeyLocked(contents []types.ObjectContent) bool {
	return eachKey(contents, func(k int32) bool {
		_, known := f.byKey[k]
		return !known && !f.unknown[k]
	})
}

func (f *customFields) rememberUnknownLocked(contents []types.ObjectContent) {
	eachKey(contents, func(k int32) bool {
		if _, known := f.byKey[k]; !known {
			f.unknown[k] = true
		}
		return false
	})
}

// keys returns the definition keys of the given marks, creating the definitions missing.
func (f *customFields) keys(ctx context.Context, names []string) (map[string]int32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.loaded {
		if err := f.loadLocked(ctx); err != nil {
			return nil, err
		}
	}
	m := object.NewCustomFieldsManager(f.c.vim)
	out := map[string]int32{}
	for _, name := range names {
		if key, ok := f.byName[name]; ok {
			out[name] = key
			continue
		}
		def, err := m.Add(ctx, name, "", nil, nil)
		var key int32
		switch {
		case err != nil && fault.Is(err, &types.DuplicateName{}):
			// Another provider process created it between our read and add.
			if key, err = m.FindKey(ctx, name); err != nil {
				return nil, wrap(err, "finding custom attribute %s", name)
			}
		case err != nil:
			return nil, wrap(err, "creating custom attribute %s", name)
		default:
			key = def.Key
		}
		f.byName[name], f.byKey[key] = key, name
		delete(f.unknown, key)
		out[name] = key
	}
	return out, nil
}

// SetMarks writes marks on a VM or folder; an empty value clears one.
func (c *Client) SetMarks(ctx context.Context, obj engine.Object, marks engine.Marks) error {
	names := make([]string, 0, len(marks))
	for _, name := range engine.MarkNames {
		if _, ok := marks[name]; ok {
			names = append(names, name)
		}
	}
	if len(names) != len(marks) {
		return fmt.Errorf("marking %s %s: unknown mark among %v", obj.Kind, obj.ID, marks)
	}
	keys, err := c.fields.keys(ctx, names)
	if err != nil {
		return err
	}
	m := object.NewCustomFieldsManager(c.vim)
	ref := objectRef(obj)
	for _, name := range names {
		err := c.retryTasks(ctx, func() error { return m.Set(ctx, ref, keys[name], marks[name]) })
		if IsNotFound(err) {
			return notFound(string(obj.Kind), obj.ID)
		}
		if err != nil {
			return wrap(err, "setting %s on %s", name, ref.Value)
		}
	}
	return nil
}
