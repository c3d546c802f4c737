//go:build !linux

package acctest

import (
	"errors"
	"testing"
)

const noInterrupt = "interrupting the CLI needs Linux's /proc"

// PreCheckInterrupt skips the test: finding the CLI's running apply to interrupt reads
// Linux's /proc.
func PreCheckInterrupt(t *testing.T) {
	t.Helper()
	t.Skip(noInterrupt)
}

// InterruptApplyOnChange would interrupt the CLI's running apply; without Linux's /proc it
// cannot find it, so the test stops here. Call PreCheckInterrupt first to skip cleanly.
func (e *Env) InterruptApplyOnChange(t *testing.T) *Trigger {
	t.Helper()
	t.Fatal(noInterrupt)
	return nil
}

// killProcessesOf would kill the processes running a binary; without Linux's /proc it cannot
// find them.
func killProcessesOf(string, int) error { return errors.New(noInterrupt) }
