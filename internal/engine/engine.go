// Package engine runs Horizon's instant-clone workflows (publish, create, resize, push-image,
// rebalance, observe, delete, garbage collection) against a small port to vCenter (Port). It
// knows nothing of Terraform or govmomi: the provider maps its results to state, and
// internal/vsphere implements the port.
package engine

import (
	"context"
	"sync"
	"time"
)

// Engine runs workflows with at most Concurrency vCenter provisioning operations at once,
// shared by every pool and image of the provider (Horizon's "max concurrent vCenter
// provisioning operations").
type Engine struct {
	vc    Port
	slots chan struct{}
	log   Logger
	locks keyedMutex
	// leases are the locks shared with other runs against the same vCenter (lease.go).
	leases *Leases

	// The IDs of the four ClonePrep folders, found or made once and forgotten when one turns
	// out to be gone (a folder deleted out of band).
	folderMu sync.Mutex
	folders  map[string]string
	root     string // the datacenter's VM folder

	snapshotMu sync.Mutex // one replica snapshot taken at a time
	inFlight   inFlight   // clones being made, by parent
}

// New builds an engine. concurrency < 1 means 1; a nil log discards.
func New(vc Port, concurrency int, log Logger) *Engine {
	if concurrency < 1 {
		concurrency = 1
	}
	if log == nil {
		log = Discard
	}
	return &Engine{vc: vc, slots: make(chan struct{}, concurrency), log: log, leases: NewLeases(vc, log, "", DefaultLockTTL)}
}

// SetLockTTL sets how long a lock of this engine's run outlives its last renewal, which is
// how long the run blocks others if it dies holding one (DefaultLockTTL unless set). Call it
// before any workflow.
func (e *Engine) SetLockTTL(ttl time.Duration) {
	e.leases = NewLeases(e.vc, e.log, e.leases.Holder(), ttl)
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

// Logger receives the engine's log lines with structured fields; the provider sends them to
// tflog. Debug is for single vCenter operations, Info for a workflow's progress, Warn for a
// fault the engine works around, Error for one that stops a workflow.
type Logger interface {
	Debug(ctx context.Context, msg string, fields map[string]any)
	Info(ctx context.Context, msg string, fields map[string]any)
	Warn(ctx context.Context, msg string, fields map[string]any)
	Error(ctx context.Context, msg string, fields map[string]any)
}

// Discard is a Logger that drops every line.
var Discard Logger = nopLogger{}

type nopLogger struct{}

func (nopLogger) Debug(context.Context, string, map[string]any) {}
func (nopLogger) Info(context.Context, string, map[string]any)  {}
func (nopLogger) Warn(context.Context, string, map[string]any)  {}
func (nopLogger) Error(context.Context, string, map[string]any) {}
