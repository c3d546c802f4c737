package vsphere

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// MaxNameLength is the longest entity name vCenter takes: "An entity name must be a
// non-empty string of less than 80 characters" (Folder.CreateFolder, VirtualMachine.Clone).
const MaxNameLength = 79

// percentOrEscape matches a "%" with the two hex digits of an escape sequence, if any.
var percentOrEscape = regexp.MustCompile(`%([0-9A-Fa-f]{2})?`)

// EscapeName is an entity name as vCenter stores and returns it: "The slash (/), backslash
// (\) and percent (%) will be escaped using the URL syntax ... Any percent (%) character used
// in this parameter must be escaped, unless it is used to start an escape sequence"
// (CreateFolderRequestType.name). Names read back are compared with this form.
func EscapeName(name string) string {
	name = percentOrEscape.ReplaceAllStringFunc(name, func(m string) string {
		if len(m) == 1 {
			return "%25"
		}
		return m
	})
	return strings.NewReplacer("/", "%2f", `\`, "%5c").Replace(name)
}

// NameFits reports whether vCenter takes name as an entity name, once escaped.
func NameFits(name string) bool {
	n := utf8.RuneCountInString(EscapeName(name))
	return n > 0 && n <= MaxNameLength
}
