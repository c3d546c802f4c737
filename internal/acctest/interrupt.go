//go:build linux

package acctest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// PreCheckInterrupt skips the test where InterruptApplyOnChange cannot work; on Linux it
// always can.
func PreCheckInterrupt(*testing.T) {}

// InterruptApplyOnChange sends the CLI's `apply` an interrupt (SIGINT, as Ctrl-C does) as soon
// as the number of VMs changes, i.e. in the middle of the next operation. The CLI then asks the
// provider to stop, which cancels the operation's context. The trigger fires once an apply was
// signalled and stops when the test ends. The CLI is a child of the test process: Linux's
// /proc finds it.
func (e *Env) InterruptApplyOnChange(t *testing.T) *Trigger {
	t.Helper()
	return e.onVMCountChange(t, "interrupting the apply", func(context.Context) error { return interruptApply() })
}

// interruptApply signals every `apply` the test process has started.
func interruptApply() error {
	cli := filepath.Base(os.Getenv("TF_ACC_TERRAFORM_PATH"))
	procs, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return err
	}
	signalled := 0
	for _, stat := range procs {
		pid, ppid, ok := readStat(stat)
		if !ok || ppid != os.Getpid() {
			continue
		}
		args, err := os.ReadFile(filepath.Join(filepath.Dir(stat), "cmdline"))
		if err != nil {
			continue // the process ended meanwhile
		}
		argv := strings.Split(string(bytes.TrimRight(args, "\x00")), "\x00")
		if filepath.Base(argv[0]) != cli || !slices.Contains(argv[1:], "apply") {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
			return fmt.Errorf("signalling %s (pid %d): %w", cli, pid, err)
		}
		signalled++
	}
	if signalled == 0 {
		return fmt.Errorf("no %s apply running under pid %d", cli, os.Getpid())
	}
	return nil
}

// killProcessesOf sends SIGKILL to the processes running the binary at path; with parent
// above 0, only to that process's children (a CLI binary is shared with whatever else runs
// it on this machine).
func killProcessesOf(path string, parent int) error {
	exes, err := filepath.Glob("/proc/[0-9]*/exe")
	if err != nil {
		return err
	}
	killed := 0
	for _, exe := range exes {
		target, err := os.Readlink(exe)
		if err != nil || target != path {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(exe)))
		if err != nil {
			continue
		}
		if _, ppid, ok := readStat(filepath.Join(filepath.Dir(exe), "stat")); parent > 0 && (!ok || ppid != parent) {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			return fmt.Errorf("killing %s (pid %d): %w", path, pid, err)
		}
		killed++
	}
	if killed == 0 {
		return fmt.Errorf("no process runs %s", path)
	}
	return nil
}

// readStat reads a process's own and parent pid from /proc/<pid>/stat; the command name in
// parentheses may itself hold spaces, so fields are counted after its closing parenthesis.
func readStat(path string) (pid, ppid int, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return 0, 0, false
	}
	fields := strings.Fields(s[end+1:]) // state, ppid, ...
	if len(fields) < 2 {
		return 0, 0, false
	}
	pid, err1 := strconv.Atoi(strings.TrimSpace(s[:open]))
	ppid, err2 := strconv.Atoi(fields[1])
	return pid, ppid, err1 == nil && err2 == nil
}
