package provider_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/acctest"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// cliRun runs the CLI under test in dir with the provider binary built into bin.
type cliRun struct {
	t        *testing.T
	dir, bin string
	env      []string
}

func newCLIRun(t *testing.T) *cliRun {
	dir, bin := t.TempDir(), t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "terraform-provider-instantclone"), "github.com/instantclone/terraform-provider-instantclone")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	rc := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"registry.terraform.io/instantclone/instantclone\" = %q\n    \"registry.opentofu.org/instantclone/instantclone\" = %q\n  }\n  direct {}\n}\n", bin, bin)
	if err := os.WriteFile(filepath.Join(dir, "dev.tfrc"), []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	return &cliRun{t: t, dir: dir, bin: bin, env: []string{"TF_CLI_CONFIG_FILE=" + filepath.Join(dir, "dev.tfrc"), "TF_IN_AUTOMATION=1"}}
}

// run runs the CLI with extra environment and returns its combined output and error.
func (c *cliRun) run(extra []string, args ...string) (string, error) {
	cmd := exec.Command(os.Getenv("TF_ACC_TERRAFORM_PATH"), args...)
	cmd.Dir = c.dir
	cmd.Env = append(append(append(os.Environ(), c.env...), extra...), "TF_ACC=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestAccSecurity_passwordNeverLogged runs the real CLI and the built provider at every log
// level, with a good and a bad password, and looks for the password in logs, output, errors
// and state; and for a pool's guest password in logs and output (it is applied with TRACE
// logs, so it crosses the provider's vCenter calls).
func TestAccSecurity_passwordNeverLogged(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{})
	c := newCLIRun(t)
	cfg := `
terraform {
  required_providers {
    instantclone = { source = "instantclone/instantclone" }
  }
}
provider "instantclone" {}
` + imageHCL("img", "secret-check") + poolHCL(env, poolArgs{label: "desk", name: "desk", datastores: []string{env.Datastore(0)}, size: 1, extra: customizationHCL()})
	if err := os.WriteFile(filepath.Join(c.dir, "main.tf"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := func(password string) []string {
		return []string{
			"VSPHERE_SERVER=" + env.Server.URL().Host, "VSPHERE_USER=" + env.Server.Username(),
			"VSPHERE_PASSWORD=" + password, "VSPHERE_ALLOW_UNVERIFIED_SSL=true",
		}
	}
	password := env.Server.Password()
	wrong := "Wr0ng-" + password[:8]
	// The guest password of the pool's customization is kept in state (sensitive), and
	// nowhere else.
	checkSecrets := func(what, text string, secrets ...string) {
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("%s contains a password", what)
			}
		}
	}
	check := func(what, text string) { checkSecrets(what, text, password, wrong, guestPassword) }
	for _, level := range []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR"} {
		logFile := filepath.Join(c.dir, "tf-"+level+".log")
		logs := []string{"TF_LOG=" + level, "TF_LOG_PATH=" + logFile}
		args := []string{"plan", "-input=false", "-no-color"}
		if level == "TRACE" {
			args = []string{"apply", "-auto-approve", "-input=false", "-no-color"}
		}
		out, err := c.run(append(creds(password), logs...), args...)
		if err != nil {
			t.Fatalf("%s at %s: %v\n%s", args[0], level, err, out)
		}
		check("output at "+level, out)
		data, err := os.ReadFile(logFile)
		if err != nil {
			t.Fatal(err)
		}
		if level == "TRACE" && !strings.Contains(string(data), "connecting to vCenter") {
			t.Fatalf("the TRACE log has no provider lines; the check would prove nothing")
		}
		check("log at "+level, string(data))

		// A refused login: the error names the user, never the password.
		out, err = c.run(append(creds(wrong), logs...), "plan", "-input=false", "-no-color")
		if err == nil || !strings.Contains(out, "rejected the user name or password") {
			t.Fatalf("bad password at %s: want a refused login, got %v\n%s", level, err, out)
		}
		check("bad-password output at "+level, out)
		data, _ = os.ReadFile(logFile)
		check("bad-password log at "+level, string(data))
	}
	state, err := os.ReadFile(filepath.Join(c.dir, "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	checkSecrets("state", string(state), password, wrong)
	if !strings.Contains(string(state), guestPassword) {
		t.Error("the state lacks the pool's guest password: the check of the logs would prove nothing")
	}
	if out, err := c.run(creds(password), "destroy", "-auto-approve", "-input=false", "-no-color"); err != nil {
		t.Fatalf("destroy: %v\n%s", err, out)
	}
}
