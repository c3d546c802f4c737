package vsphere

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// FindFolder resolves a VM folder by inventory path (absolute, or relative to the VM folder).
func (c *Client) FindFolder(ctx context.Context, p string) (string, error) {
	abs := c.FolderPath(p)
	finder := find.NewFinder(c.vim, false)
	finder.SetDatacenter(c.datacenter)
	f, err := finder.Folder(ctx, abs)
	if err != nil {
		var nf *find.NotFoundError
		if asNotFound(err, &nf) {
			return "", notFound("folder", abs)
		}
		return "", fmt.Errorf("finding folder %s: %w", abs, err)
	}
	return f.Reference().Value, nil
}

// FolderInfo reads one folder and its custom attributes.
func (c *Client) FolderInfo(ctx context.Context, id string) (*Folder, error) {
	if err := c.fields.load(ctx); err != nil {
		return nil, err
	}
	var f mo.Folder
	err := retry(ctx, func() error {
		return property.DefaultCollector(c.vim).RetrieveOne(ctx, FolderRef(id), folderProps, &f)
	})
	if err != nil {
		if IsNotFound(err) {
			return nil, notFound("folder", id)
		}
		return nil, fmt.Errorf("reading folder %s: %w", id, err)
	}
	return &Folder{ID: id, Name: f.Name, Parent: refValue(f.Parent), Fields: c.fields.decode(f.CustomValue)}, nil
}

// EnsureFolder returns the child folder called name of parent, creating it if missing.
// Two callers racing to create it both end up with the same folder.
func (c *Client) EnsureFolder(ctx context.Context, parent, name string) (string, error) {
	if id, err := c.childFolder(ctx, parent, name); err != nil || id != "" {
		return id, err
	}
	var created string
	err := retry(ctx, func() error {
		res, err := methods.CreateFolder(ctx, c.vim, &types.CreateFolder{This: FolderRef(parent), Name: name})
		if err != nil {
			return err
		}
		created = res.Returnval.Value
		return nil
	})
	if err != nil {
		if fault.Is(err, &types.DuplicateName{}) {
			return c.childFolder(ctx, parent, name)
		}
		return "", fmt.Errorf("creating folder %s in %s: %w", name, parent, err)
	}
	return created, nil
}

func (c *Client) childFolder(ctx context.Context, parent, name string) (string, error) {
	folders, _, err := c.Children(ctx, []string{parent})
	if err != nil {
		return "", err
	}
	for _, f := range folders {
		if f.Parent == parent && f.Name == name {
			return f.ID, nil
		}
	}
	return "", nil
}

// RenameFolder renames a folder.
func (c *Client) RenameFolder(ctx context.Context, id, name string) error {
	_, err := c.runTask(ctx, func(ctx context.Context) (*object.Task, error) { return c.folder(id).Rename(ctx, name) })
	if err != nil {
		return wrap(err, "renaming folder %s to %s", id, name)
	}
	return nil
}

// FolderPathOf builds the inventory path of a folder from its ancestors (a few calls).
func (c *Client) FolderPathOf(ctx context.Context, id string) (string, error) {
	var parts []string
	cur := id
	for cur != "" && cur != c.vmFolder.Value {
		f, err := c.FolderInfo(ctx, cur)
		if err != nil {
			return "", err
		}
		parts = append([]string{f.Name}, parts...)
		cur = f.Parent
	}
	return path.Join(append([]string{c.dcPath, "vm"}, parts...)...), nil
}

// ClonePrepFolder returns one of the four ClonePrep folders under the VM folder, creating it
// if missing. Found folders are remembered for the life of the client.
func (c *Client) ClonePrepFolder(ctx context.Context, name string) (string, error) {
	c.folderMu.Lock()
	defer c.folderMu.Unlock()
	if id, ok := c.folders[name]; ok {
		return id, nil
	}
	id, err := c.EnsureFolder(ctx, c.vmFolder.Value, name)
	if err != nil {
		return "", err
	}
	c.folders[name] = id
	return id, nil
}

// ForgetFolders drops remembered folders, after one was found missing.
func (c *Client) ForgetFolders() {
	c.folderMu.Lock()
	c.folders = map[string]string{}
	c.folderMu.Unlock()
}

// RelativeFolder trims the VM folder prefix of an absolute path, for display.
func (c *Client) RelativeFolder(abs string) string {
	return strings.TrimPrefix(strings.TrimPrefix(abs, path.Join(c.dcPath, "vm")), "/")
}
