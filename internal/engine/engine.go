// Package engine runs Horizon's instant-clone workflows (publish, create, resize, push-image,
// rebalance, observe, garbage collection) against a small vSphere interface. It knows nothing
// of Terraform: the provider maps its results to state.
package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
	"github.com/vmware/govmomi/vim25/types"
)

// VSphere is what the engine needs from vCenter; *vsphere.Client implements it.
type VSphere interface {
	Children(ctx context.Context, folderIDs []string) ([]vsphere.Folder, []vsphere.VM, error)
	AllFolders(ctx context.Context) ([]vsphere.Folder, error)
	FolderInfo(ctx context.Context, id string) (*vsphere.Folder, error)
	FindFolder(ctx context.Context, path string) (string, error)
	FolderPath(p string) string
	EnsureFolder(ctx context.Context, parent, name string) (string, error)
	RenameFolder(ctx context.Context, id, name string) error
	DeleteFolder(ctx context.Context, id string) error
	ClonePrepFolder(ctx context.Context, name string) (string, error)
	ForgetFolders()
	FindSourceVM(ctx context.Context, pathOrID string) (*vsphere.SourceVM, error)
	Name(ctx context.Context, kind, id string) (string, error)
	ResourcePoolHosts(ctx context.Context, poolID string) ([]string, error)
	DatastoreHosts(ctx context.Context, id string) ([]string, error)
	CloneVM(ctx context.Context, s vsphere.CloneSpec) (string, error)
	InstantClone(ctx context.Context, s vsphere.InstantCloneSpec) (string, error)
	PowerOn(ctx context.Context, id string) error
	RemoveVM(ctx context.Context, id string, poweredOn bool) error
	MoveIntoFolder(ctx context.Context, folder string, vmIDs ...string) error
	SetFields(ctx context.Context, ref types.ManagedObjectReference, values map[string]string) error
}

// Logger receives progress lines; the provider sends them to tflog.
type Logger func(ctx context.Context, msg string, fields map[string]any)

// Engine runs workflows with at most Concurrency vCenter provisioning operations at once,
// shared by every pool and image of the provider (Horizon's "max concurrent vCenter
// provisioning operations").
type Engine struct {
	vc    VSphere
	slots chan struct{}
	log   Logger

	locks keyedMutex
}

// New builds an engine. concurrency < 1 means 1.
func New(vc VSphere, concurrency int, log Logger) *Engine {
	if concurrency < 1 {
		concurrency = 1
	}
	if log == nil {
		log = func(context.Context, string, map[string]any) {}
	}
	return &Engine{vc: vc, slots: make(chan struct{}, concurrency), log: log}
}

// Concurrency is the engine's limit of concurrent provisioning operations.
func (e *Engine) Concurrency() int { return cap(e.slots) }

// slot runs f while holding one of the engine's operation slots.
func (e *Engine) slot(ctx context.Context, f func() error) error {
	select {
	case e.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-e.slots }()
	return f()
}

// InputError is bad configuration: it names the attribute the user must change.
type InputError struct {
	Attribute string
	Summary   string
	Detail    string
}

func (e *InputError) Error() string { return e.Summary + ": " + e.Detail }

func inputError(attr, summary, format string, args ...any) error {
	return &InputError{Attribute: attr, Summary: summary, Detail: fmt.Sprintf(format, args...)}
}

// AsInputError unwraps an InputError.
func AsInputError(err error) (*InputError, bool) {
	var ie *InputError
	ok := errors.As(err, &ie)
	return ie, ok
}

// ErrNotFound means the pool or image no longer exists in vCenter.
var ErrNotFound = vsphere.ErrNotFound

// CloneFailures lists the clones a workflow could not create or recreate.
type CloneFailures struct {
	Action   string // "create", "recreate", "remove"
	Failures map[string]error
	Stopped  bool // stop_on_first_error left some clones untouched
}

func (f *CloneFailures) Error() string {
	names := make([]string, 0, len(f.Failures))
	for n := range f.Failures {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "could not %s %d clone(s): ", f.Action, len(names))
	// The first few say why; a pool-wide outage would otherwise print a page per clone.
	const listed = 10
	for i, n := range names {
		if i == listed {
			fmt.Fprintf(&b, "; and %d more", len(names)-listed)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s", n, vsphere.Describe(f.Failures[n]))
	}
	if f.Stopped {
		b.WriteString(" (stopped at the first error as push_image.stop_on_first_error asks; the remaining clones were left as they were)")
	}
	return b.String()
}

// keyedMutex serializes work per key (an image ID, a pool ID).
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*sync.Mutex
}

func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*sync.Mutex{}
	}
	l, ok := k.m[key]
	if !ok {
		l = &sync.Mutex{}
		k.m[key] = l
	}
	k.mu.Unlock()
	l.Lock()
	return l.Unlock
}
