package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// timePlan applies a pool of o.planSize clones through the real CLI with the provider just
// built, then times `terraform plan` (refresh included) of it.
func timePlan(o options) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "bench-plan")
	if err != nil {
		return err
	}
	defer func() {
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
	}()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "terraform-provider-instantclone"), ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the provider: %w", err)
	}
	measured := measureProviderMemory(dir)
	sim, c, rp, ds, err := bootstrap(ctx, o, profile{name: "none"})
	if err != nil {
		return err
	}
	defer sim.stop()
	_ = c.Logout(ctx)
	rc := fmt.Sprintf(`provider_installation {
  dev_overrides {
    "registry.terraform.io/instantclone/instantclone" = %q
    "registry.opentofu.org/instantclone/instantclone" = %q
  }
  direct {}
}
`, dir, dir)
	if err := os.WriteFile(filepath.Join(dir, "dev.tfrc"), []byte(rc), 0o600); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`
terraform {
  required_providers {
    instantclone = { source = "instantclone/instantclone" }
  }
}
provider "instantclone" {}
resource "instantclone_image" "img" {
  name      = "bench"
  source_vm = "/DC0/vm/golden"
}
resource "instantclone_pool" "big" {
  name             = "big"
  image_id         = instantclone_image.img.id
  resource_pool_id = %q
  datastore_ids    = ["%s"]
  size             = %d
  naming_pattern   = "big-{n}"
}
`, rp, strings.Join(ds[:3], `", "`), o.planSize)
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(cfg), 0o600); err != nil {
		return err
	}
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+filepath.Join(dir, "dev.tfrc"), "TF_IN_AUTOMATION=1")
	for k, v := range sim.env {
		env = append(env, k+"="+v)
	}
	run := func(args ...string) (time.Duration, error) {
		cmd := exec.Command(o.planCLI, args...)
		cmd.Dir, cmd.Env = dir, append(env, "INSTANTCLONE_RSS_FILE="+filepath.Join(dir, "rss-"+args[0]))
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("%s %s: %w\n%s", o.planCLI, strings.Join(args, " "), err, out)
		}
		return time.Since(start), nil
	}
	apply, err := run("apply", "-auto-approve", "-input=false", "-no-color")
	if err != nil {
		return err
	}
	plan, err := run("plan", "-detailed-exitcode", "-input=false", "-no-color")
	if err != nil {
		return fmt.Errorf("plan of the %d-clone pool (want no changes): %w", o.planSize, err)
	}
	fmt.Printf("terraform plan of a %d-clone pool through %s (no injected latency): %v (the apply that created it: %v)\n",
		o.planSize, filepath.Base(o.planCLI), plan.Round(time.Millisecond), apply.Round(time.Millisecond))
	if measured {
		fmt.Printf("peak memory of the provider process: %.1f MiB during that apply, %.1f MiB during the plan\n",
			peakFromTime(filepath.Join(dir, "rss-apply")), peakFromTime(filepath.Join(dir, "rss-plan")))
	}
	return nil
}

// measureProviderMemory puts a wrapper in place of the provider binary that runs it under
// GNU time, which records its peak resident memory. Without /usr/bin/time it measures nothing.
func measureProviderMemory(dir string) bool {
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		return false
	}
	bin := filepath.Join(dir, "terraform-provider-instantclone")
	if err := os.Rename(bin, bin+".real"); err != nil {
		return false
	}
	wrapper := "#!/bin/sh\nexec /usr/bin/time -a -f %M -o \"${INSTANTCLONE_RSS_FILE:-/dev/null}\" \"$0.real\" \"$@\"\n"
	return os.WriteFile(bin, []byte(wrapper), 0o755) == nil
}

// peakFromTime reads the largest peak (KiB, one per line) GNU time wrote, in MiB.
func peakFromTime(path string) float64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	peak := 0.0
	for _, line := range strings.Fields(string(data)) {
		var kb float64
		if _, err := fmt.Sscan(line, &kb); err == nil && kb > peak {
			peak = kb
		}
	}
	return peak / 1024
}
