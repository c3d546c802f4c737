package vsphere

import (
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

func TestIsTransient(t *testing.T) {
	asSOAP := func(f types.BaseMethodFault) error {
		return soap.WrapVimFault(f)
	}
	asTask := func(f types.BaseMethodFault) error {
		return fmt.Errorf("cloning: %w", task.Error{LocalizedMethodFault: &types.LocalizedMethodFault{Fault: f, LocalizedMessage: "x"}})
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"task in progress", asTask(&types.TaskInProgress{}), true},
		{"host out of reach (system error)", asSOAP(&types.SystemError{Reason: "Connection refused: The remote service is not running, OR is overloaded, OR a firewall is rejecting connections."}), true},
		{"timed out (system error in a task)", asTask(&types.SystemError{Reason: "Operation timed out"}), true},
		{"other system error", asSOAP(&types.SystemError{Reason: "Unexpected exception"}), false},
		{"system error without words", asSOAP(&types.SystemErrorFault{}), false},
		{"resource in use", asTask(&types.ResourceInUse{}), true},
		{"host not connected", asTask(&types.HostNotConnected{}), true},
		{"dropped connection", &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, true},
		{"no permission", asSOAP(&types.NoPermission{}), false},
		{"invalid argument", asTask(&types.InvalidArgument{}), false},
		{"not enough space", asTask(&types.InsufficientResourcesFault{}), false},
		{"duplicate name", asTask(&types.DuplicateName{}), false},
		{"invalid power state", asTask(&types.InvalidPowerState{}), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		if got := IsTransient(tt.err); got != tt.want {
			t.Errorf("%s: IsTransient = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestServerURL(t *testing.T) {
	for in, want := range map[string]string{
		"vcenter.example.com":           "https://vcenter.example.com/sdk",
		"127.0.0.1:8989":                "https://127.0.0.1:8989/sdk",
		"https://vc.example.com/sdk":    "https://vc.example.com/sdk",
		"https://vc.example.com:443":    "https://vc.example.com:443/sdk",
		" vcenter.example.com ":         "https://vcenter.example.com/sdk",
		"https://vc.example.com/custom": "https://vc.example.com/custom",
	} {
		u, err := ServerURL(in)
		if err != nil || u.String() != want {
			t.Errorf("ServerURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, bad := range []string{"", "https://", "https://user:secret@vc.example.com"} {
		if u, err := ServerURL(bad); err == nil {
			t.Errorf("ServerURL(%q) = %v; want an error", bad, u)
		}
	}
}
