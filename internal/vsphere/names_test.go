package vsphere

import (
	"strings"
	"testing"
)

func TestEscapeName(t *testing.T) {
	for in, want := range map[string]string{
		"desktops":      "desktops",
		"VDI/Sales 50%": "VDI%2fSales 50%25",
		`a\b`:           "a%5cb",
		"kept%2Fescape": "kept%2Fescape",
		"%":             "%25",
		"%4":            "%254",
	} {
		if got := EscapeName(in); got != want {
			t.Errorf("EscapeName(%q) = %q, want %q", in, got, want)
		}
	}
	if !NameFits(strings.Repeat("n", 79)) || NameFits(strings.Repeat("n", 80)) || NameFits("") {
		t.Error("names must be 1 to 79 characters")
	}
	if NameFits(strings.Repeat("/", 27)) {
		t.Error("27 slashes escape to 81 characters and must not fit")
	}
}
