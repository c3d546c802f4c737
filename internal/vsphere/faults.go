package vsphere

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// ErrNotFound is the engine's: errors for objects that do not exist wrap it.
var ErrNotFound = engine.ErrNotFound

// NotFoundError names the object that was looked for.
type NotFoundError = engine.NotFoundError

func notFound(kind, name string) error { return &NotFoundError{Kind: kind, Name: name} }

// IsNotFound reports whether err means the object is gone.
func IsNotFound(err error) bool {
	return errors.Is(err, ErrNotFound) || fault.Is(err, &types.ManagedObjectNotFound{})
}

// IsTransient reports whether err is worth retrying: vCenter busy, a task in the way, a host
// momentarily out of reach, or the connection dropped. Permanent faults (permissions, bad
// arguments, no space) are not, nor is a SystemError unless its message says it is passing
// (transientSystemError).
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	if reason, ok := systemError(err); ok {
		return transientSystemError(reason)
	}
	for _, f := range []types.BaseMethodFault{
		&types.TaskInProgress{}, &types.ResourceInUse{}, &types.HostCommunication{},
		&types.HostNotConnected{}, &types.ConcurrentAccess{}, &types.TooManyConcurrentNativeClones{},
	} {
		if fault.Is(err, f) {
			return true
		}
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}

// systemError gives the words of a SystemError fault ("A general system error occurred:
// ..."): its reason and vCenter's message; ok is false for any other error.
func systemError(err error) (string, bool) {
	var se *types.SystemError
	var sef *types.SystemErrorFault
	if msg, ok := fault.As(err, &se); ok {
		return se.Reason + " " + msg + " " + Message(err), true
	}
	if msg, ok := fault.As(err, &sef); ok {
		return sef.Reason + " " + msg + " " + Message(err), true
	}
	return "", false
}

// transientSystemErrors are the words of the SystemErrors vCenter raises when a service it
// relies on (a host's hostd, a storage or database backend) was out of reach for a moment:
// "Connection refused: The remote service is not running, OR is overloaded, OR a firewall is
// rejecting connections", "Operation timed out", a connection reset or a broken pipe. Trying
// again later may work. Every other SystemError ("Unexpected exception", "vix error codes",
// a file that cannot be locked or read) says something is wrong that another try will not
// mend, so it is reported at once.
var transientSystemErrors = []string{
	"connection refused", "connection reset", "broken pipe", "timed out", "temporarily unavailable",
}

func transientSystemError(words string) bool {
	words = strings.ToLower(words)
	for _, w := range transientSystemErrors {
		if strings.Contains(words, w) {
			return true
		}
	}
	return false
}

// runningTask is the task TaskInProgress says is in the way, if err is that fault and names one.
func runningTask(err error) (types.ManagedObjectReference, bool) {
	var tip *types.TaskInProgress
	if _, ok := fault.As(err, &tip); ok && tip.Task.Value != "" {
		return tip.Task, true
	}
	return types.ManagedObjectReference{}, false
}

// Message gives vCenter's own words for a fault, without Go wrapping noise.
func Message(err error) string {
	msg := err.Error()
	var te task.Error
	if errors.As(err, &te) && te.LocalizedMethodFault != nil && te.LocalizedMessage != "" {
		msg = te.LocalizedMessage
	}
	// A fault's faultMessage says what went wrong inside, as a guest customization's does.
	fault.In(err, func(_ types.BaseMethodFault, _ string, details []types.LocalizableMessage) bool {
		for _, d := range details {
			if d.Message != "" && !strings.Contains(msg, d.Message) {
				msg += ": " + d.Message
			}
		}
		return false
	})
	return msg
}

// describeTransportError makes TLS failures say what to do about them.
func describeTransportError(err error) error {
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	if errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		strings.Contains(err.Error(), "certificate") {
		return fmt.Errorf("the server's TLS certificate is not trusted (%w); trust its CA with ca_file, or set allow_unverified_ssl = true for a lab", err)
	}
	return err
}

// opError says what was being done to which object, in vCenter's words, and keeps the fault
// for errors.Is and fault.As.
type opError struct {
	what string
	err  error
}

func (e *opError) Error() string { return e.what + ": " + describe(e.err) }
func (e *opError) Unwrap() error { return e.err }

func wrap(err error, format string, args ...any) error {
	if pe := permissionError(err); pe != nil {
		err = pe
	}
	op := &opError{what: fmt.Sprintf(format, args...), err: err}
	var dn *types.DuplicateName
	if _, ok := fault.As(err, &dn); ok {
		// The engine tells a name taken (two runs making one VM or lock) from other faults.
		return &engine.ExistsError{Name: dn.Name, ID: dn.Object.Value, Err: op}
	}
	return op
}

// permissionError turns vCenter's NoPermission fault into the engine's PermissionError, which
// names the privileges and objects without govmomi types; nil for any other error, and for one
// already turned. NotAuthenticated, a NoPermission too, is an ended session, not a privilege.
func permissionError(err error) *engine.PermissionError {
	var done *engine.PermissionError
	var np *types.NoPermission
	if errors.As(err, &done) {
		return nil
	}
	if _, ok := fault.As(err, &np); !ok {
		return nil
	}
	pe := &engine.PermissionError{Err: err}
	// missingPrivileges (vSphere 7.0.3 on) lists every object; object and privilegeId, the
	// older fields, name the first.
	for _, m := range np.MissingPrivileges {
		pe.Missing = append(pe.Missing, engine.MissingPrivileges{Kind: m.Entity.Type, ID: m.Entity.Value, Privileges: m.PrivilegeIds})
	}
	if len(pe.Missing) == 0 {
		m := engine.MissingPrivileges{Kind: "object", ID: "(not named)", Privileges: []string{np.PrivilegeId}}
		if np.Object != nil {
			m.Kind, m.ID = np.Object.Type, np.Object.Value
		}
		pe.Missing = []engine.MissingPrivileges{m}
	}
	return pe
}
