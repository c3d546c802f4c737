package acctest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// CLIRun drives the CLI under test against the provider built from this module and run as
// its own process, as in production. The acceptance framework serves the provider inside the
// test process; a test that kills the provider mid-operation (a crashed runner, kill -9)
// needs it apart.
type CLIRun struct {
	env      *Env
	dir      string // the working directory, with main.tf and the local state
	provider string // the provider binary
	vars     []string
}

// NewCLIRun builds the provider into a temporary directory and prepares a working directory
// whose CLI configuration points the provider's address at that build (dev_overrides, so no
// init and no registry).
func NewCLIRun(t *testing.T, env *Env) *CLIRun {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("finding the module: %v", err)
	}
	bin := t.TempDir()
	provider := filepath.Join(bin, "terraform-provider-instantclone")
	build := exec.Command("go", "build", "-o", provider, ".")
	build.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	host := os.Getenv("TF_ACC_PROVIDER_HOST")
	if host == "" {
		host = "registry.terraform.io"
	}
	rc := filepath.Join(bin, "dev.tfrc")
	overrides := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    %q = %q\n  }\n  direct {}\n}\n", host+"/instantclone/instantclone", bin)
	if err := os.WriteFile(rc, []byte(overrides), 0o600); err != nil {
		t.Fatal(err)
	}
	return &CLIRun{
		env: env, dir: t.TempDir(), provider: provider,
		vars: append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1"),
	}
}

// Provider is the path of the provider binary the CLI runs.
func (r *CLIRun) Provider() string { return r.provider }

// Configure writes the configuration (a provider block for the Env is added, with the
// provider's source address).
func (r *CLIRun) Configure(t *testing.T, config string) {
	t.Helper()
	cfg := `terraform {
  required_providers {
    instantclone = { source = "instantclone/instantclone" }
  }
}
` + r.env.ProviderBlock() + config
	if err := os.WriteFile(filepath.Join(r.dir, "main.tf"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Run runs the CLI with args and returns its exit code and output.
func (r *CLIRun) Run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	args = append(args, "-no-color")
	if args[0] != "show" {
		args = append(args, "-input=false")
	}
	cmd := exec.CommandContext(context.Background(), os.Getenv("TF_ACC_TERRAFORM_PATH"), args...)
	cmd.Dir, cmd.Env = r.dir, r.vars
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	default:
		t.Fatalf("running %s: %v", strings.Join(args, " "), err)
		return -1, ""
	}
}

// Apply runs apply and fails the test unless it succeeds.
func (r *CLIRun) Apply(t *testing.T) {
	t.Helper()
	if code, out := r.Run(t, "apply", "-auto-approve"); code != 0 {
		t.Fatalf("apply failed (exit %d):\n%s", code, out)
	}
}

// PlanIsEmpty fails the test unless a plan shows no change.
func (r *CLIRun) PlanIsEmpty(t *testing.T) {
	t.Helper()
	if code, out := r.Run(t, "plan", "-detailed-exitcode"); code != 0 {
		t.Fatalf("plan after converging: exit %d, want 0 (no change):\n%s", code, out)
	}
}

// StateClones reads the clones state holds for the pool at address, by ID.
func (r *CLIRun) StateClones(t *testing.T, address string) map[string]string {
	t.Helper()
	code, out := r.Run(t, "show", "-json")
	if code != 0 {
		t.Fatalf("show -json: exit %d:\n%s", code, out)
	}
	var state struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Address string `json:"address"`
					Values  struct {
						Clones []struct{ ID, Name string } `json:"clones"`
					} `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal([]byte(out), &state); err != nil {
		t.Fatalf("reading show -json: %v", err)
	}
	clones := map[string]string{}
	for _, rs := range state.Values.RootModule.Resources {
		if rs.Address == address {
			for _, c := range rs.Values.Clones {
				clones[c.ID] = c.Name
			}
		}
	}
	return clones
}

// Killed names the process a test kills.
type Killed string

// The processes a test can kill.
const (
	KillProvider Killed = "provider"
	KillCLI      Killed = "CLI"
)

// KillAt kills the provider's or the CLI's process (SIGKILL: no cleanup, no deferred
// release) when the simulator receives the nth call of one of methods from now on, while the
// call is served. A provider the killed CLI leaves behind is killed when the test ends.
func (r *CLIRun) KillAt(t *testing.T, who Killed, n int, methods ...string) *Trigger {
	t.Helper()
	path, parent := r.provider, 0 // the provider built for this test runs nowhere else
	if who == KillCLI {
		parent = os.Getpid() // only the CLI this test started
		cli, err := filepath.EvalSymlinks(os.Getenv("TF_ACC_TERRAFORM_PATH"))
		if err != nil {
			t.Fatal(err)
		}
		if path, err = filepath.Abs(cli); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = killProcessesOf(r.provider, 0) })
	}
	call := r.env.Server.NthCall(n, methods...)
	return r.env.trigger(t, "killing the "+string(who), func(context.Context) error { return killProcessesOf(path, parent) }, func(ctx context.Context) bool {
		select {
		case <-call:
			return true
		case <-ctx.Done():
			return false
		}
	})
}
