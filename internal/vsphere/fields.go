package vsphere

import (
	"context"
	"fmt"
	"sync"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// Custom attributes that mark what the provider owns. They are readable in the same
// property-collector retrieve as the rest of a VM or folder, so ownership costs no extra reads.
const (
	FieldRole        = "instantclone.role"        // template | replica | parent | clone | pool
	FieldImage       = "instantclone.image"       // image ID the VM belongs to (internal VMs and clones)
	FieldSpec        = "instantclone.spec"        // JSON description: an image on its template, a pool on its folder
	FieldAttachments = "instantclone.attachments" // datastores attached to a pool from outside its own resource
	FieldPushToken   = "instantclone.push-token"  // the push_image_token a clone was (re)created under
	FieldState       = "instantclone.state"       // "ready" once an internal VM is complete
)

var allFields = []string{FieldRole, FieldImage, FieldSpec, FieldAttachments, FieldPushToken, FieldState}

type customFields struct {
	c      *Client
	mu     sync.Mutex
	byName map[string]int32
	byKey  map[int32]string
}

func newCustomFields(c *Client) *customFields { return &customFields{c: c} }

// load reads the field definitions once and creates the provider's own where missing.
func (f *customFields) load(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byName != nil {
		return nil
	}
	m := object.NewCustomFieldsManager(f.c.vim)
	defs, err := m.Field(ctx)
	if err != nil {
		return fmt.Errorf("reading custom attribute definitions: %w", err)
	}
	byName := map[string]int32{}
	for _, d := range defs {
		byName[d.Name] = d.Key
	}
	for _, name := range allFields {
		if _, ok := byName[name]; ok {
			continue
		}
		def, err := m.Add(ctx, name, "", nil, nil)
		if err != nil && fault.Is(err, &types.DuplicateName{}) {
			// Another provider process created it between our read and add.
			key, ferr := m.FindKey(ctx, name)
			if ferr != nil {
				return fmt.Errorf("finding custom attribute %s: %w", name, ferr)
			}
			byName[name] = key
			continue
		}
		if err != nil {
			return fmt.Errorf("creating custom attribute %s: %w", name, err)
		}
		byName[name] = def.Key
	}
	f.byName = byName
	f.byKey = map[int32]string{}
	for n, k := range byName {
		f.byKey[k] = n
	}
	return nil
}

func (f *customFields) decode(values []types.BaseCustomFieldValue) map[string]string {
	out := map[string]string{}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range values {
		s, ok := v.(*types.CustomFieldStringValue)
		if !ok {
			continue
		}
		if name, ok := f.byKey[s.Key]; ok && s.Value != "" {
			out[name] = s.Value
		}
	}
	return out
}

// SetFields writes custom attributes on a VM or folder; an empty value clears one.
func (c *Client) SetFields(ctx context.Context, ref types.ManagedObjectReference, values map[string]string) error {
	if err := c.fields.load(ctx); err != nil {
		return err
	}
	m := object.NewCustomFieldsManager(c.vim)
	for _, name := range allFields {
		v, ok := values[name]
		if !ok {
			continue
		}
		err := retry(ctx, func() error { return m.Set(ctx, ref, c.fields.byName[name], v) })
		if err != nil {
			return fmt.Errorf("setting %s on %s: %w", name, ref.Value, err)
		}
	}
	return nil
}
