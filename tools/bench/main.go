// Command bench measures the pool engine against the simulator with injected latency and
// prints a table for each latency profile: for each pool size and operation, wall time, the
// ideal time the latency and concurrency allow, their ratio, vCenter calls made in all and per
// clone, and the provider process's peak memory.
// The simulator runs in its own process (bin/vcsim) so that memory is the provider's alone.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi/find"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

type options struct {
	sizes       []int
	profiles    []profile
	concurrency int
	vcsim       string
	planCLI     string
	planSize    int
	simProfile  string // directory for the simulator's CPU profiles
	simFiles    string // directory the simulator keeps its datastores' files in
}

// profile is how long vCenter takes: every call, and the tasks the provider waits for.
type profile struct {
	name                  string
	api                   time.Duration // added to every call
	clone, power, destroy time.Duration // clone and instant-clone, power on and off, destroy
}

var profiles = []profile{
	{name: "2s-tasks", api: 2 * time.Millisecond, clone: 2 * time.Second, power: 2 * time.Second, destroy: 2 * time.Second},
	{name: "fast-tasks", api: 2 * time.Millisecond, clone: 200 * time.Millisecond, power: 20 * time.Millisecond, destroy: 50 * time.Millisecond},
	{name: "busy", api: 20 * time.Millisecond, clone: 2 * time.Second, power: 20 * time.Millisecond, destroy: 50 * time.Millisecond},
	// No latency at all: how fast the simulator itself goes, the floor under every profile.
	{name: "none"},
}

func (p profile) String() string {
	return fmt.Sprintf("%s: %v per call; clone %v, power %v, destroy %v", p.name, p.api, p.clone, p.power, p.destroy)
}

// methodLatencies are the simulator's -method-latency flags of a profile.
func (p profile) methodLatencies() []string {
	var out []string
	for method, d := range map[string]time.Duration{
		"CloneVM_Task": p.clone, "InstantClone_Task": p.clone, "PowerOnVM_Task": p.power, "PowerOffVM_Task": p.power, "VirtualMachine.Destroy_Task": p.destroy,
	} {
		out = append(out, "-method-latency", method+"="+d.String())
	}
	return out
}

func main() {
	var o options
	var sizes, names string
	flag.StringVar(&sizes, "sizes", "100,1000", "pool sizes to measure (none: only the refresh and plan timings)")
	flag.StringVar(&names, "profiles", "2s-tasks,fast-tasks,busy,none", "latency profiles to measure, of: 2s-tasks, fast-tasks, busy, none")
	flag.IntVar(&o.concurrency, "concurrency", 20, "max_concurrent_operations")
	flag.StringVar(&o.vcsim, "vcsim", "bin/vcsim", "simulator binary")
	flag.StringVar(&o.planCLI, "plan-cli", "", "terraform binary: also time `terraform plan` of a -plan-size pool through it")
	flag.IntVar(&o.planSize, "plan-size", 1000, "pool size for the terraform plan timing")
	flag.StringVar(&o.simProfile, "sim-cpuprofile", "", "`directory` to write the simulator's CPU profile of each run to")
	flag.StringVar(&o.simFiles, "sim-files", memoryDir(), "`directory` the simulator keeps its datastores' files in (default: /dev/shm where there is one)")
	flag.Parse()
	if o.planCLI != "" {
		abs, err := filepath.Abs(o.planCLI)
		if err != nil {
			fail(err)
		}
		o.planCLI = abs
	}
	for _, s := range strings.Split(sizes, ",") {
		if s == "none" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			fail(fmt.Errorf("bad size %q", s))
		}
		o.sizes = append(o.sizes, n)
	}
	for _, name := range strings.Split(names, ",") {
		i := slices.IndexFunc(profiles, func(p profile) bool { return p.name == strings.TrimSpace(name) })
		if i < 0 {
			fail(fmt.Errorf("no profile %q", name))
		}
		o.profiles = append(o.profiles, profiles[i])
	}
	fmt.Printf("max_concurrent_operations %d; calls are counted at the client, per clone made, removed or both (budget: 5 made, 4 removed)\n", o.concurrency)
	for _, p := range o.profiles {
		if len(o.sizes) == 0 {
			break
		}
		fmt.Printf("\n%s\n", p)
		fmt.Printf("%-6s %-22s %10s %10s %7s %8s %9s %7s %10s %10s\n", "clones", "operation", "wall", "ideal", "ratio", "calls", "per clone", "budget", "peak MiB", "cpu")
		for _, n := range o.sizes {
			if err := runSize(o, n, p); err != nil {
				fail(err)
			}
		}
	}
	if err := readWithoutLatency(o); err != nil {
		fail(err)
	}
	if o.planCLI != "" {
		if err := timePlan(o); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

// memoryDir is /dev/shm where it exists. The simulator writes each VM's files (a vCenter's
// hosts do that work within the task times the profiles set); on a disk, that writing is a
// part of the simulator's floor that says nothing of the provider.
func memoryDir() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return ""
}

// simulator runs bin/vcsim in its own process.
type simulator struct {
	cmd *exec.Cmd
	env map[string]string
	log string
}

func startSimulator(o options, p profile, datastores int) (*simulator, error) {
	dir, err := os.MkdirTemp("", "bench-vcsim")
	if err != nil {
		return nil, err
	}
	envFile := filepath.Join(dir, "env")
	args := []string{"-listen", "127.0.0.1:0", "-env-file", envFile, "-datastores", strconv.Itoa(datastores), "-hosts", "2", "-latency", p.api.String()}
	if o.simProfile != "" {
		args = append(args, "-cpuprofile", filepath.Join(o.simProfile, fmt.Sprintf("%s-%d.pprof", p.name, time.Now().UnixNano())))
	}
	cmd := exec.Command(o.vcsim, append(args, p.methodLatencies()...)...)
	if o.simFiles != "" {
		// The simulator writes every VM's files under the temporary directory.
		cmd.Env = append(os.Environ(), "TMPDIR="+o.simFiles)
	}
	// The simulator's own log, to read if it dies.
	logFile, err := os.Create(filepath.Join(dir, "vcsim.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stderr, cmd.Stdout = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", o.vcsim, err)
	}
	s := &simulator{cmd: cmd, env: map[string]string{}, log: logFile.Name()}
	for i := 0; i < 300; i++ {
		if data, err := os.ReadFile(envFile); err == nil && len(data) > 0 {
			sc := bufio.NewScanner(strings.NewReader(string(data)))
			for sc.Scan() {
				line := strings.TrimPrefix(sc.Text(), "export ")
				if k, v, ok := strings.Cut(line, "="); ok {
					s.env[k] = strings.Trim(v, "'\"")
				}
			}
			return s, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("simulator did not start")
}

func (s *simulator) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
}

func (s *simulator) connect(ctx context.Context) (*vsphere.Client, error) {
	return vsphere.Connect(ctx, vsphere.Config{Server: s.env["VSPHERE_SERVER"], User: s.env["VSPHERE_USER"], Password: s.env["VSPHERE_PASSWORD"], Insecure: true})
}

// bootstrap starts a simulator with 4 datastores, connects to it and finds its layout.
func bootstrap(ctx context.Context, o options, p profile) (*simulator, *vsphere.Client, string, []string, error) {
	sim, err := startSimulator(o, p, 4)
	if err != nil {
		return nil, nil, "", nil, err
	}
	c, err := sim.connect(ctx)
	if err != nil {
		sim.stop()
		return nil, nil, "", nil, err
	}
	rp, ds, err := layout(ctx, c)
	if err != nil {
		_ = c.Logout(ctx)
		sim.stop()
		return nil, nil, "", nil, err
	}
	return sim, c, rp, ds, nil
}

// layout finds the resource pool and datastore IDs of the simulator.
func layout(ctx context.Context, c *vsphere.Client) (string, []string, error) {
	finder := find.NewFinder(c.Vim(), false)
	dc, err := finder.DefaultDatacenter(ctx)
	if err != nil {
		return "", nil, err
	}
	finder.SetDatacenter(dc)
	pools, err := finder.ResourcePoolList(ctx, "*/Resources")
	if err != nil || len(pools) == 0 {
		return "", nil, fmt.Errorf("finding a resource pool: %v", err)
	}
	dss, err := finder.DatastoreList(ctx, "*")
	if err != nil {
		return "", nil, err
	}
	var ids []string
	for _, ds := range dss {
		ids = append(ids, ds.Reference().Value)
	}
	return pools[0].Reference().Value, ids, nil
}

// measurement is one row of the table.
type measurement struct {
	wall, ideal, cpu time.Duration
	calls            int64
	clones           int // made, removed or both by the operation
	budget           int // calls per clone allowed
	peakMiB          float64
}

func measure(c *vsphere.Client, f func() error) (measurement, error) {
	resetPeak()
	calls := c.Calls()
	cpu := cpuTime()
	start := time.Now()
	err := f()
	return measurement{wall: time.Since(start), cpu: cpuTime() - cpu, calls: c.Calls() - calls, peakMiB: peakMiB()}, err
}

func row(n int, op string, m measurement) {
	ratio, ideal, perClone, budget := "-", "-", "-", "-"
	if m.ideal > 0 {
		ratio = fmt.Sprintf("%.2f", float64(m.wall)/float64(m.ideal))
		ideal = m.ideal.Round(time.Millisecond).String()
	}
	if m.clones > 0 {
		perClone = fmt.Sprintf("%.2f", float64(m.calls)/float64(m.clones))
		budget = strconv.Itoa(m.budget)
	}
	fmt.Printf("%-6d %-22s %10s %10s %7s %8d %9s %7s %10.1f %10s\n", n, op, m.wall.Round(time.Millisecond), ideal, ratio, m.calls, perClone, budget, m.peakMiB, m.cpu.Round(time.Millisecond))
}

// work is the critical path of n jobs that each take job, c at once: at least one job, and
// at least all of them spread over the c slots.
func work(n, c int, job time.Duration) time.Duration {
	if n == 0 {
		return 0
	}
	return time.Duration(float64(job) * max(1, float64(n)/float64(c)))
}

// internalVMs bounds the parents of a pool on up to 4 datastores and 2 hosts.
const internalVMs = 4 * 2

// Calls allowed per clone made and per clone removed.
const (
	madeBudget    = 5
	removedBudget = 4
)

func runSize(o options, n int, p profile) error {
	ctx := context.Background()
	sim, c, rp, ds, err := bootstrap(ctx, o, p)
	if err != nil {
		return err
	}
	defer sim.stop()
	defer func() { _ = c.Logout(ctx) }()
	e := engine.New(c, o.concurrency, nil)
	imgA, err := e.PublishImage(ctx, engine.ImageSpec{Name: "a", SourceVM: "/DC0/vm/golden", Snapshot: "base"})
	if err != nil {
		return err
	}
	imgB, err := e.PublishImage(ctx, engine.ImageSpec{Name: "b", SourceVM: "/DC0/vm/golden", Snapshot: "patched"})
	if err != nil {
		return err
	}
	spec := engine.PoolSpec{
		Name: "bench", ImageID: imgA.ID, ResourcePool: rp, Datastores: ds[:3], Size: n,
		NamingPattern: "b-{n}", Rebalance: engine.RebalanceImmediate, BatchSize: o.concurrency,
	}
	c0 := o.concurrency
	publishChain := 2 * p.clone // a replica, then a parent on it
	remove := p.power + p.destroy
	replace := remove + p.clone // a clone recreated: power off, destroy, instant clone
	var pool *engine.Pool

	m, err := measure(c, func() error { pool, err = e.CreatePool(ctx, spec); return err })
	if err != nil {
		return fmt.Errorf("create %d: %w", n, err)
	}
	m.ideal, m.clones, m.budget = publishChain+work(n, c0, p.clone), n, madeBudget
	row(n, "create", m)

	// A read has no ideal time to compare with: what matters is that its vCenter calls do not
	// grow with the pool (one property-collector retrieve).
	m, err = measure(c, func() error { _, err := e.ReadPool(ctx, pool.ID, engine.LastSeenOf(pool)); return err })
	if err != nil {
		return err
	}
	row(n, "read (refresh)", m)

	grow := spec
	grow.Size = n + max(1, n/10)
	m, err = measure(c, func() error { _, err := e.ApplyPool(ctx, pool.ID, grow); return err })
	if err != nil {
		return fmt.Errorf("resize %d: %w", n, err)
	}
	m.ideal, m.clones, m.budget = work(grow.Size-n, c0, p.clone), grow.Size-n, madeBudget
	row(n, "resize +10%", m)

	push := grow
	push.ImageID = imgB.ID
	m, err = measure(c, func() error { _, err := e.ApplyPool(ctx, pool.ID, push); return err })
	if err != nil {
		return fmt.Errorf("push %d: %w", n, err)
	}
	// Then the old image's parents go.
	m.ideal = publishChain + work(push.Size, c0, replace) + work(internalVMs, c0, remove)
	m.clones, m.budget = push.Size, madeBudget+removedBudget
	row(n, "push-image", m)

	before, err := e.ReadPool(ctx, pool.ID, engine.LastSeenOf(pool))
	if err != nil {
		return err
	}
	var after *engine.Pool
	m, err = measure(c, func() error { after, err = e.Attach(ctx, pool.ID, ds[3], ""); return err })
	if err != nil {
		return fmt.Errorf("rebalance %d: %w", n, err)
	}
	moved := recreated(before, after)
	m.ideal, m.clones, m.budget = publishChain+work(moved, c0, replace), moved, madeBudget+removedBudget
	row(n, fmt.Sprintf("rebalance (%d moved)", moved), m)

	m, err = measure(c, func() error { return e.DeletePool(ctx, pool.ID) })
	if err != nil {
		return fmt.Errorf("delete %d: %w", n, err)
	}
	// Then the image's parents and replicas.
	m.ideal = work(push.Size, c0, remove) + work(internalVMs, c0, remove)
	m.clones, m.budget = push.Size, removedBudget
	row(n, "delete", m)
	return nil
}

func recreated(before, after *engine.Pool) int {
	ids := map[string]string{}
	for _, c := range before.Clones {
		ids[c.Name] = c.ID
	}
	n := 0
	for _, c := range after.Clones {
		if ids[c.Name] != c.ID {
			n++
		}
	}
	return n
}

// readWithoutLatency measures the refresh of a 1,000-clone pool with no injected latency:
// the provider's own time to read and map it.
func readWithoutLatency(o options) error {
	ctx := context.Background()
	sim, c, rp, ds, err := bootstrap(ctx, o, profile{name: "none"})
	if err != nil {
		return err
	}
	defer sim.stop()
	defer func() { _ = c.Logout(ctx) }()
	e := engine.New(c, o.concurrency, nil)
	img, err := e.PublishImage(ctx, engine.ImageSpec{Name: "a", SourceVM: "/DC0/vm/golden"})
	if err != nil {
		return err
	}
	pool, err := e.CreatePool(ctx, engine.PoolSpec{Name: "read", ImageID: img.ID, ResourcePool: rp, Datastores: ds[:3],
		Size: 1000, NamingPattern: "r-{n}", Rebalance: engine.RebalanceImmediate})
	if err != nil {
		return err
	}
	m, err := measure(c, func() error { _, err := e.ReadPool(ctx, pool.ID, engine.LastSeenOf(pool)); return err })
	if err != nil {
		return err
	}
	fmt.Printf("\nrefresh of a 1000-clone pool, no injected latency: %v wall, %v provider CPU, %d vCenter call(s), peak %.1f MiB\n",
		m.wall.Round(time.Millisecond), m.cpu.Round(time.Millisecond), m.calls, m.peakMiB)
	return nil
}

// resetPeak resets the process's peak resident set size (Linux: clear_refs 5).
func resetPeak() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakMiB reads the process's peak resident set size since the last reset.
func peakMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
