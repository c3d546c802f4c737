package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync"
	"time"
)

// Locks across runs. keyedMutex serializes the goroutines of one provider process, but
// several Terraform runs against one vCenter (two states on one image, a CI job and a laptop)
// share nothing but vCenter. So work on an image's internal VMs and on a pool's record also
// holds a lease in vCenter: an empty folder in LockFolder, whose creation vCenter makes
// atomic (CreateFolder fails with DuplicateName for the second caller), marked with its
// holder and an expiry in vCenter's clock. The holder renews the expiry while it works and
// removes the folder when done. A run that dies (kill -9, a crashed runner) leaves its lease
// to expire; the next run then takes it over by removing that very folder, by ID, so that a
// lease another run took meanwhile is never removed by mistake.

// LockFolder holds the leases, in the datacenter's VM folder.
const LockFolder = "instantclone-locks"

// DefaultLockTTL is how long a lease outlives its holder's last renewal: how long a run that
// died blocks the others. Holders renew at a third of it.
const DefaultLockTTL = time.Minute

// ErrLockLost ends the work of a run whose lease another run took over: it could not renew it
// for a whole TTL (vCenter out of reach, or the run frozen), so others count it as gone.
var ErrLockLost = errors.New("another run took over this run's lock after it could not renew it")

// Leases hands out the locks shared by every run against one vCenter.
type Leases struct {
	vc     Port
	log    Logger
	holder string
	ttl    time.Duration

	mu      sync.Mutex
	parent  string        // LockFolder's ID, once found or made
	offset  time.Duration // vCenter's clock minus this machine's
	clocked bool
}

// NewLeases makes the leases of one run; holder names it to the others ("" names it by this
// machine and process, with a random part that tells two providers of one process apart).
func NewLeases(vc Port, log Logger, holder string, ttl time.Duration) *Leases {
	if holder == "" {
		holder = defaultHolder()
	}
	if ttl <= 0 {
		ttl = DefaultLockTTL
	}
	if log == nil {
		log = Discard
	}
	return &Leases{vc: vc, log: log, holder: holder, ttl: ttl}
}

func defaultHolder() string {
	host, _ := os.Hostname()
	n, _ := rand.Int(rand.Reader, big.NewInt(1<<32))
	return fmt.Sprintf("%s pid %d run %08x", host, os.Getpid(), n)
}

// Holder names this run in the leases it holds.
func (l *Leases) Holder() string { return l.holder }

// TTL is how long a lease of this run outlives its last renewal.
func (l *Leases) TTL() time.Duration { return l.ttl }

// Lease is one lock held across runs.
type Lease struct {
	leases *Leases
	key    string
	id     string // the lock folder
	ctx    context.Context
	cancel context.CancelCauseFunc
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// Context is the caller's context, ended with ErrLockLost if another run takes the lease over.
func (ls *Lease) Context() context.Context { return ls.ctx }

// ID is the lock folder's managed object ID.
func (ls *Lease) ID() string { return ls.id }

// lockHolder is what a lock folder says of the run holding it.
type lockHolder struct {
	id      string
	holder  string
	expires time.Time // zero: not marked yet
}

// Acquire takes key's lease, waiting while another run holds it (logging who) and taking
// over one whose holder stopped renewing it. Waiting ends with ctx.
func (l *Leases) Acquire(ctx context.Context, key string) (*Lease, error) {
	name := LockName(key)
	firstSeen := map[string]time.Time{}
	logged, told := "", false
	for {
		parent, err := l.lockFolder(ctx)
		if err != nil {
			return nil, err
		}
		now, err := l.now(ctx)
		if err != nil {
			return nil, err
		}
		id, err := l.vc.NewFolder(ctx, parent, name)
		if err == nil {
			return l.hold(ctx, key, id, now)
		}
		var exists *ExistsError
		if errors.Is(err, ErrNotFound) {
			l.forgetLockFolder() // removed out of band: make it again
			continue
		}
		if !errors.As(err, &exists) {
			return nil, fmt.Errorf("taking the lock on %s: %w", key, err)
		}
		held, err := l.heldBy(ctx, parent, name, exists.ID)
		if errors.Is(err, ErrNotFound) {
			continue // released meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("reading the lock on %s: %w", key, err)
		}
		if held.expires.IsZero() {
			// Just taken: its holder has not marked it yet. Count its TTL from when this run
			// first saw it, so that one left unmarked by a run that died still expires.
			if _, ok := firstSeen[held.id]; !ok {
				firstSeen[held.id] = now
			}
			held.expires = firstSeen[held.id].Add(l.ttl)
		}
		if now.After(held.expires) {
			l.log.Warn(ctx, "taking over a lock whose holder stopped renewing it", map[string]any{
				"lock": key, "holder": held.holder, "expired": held.expires.Format(time.RFC3339),
			})
			if err := l.vc.DeleteFolder(ctx, held.id); err != nil {
				return nil, fmt.Errorf("removing the expired lock on %s of %s: %w", key, describeHolder(held.holder), err)
			}
			continue
		}
		if !told || held.holder != logged {
			logged, told = held.holder, true
			l.log.Info(ctx, "waiting for a lock held by another run", map[string]any{
				"lock": key, "holder": describeHolder(held.holder), "expires": held.expires.Format(time.RFC3339),
			})
		}
		if err := sleep(ctx, l.poll()); err != nil {
			return nil, fmt.Errorf("waiting for the lock on %s held by %s: %w", key, describeHolder(held.holder), err)
		}
	}
}

// hold marks a lock folder just made as this run's and starts renewing it.
func (l *Leases) hold(ctx context.Context, key, id string, now time.Time) (*Lease, error) {
	err := l.vc.SetMarks(ctx, FolderObject(id), Marks{MarkLockHolder: l.holder, MarkLockExpires: stamp(now.Add(l.ttl))})
	if err != nil {
		l.remove(ctx, id)
		return nil, fmt.Errorf("marking the lock on %s: %w", key, err)
	}
	lctx, cancel := context.WithCancelCause(ctx)
	ls := &Lease{leases: l, key: key, id: id, ctx: lctx, cancel: cancel, stop: make(chan struct{}), done: make(chan struct{})}
	go ls.renew()
	return ls, nil
}

// renew pushes the lease's expiry forward every third of its TTL until released. A lock
// folder found gone means another run took it over: the work under it stops.
func (ls *Lease) renew() {
	defer close(ls.done)
	l := ls.leases
	tick := time.NewTicker(l.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-ls.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ls.ctx), l.ttl/3)
		now, err := l.now(ctx)
		if err == nil {
			err = l.vc.SetMarks(ctx, FolderObject(ls.id), Marks{MarkLockExpires: stamp(now.Add(l.ttl))})
		}
		cancel()
		switch {
		case errors.Is(err, ErrNotFound):
			l.log.Error(ls.ctx, "another run took over this run's lock; stopping the work it guarded", map[string]any{"lock": ls.key})
			ls.cancel(fmt.Errorf("%w (lock on %s)", ErrLockLost, ls.key))
			return
		case err != nil:
			l.log.Warn(ls.ctx, "could not renew a lock; trying again", map[string]any{"lock": ls.key, "error": err.Error()})
		}
	}
}

// Release stops renewing the lease and removes its folder, even when the caller's context
// has ended; a folder that cannot be removed expires after the TTL.
func (ls *Lease) Release() {
	ls.once.Do(func() {
		close(ls.stop)
		<-ls.done
		ls.cancel(nil)
		ls.leases.remove(ls.ctx, ls.id)
	})
}

func (l *Leases) remove(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := l.vc.DeleteFolder(ctx, id); err != nil {
		l.log.Warn(ctx, "could not remove a lock folder; it expires by itself", map[string]any{"folder": id, "ttl": l.ttl.String(), "error": err.Error()})
	}
}

// heldBy reads the lock folder that holds name: id when vCenter named it, else by name.
func (l *Leases) heldBy(ctx context.Context, parent, name, id string) (*lockHolder, error) {
	var f *Folder
	if id != "" {
		var err error
		if f, err = l.vc.Folder(ctx, id); err != nil {
			return nil, err
		}
	} else {
		fs, _, err := l.vc.Contents(ctx, parent)
		if err != nil {
			return nil, err
		}
		for i := range fs {
			if fs[i].Parent == parent && fs[i].Name == name {
				f = &fs[i]
			}
		}
		if f == nil {
			return nil, &NotFoundError{Kind: "lock folder", Name: name}
		}
	}
	held := &lockHolder{id: f.ID, holder: f.Marks[MarkLockHolder]}
	if s := f.Marks[MarkLockExpires]; s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("lock folder %s has an unreadable expiry %q: %w", f.ID, s, err)
		}
		held.expires = t
	}
	return held, nil
}

// lockFolder is LockFolder's ID, found or made once.
func (l *Leases) lockFolder(ctx context.Context) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.parent != "" {
		return l.parent, nil
	}
	id, err := l.vc.CreateFolder(ctx, "", LockFolder)
	if err != nil {
		return "", fmt.Errorf("creating folder %s: %w", LockFolder, err)
	}
	l.parent = id
	return id, nil
}

func (l *Leases) forgetLockFolder() {
	l.mu.Lock()
	l.parent = ""
	l.mu.Unlock()
}

// now is vCenter's time, read once and then followed on this machine's monotonic clock.
func (l *Leases) now(ctx context.Context) (time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.clocked {
		t, err := l.vc.Now(ctx)
		if err != nil {
			return time.Time{}, fmt.Errorf("reading vCenter's clock: %w", err)
		}
		l.offset, l.clocked = time.Until(t), true
	}
	return time.Now().Add(l.offset), nil
}

// poll is how long a waiting run sleeps before it looks again: a little at random, so that
// runs waiting on one lock do not call vCenter in step.
func (l *Leases) poll() time.Duration {
	base := min(2*time.Second, l.ttl/4)
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(base/2)+1))
	return base + time.Duration(n.Int64())
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// LockName is the lock folder's name for a key ("image 1a2b" → "image-1a2b").
func LockName(key string) string { return strings.ReplaceAll(key, " ", "-") }

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func describeHolder(h string) string {
	if h == "" {
		return "another run (not yet named)"
	}
	return h
}
