package engine

import (
	"fmt"
	"strings"
)

// PermissionError is vCenter refusing a call because the user lacks privileges: which ones, on
// which objects. The vSphere layer makes it from vCenter's NoPermission fault.
type PermissionError struct {
	Missing []MissingPrivileges
	Err     error // vCenter's fault
}

// MissingPrivileges are the privileges the user lacks on one object.
type MissingPrivileges struct {
	Kind       string // managed object type, e.g. Folder
	ID         string // managed object ID, e.g. group-v4
	Privileges []string
}

func (m MissingPrivileges) String() string {
	return fmt.Sprintf("%s on %s %s", strings.Join(m.Privileges, ", "), m.Kind, m.ID)
}

func (e *PermissionError) Error() string {
	parts := make([]string, 0, len(e.Missing))
	for _, m := range e.Missing {
		parts = append(parts, m.String())
	}
	return "vCenter denied permission: the user lacks " + strings.Join(parts, "; ")
}

func (e *PermissionError) Unwrap() error { return e.Err }
