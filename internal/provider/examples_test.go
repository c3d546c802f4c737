package provider_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/acctest"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// exampleRun is an example directory copied with the reusable module beside it, as in the
// repository, and run by the real CLI with the provider built from source.
type exampleRun struct {
	*cliRun
	vars []string
}

func newExampleRun(t *testing.T, example string) *exampleRun {
	c := newCLIRun(t)
	for _, dir := range []string{"modules/instant-clone-pool", example} {
		if err := os.CopyFS(filepath.Join(c.dir, dir), os.DirFS(filepath.Join("..", "..", "examples", dir))); err != nil {
			t.Fatalf("copying examples/%s: %v", dir, err)
		}
	}
	c.dir = filepath.Join(c.dir, example)
	return &exampleRun{cliRun: c}
}

// must runs the CLI and fails the test unless it exits 0.
func (r *exampleRun) must(args ...string) string {
	r.t.Helper()
	out, err := r.run(r.vars, args...)
	if err != nil {
		r.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// planExitCode runs plan -detailed-exitcode: 0 no changes, 2 changes, 1 failed.
func (r *exampleRun) planExitCode() (int, string) {
	out, err := r.run(r.vars, "plan", "-detailed-exitcode", "-input=false", "-no-color")
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), out
	}
	if err != nil {
		r.t.Fatalf("plan: %v\n%s", err, out)
	}
	return 0, out
}

// outputJSON decodes one output of the applied example.
func (r *exampleRun) outputJSON(name string, into any) {
	r.t.Helper()
	if err := json.Unmarshal([]byte(r.must("output", "-json", name)), into); err != nil {
		r.t.Fatalf("output %s: %v", name, err)
	}
}

// applyCheckDestroy is the life of an example: install the module (terraform get: init
// would look the dev-overridden provider up in the registry), apply, check, a plan that shows
// nothing to do, destroy.
func (r *exampleRun) applyCheckDestroy(check func()) {
	r.t.Helper()
	r.must("get", "-no-color")
	r.must("apply", "-auto-approve", "-input=false", "-no-color")
	check()
	if code, out := r.planExitCode(); code != 0 {
		r.t.Fatalf("the plan after apply exited %d, want 0 (no changes):\n%s", code, out)
	}
	r.must("destroy", "-auto-approve", "-input=false", "-no-color")
}

// expectPool checks a pool's folder in one simulator holds exactly the clones names, spread
// as the output says and within one of each other over datastores.
func expectPool(t *testing.T, env *acctest.Env, folder string, names []string, datastores []string, output map[string]int) {
	t.Helper()
	clones := env.VMsInFolder(t, folder)
	if got := acctest.Names(clones); fmt.Sprint(got) != fmt.Sprint(names) {
		t.Errorf("pool folder %s holds %v, want %v", folder, got, names)
	}
	dist := acctest.Distribution(clones)
	lo, hi := len(clones), 0
	for _, ds := range datastores {
		lo, hi = min(lo, dist[ds]), max(hi, dist[ds])
		if output[ds] != dist[ds] {
			t.Errorf("pool %s: the output says %d clones on %s, the simulator holds %d", folder, output[ds], ds, dist[ds])
		}
	}
	if hi-lo > 1 {
		t.Errorf("pool %s unbalanced over %v: %v", folder, datastores, dist)
	}
}

// expectEmpty checks nothing the provider makes is left in a simulator.
func expectEmpty(t *testing.T, where string, env *acctest.Env) {
	t.Helper()
	for _, vm := range env.VMs(t) {
		if vm.ID != env.Inv.Golden.Ref.Value {
			t.Errorf("%s: VM %s left after destroy", where, vm.Name)
		}
	}
}

func jsonString(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAccExamples_moduleForEach applies examples/pools-for-each: the module once per pool,
// one shared image named by its BIOS UUID as data.vsphere_virtual_machine.golden.id gives it,
// and one pool with an extra datastore attached.
func TestAccExamples_moduleForEach(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	r := newExampleRun(t, "pools-for-each")
	own := []string{env.Datastore(0), env.Datastore(1)}
	r.vars = append(env.Credentials(),
		"TF_VAR_source_vm="+env.BIOSUUID(t, env.Inv.Golden.Ref.Value),
		"TF_VAR_resource_pool_id="+env.ResourcePool(),
		"TF_VAR_datastore_ids="+jsonString(t, own),
		"TF_VAR_pools="+jsonString(t, map[string]any{
			"sales": map[string]any{"size": 3},
			"eng":   map[string]any{"size": 2, "naming_pattern": "eng-{n:fixed=2}", "extra_datastore_ids": []string{env.Datastore(2)}},
		}),
	)
	r.applyCheckDestroy(func() {
		var spread map[string]map[string]int
		var names map[string][]string
		r.outputJSON("clones_per_datastore", &spread)
		r.outputJSON("clone_names", &names)
		expectPool(t, env, "sales", []string{"sales-1", "sales-2", "sales-3"}, own, spread["sales"])
		expectPool(t, env, "eng", []string{"eng-01", "eng-02"}, append(own, env.Datastore(2)), spread["eng"])
		if fmt.Sprint(names["eng"]) != "[eng-01 eng-02]" || len(names["sales"]) != 3 {
			t.Errorf("clone_names output %v", names)
		}
		if n := len(acctest.WithPrefix(env.VMs(t), "cp-template-")); n != 1 {
			t.Errorf("%d template VMs: the pools should share one image", n)
		}
	})
	expectEmpty(t, "vCenter", env)
}

// TestAccExamples_twoSites applies examples/two-sites against two simulators at once: a
// provider alias per vCenter, the module once per site, each site's image and pool in its own
// vCenter only.
func TestAccExamples_twoSites(t *testing.T) {
	acctest.PreCheck(t)
	sites := acctest.NewSites(t, vcsim.Options{}, "east", "west")
	r := newExampleRun(t, "two-sites")
	vars, passwords := map[string]any{}, map[string]string{}
	for name, env := range sites {
		vars[name] = map[string]any{
			"vsphere_server": env.Server.URL().Host, "user": env.Server.Username(), "allow_unverified_ssl": true,
			"source_vm":        env.BIOSUUID(t, env.Inv.Golden.Ref.Value),
			"resource_pool_id": env.ResourcePool(),
			"datastore_ids":    []string{env.Datastore(0), env.Datastore(1)},
			"size":             map[string]int{"east": 3, "west": 2}[name],
		}
		passwords[name] = env.Server.Password()
	}
	r.vars = []string{"TF_VAR_sites=" + jsonString(t, vars), "TF_VAR_passwords=" + jsonString(t, passwords)}
	r.applyCheckDestroy(func() {
		var spread map[string]map[string]int
		r.outputJSON("clones_per_datastore", &spread)
		east, west := sites["east"], sites["west"]
		expectPool(t, east, "east-desktops", []string{"east-1", "east-2", "east-3"}, []string{east.Datastore(0), east.Datastore(1)}, spread["east"])
		expectPool(t, west, "west-desktops", []string{"west-1", "west-2"}, []string{west.Datastore(0), west.Datastore(1)}, spread["west"])
		for name, env := range sites {
			other := map[string]string{"east": "west", "west": "east"}[name]
			if vms := env.VMsInFolder(t, other+"-desktops"); len(vms) > 0 {
				t.Errorf("%s's vCenter holds %s's clones %v", name, other, acctest.Names(vms))
			}
			if n := len(acctest.WithPrefix(env.VMs(t), "cp-template-")); n != 1 {
				t.Errorf("%s's vCenter holds %d template VMs, want its own one", name, n)
			}
		}
	})
	for name, env := range sites {
		expectEmpty(t, name, env)
	}
}
