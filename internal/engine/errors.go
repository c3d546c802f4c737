package engine

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// InputError is bad configuration: it names the attribute the user must change.
type InputError struct {
	Attribute string
	Summary   string
	Detail    string
}

func (e *InputError) Error() string { return e.Summary + ": " + e.Detail }

func inputError(attr, summary, format string, args ...any) error {
	return &InputError{Attribute: attr, Summary: summary, Detail: fmt.Sprintf(format, args...)}
}

// AsInputError unwraps an InputError.
func AsInputError(err error) (*InputError, bool) {
	var ie *InputError
	ok := errors.As(err, &ie)
	return ie, ok
}

// VMFailures lists the VMs a workflow could not create, recreate or remove, each with why.
type VMFailures struct {
	Action   string // "create or recreate", "remove"
	What     string // "clone", "internal VM"
	Failures map[string]error
	Stopped  bool // stop_on_first_error left some clones untouched
}

func (f *VMFailures) Error() string {
	names := make([]string, 0, len(f.Failures))
	for n := range f.Failures {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "could not %s %d %s(s): ", f.Action, len(names), f.What)
	// The first few say why; a pool-wide outage would otherwise print a page per clone.
	const listed = 10
	for i, n := range names {
		if i == listed {
			fmt.Fprintf(&b, "; and %d more", len(names)-listed)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s", n, f.Failures[n])
	}
	if f.Stopped {
		b.WriteString(" (stopped at the first error as push_image.stop_on_first_error asks; the remaining clones were left as they were)")
	}
	return b.String()
}

// Unwrap gives the failures' errors, so errors.Is sees a cancellation among them.
func (f *VMFailures) Unwrap() []error {
	out := make([]error, 0, len(f.Failures))
	for _, err := range f.Failures {
		out = append(out, err)
	}
	return out
}

// InUseError says which pools still use an image.
type InUseError struct {
	ImageID string
	Pools   []string
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("image %s is still used by pool(s) %s: point them at another image (push-image) or delete them first", e.ImageID, strings.Join(e.Pools, ", "))
}
