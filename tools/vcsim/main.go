// Command vcsim serves a simulated vCenter, with instant clone support and a
// powered-on golden VM, for demos and for trying the provider by hand.
//
// It prints shell exports for the provider's connection settings followed by
// a line describing the inventory, then serves until SIGINT or SIGTERM:
//
//	go run ./tools/vcsim -clusters 2 -task-latency 2s -env-file /tmp/vcsim.env &
//	. /tmp/vcsim.env   # once the file exists
//
// It only ever listens on a loopback address: the credentials are printed
// and the simulator is not hardened.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

func main() {
	// The simulator logs through the standard logger too; errors from the
	// vcsim package carry their own prefix.
	log.SetFlags(0)

	var opts vcsim.Options
	var envFile, cpuProfile string
	flag.StringVar(&opts.Listen, "listen", "127.0.0.1:8989", "loopback `host:port` to serve on")
	flag.IntVar(&opts.Clusters, "clusters", 1, "number of clusters")
	flag.IntVar(&opts.HostsPerCluster, "hosts", 2, "number of hosts per cluster")
	flag.IntVar(&opts.Datastores, "datastores", 4, "number of datastores, each mounted on every host")
	flag.DurationVar(&opts.Latency, "latency", 0, "delay added to every SOAP call, e.g. 20ms")
	flag.DurationVar(&opts.TaskLatency, "task-latency", 0, "delay added to clone, instant clone, power and destroy calls, e.g. 2s")
	flag.StringVar(&envFile, "env-file", "", "also write the exports to this `file` (removed on exit)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write the simulator's CPU profile to this `file` on exit")
	flag.Func("method-latency", "delay added to one SOAP method's calls instead of -task-latency, as `Method=duration`, or Type.Method=duration for one type's objects (VirtualMachine.Destroy_Task=50ms); repeatable", func(v string) error {
		method, value, ok := strings.Cut(v, "=")
		d, err := time.ParseDuration(value)
		if !ok || method == "" || err != nil {
			return fmt.Errorf("want Method=duration (InstantClone_Task=200ms), got %q", v)
		}
		if opts.MethodLatency == nil {
			opts.MethodLatency = map[string]time.Duration{}
		}
		opts.MethodLatency[method] = d
		return nil
	})
	flag.Parse()
	if flag.NArg() > 0 {
		log.Printf("vcsim: unexpected arguments: %q", flag.Args())
		flag.Usage()
		os.Exit(2)
	}
	if opts.Clusters < 1 || opts.HostsPerCluster < 1 || opts.Datastores < 1 {
		log.Print("vcsim: -clusters, -hosts and -datastores must be at least 1")
		os.Exit(2)
	}
	if _, err := vcsim.LoopbackAddress(opts.Listen); err != nil {
		log.Print(err)
		os.Exit(2)
	}

	if cpuProfile != "" {
		stop, err := profileCPU(cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		defer stop()
	}
	if err := run(opts, envFile); err != nil {
		log.Fatal(err)
	}
}

func run(opts vcsim.Options, envFile string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	s, err := vcsim.Start(opts)
	if err != nil {
		return err
	}
	defer s.Close()

	env := exports(s)
	if _, err := io.WriteString(os.Stdout, env); err != nil {
		return err
	}
	if envFile != "" {
		if err := writeFileAtomic(envFile, env); err != nil {
			return err
		}
		defer func() {
			if err := os.Remove(envFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
				log.Printf("vcsim: %v", err)
			}
		}()
	}
	log.Printf("vcsim: serving %s (certificate %s, SHA-1 %s); stop with Ctrl-C",
		s.URL(), s.CertificateFile(), s.Thumbprint())

	<-ctx.Done()
	log.Print("vcsim: shutting down")
	return nil
}

// exports is the shell snippet describing how to reach s.
func exports(s *vcsim.Server) string {
	var b strings.Builder
	for _, kv := range [][2]string{
		{"VSPHERE_SERVER", s.URL().Host},
		{"VSPHERE_USER", s.Username()},
		{"VSPHERE_PASSWORD", s.Password()},
		{"VSPHERE_ALLOW_UNVERIFIED_SSL", "true"},
		// The inputs of examples/quickstart, so that it applies as it is.
		{"TF_VAR_resource_pool_id", s.Inventory().Clusters[0].ResourcePool.Ref.Value},
		{"TF_VAR_datastore_ids", datastoreList(s.Inventory())},
	} {
		fmt.Fprintf(&b, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	fmt.Fprintf(&b, "# %s\n", describe(s.Inventory()))
	return b.String()
}

// datastoreList is the datastore IDs as an HCL list, for TF_VAR_datastore_ids.
func datastoreList(inv vcsim.Inventory) string {
	ids := make([]string, 0, len(inv.Datastores))
	for _, ds := range inv.Datastores {
		ids = append(ids, strconv.Quote(ds.Ref.Value))
	}
	return "[" + strings.Join(ids, ",") + "]"
}

// describe is a one-line summary of the inventory, written as a shell
// comment so the whole output can be sourced.
func describe(inv vcsim.Inventory) string {
	var parts []string
	parts = append(parts, fmt.Sprintf("datacenter %s (%s)", inv.Datacenter.Path, inv.Datacenter.Ref.Value))
	for _, c := range inv.Clusters {
		var hosts []string
		for _, h := range c.Hosts {
			hosts = append(hosts, fmt.Sprintf("%s (%s)", h.Name, h.Ref.Value))
		}
		parts = append(parts, fmt.Sprintf("cluster %s resource pool %s (%s) hosts %s",
			c.Name, c.ResourcePool.Path, c.ResourcePool.Ref.Value, strings.Join(hosts, ", ")))
	}
	var datastores []string
	for _, ds := range inv.Datastores {
		datastores = append(datastores, fmt.Sprintf("%s (%s)", ds.Name, ds.Ref.Value))
	}
	parts = append(parts, "datastores "+strings.Join(datastores, ", "))

	g := inv.Golden
	var snapshots []string
	for _, snap := range g.Snapshots {
		current := ""
		if snap.Ref == g.CurrentSnapshot.Ref {
			current = ", current"
		}
		snapshots = append(snapshots, fmt.Sprintf("%s (%s%s)", snap.Name, snap.Ref.Value, current))
	}
	parts = append(parts, fmt.Sprintf("golden VM %s (%s, powered on, host %s, datastore %s) snapshots %s",
		g.Path, g.Ref.Value, g.Host.Name, g.Datastore.Name, strings.Join(snapshots, ", ")))
	return strings.Join(parts, "; ")
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9@%+=:,./_-]+$`)

// shellQuote quotes v for a POSIX shell unless it is plainly safe.
func shellQuote(v string) string {
	if shellSafe.MatchString(v) {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// writeFileAtomic writes the file under a temporary name and renames it, so
// a script waiting for it never reads it half written. It holds a password,
// hence the private mode.
func writeFileAtomic(name, content string) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	// Once renamed there is nothing left to remove, and the error says only that.
	defer func() { _ = os.Remove(f.Name()) }()
	if _, err := f.WriteString(content); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}

// profileCPU starts Go's CPU profiler writing to name; the function it returns stops it.
func profileCPU(name string) (func(), error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			log.Printf("vcsim: %v", err)
		}
	}, nil
}
