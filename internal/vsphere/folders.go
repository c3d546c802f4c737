package vsphere

import (
	"context"
	"errors"
	"path"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// FindFolder resolves a VM folder by inventory path (absolute, or relative to the VM folder).
func (c *Client) FindFolder(ctx context.Context, p string) (*engine.Folder, error) {
	abs := c.folderPath(p)
	finder := find.NewFinder(c.vim, false)
	finder.SetDatacenter(c.datacenter)
	f, err := finder.Folder(ctx, abs)
	if err != nil {
		if isFinderNotFound(err) {
			return nil, notFound("folder", abs)
		}
		return nil, wrap(err, "finding folder %s", abs)
	}
	return &engine.Folder{ID: f.Reference().Value, Name: path.Base(abs), Path: abs}, nil
}

// Folder reads one folder and its marks.
func (c *Client) Folder(ctx context.Context, id string) (*engine.Folder, error) {
	var f mo.Folder
	err := retry(ctx, func() error {
		return property.DefaultCollector(c.vim).RetrieveOne(ctx, folderRef(id), folderProps, &f)
	})
	if err != nil {
		if IsNotFound(err) {
			return nil, notFound("folder", id)
		}
		return nil, wrap(err, "reading folder %s", id)
	}
	marks, err := c.fields.values(ctx, f.CustomValue)
	if err != nil {
		return nil, err
	}
	return &engine.Folder{ID: id, Name: f.Name, Parent: refValue(f.Parent), Marks: marks}, nil
}

// CreateFolder returns the child folder called name of parent (the datacenter's VM folder
// when parent is ""), creating it if missing. Two callers racing to create it both end up
// with the same folder.
func (c *Client) CreateFolder(ctx context.Context, parent, name string) (string, error) {
	if parent == "" {
		parent = c.vmFolder.Value
	}
	if id, err := c.childFolder(ctx, parent, name); err != nil || id != "" {
		return id, err
	}
	id, err := c.NewFolder(ctx, parent, name)
	if errors.Is(err, engine.ErrExists) {
		return c.childFolder(ctx, parent, name) // another caller made it first
	}
	return id, err
}

func (c *Client) childFolder(ctx context.Context, parent, name string) (string, error) {
	folders, _, err := c.Contents(ctx, parent)
	if err != nil {
		return "", err
	}
	stored := EscapeName(name) // vCenter returns names escaped
	for _, f := range folders {
		if f.Parent == parent && f.Name == stored {
			return f.ID, nil
		}
	}
	return "", nil
}

// NewFolder creates parent's child folder called name; one already there fails with the
// engine's ExistsError naming it (vCenter's DuplicateName carries the folder holding the name).
func (c *Client) NewFolder(ctx context.Context, parent, name string) (string, error) {
	var created string
	err := retry(ctx, func() error {
		f, err := c.folder(parent).CreateFolder(ctx, name)
		if err != nil {
			return err
		}
		created = f.Reference().Value
		return nil
	})
	if err != nil {
		if IsNotFound(err) {
			return "", notFound("folder", parent)
		}
		return "", wrap(err, "creating folder %s in %s", name, parent)
	}
	return created, nil
}

// Now is vCenter's clock (ServiceInstance.CurrentTime).
func (c *Client) Now(ctx context.Context) (time.Time, error) {
	var now time.Time
	err := retry(ctx, func() error {
		t, err := methods.GetCurrentTime(ctx, c.vim)
		if err != nil {
			return err
		}
		now = *t
		return nil
	})
	if err != nil {
		return time.Time{}, wrap(err, "reading vCenter's clock")
	}
	return now, nil
}

// RenameFolder renames a folder.
func (c *Client) RenameFolder(ctx context.Context, id, name string) error {
	_, err := c.runTask(ctx, func(ctx context.Context) (*object.Task, error) { return c.folder(id).Rename(ctx, name) })
	if err != nil {
		return wrap(err, "renaming folder %s to %s", id, name)
	}
	return nil
}

// DeleteFolder removes an empty folder; one already gone is fine.
func (c *Client) DeleteFolder(ctx context.Context, id string) error {
	_, err := c.runTask(ctx, func(ctx context.Context) (*object.Task, error) { return c.folder(id).Destroy(ctx) })
	if err != nil && !IsNotFound(err) {
		return wrap(err, "deleting folder %s", id)
	}
	return nil
}

func isFinderNotFound(err error) bool {
	var nf *find.NotFoundError
	return errors.As(err, &nf)
}

func (c *Client) folder(id string) *object.Folder { return object.NewFolder(c.vim, folderRef(id)) }
