package engine

import "testing"

func TestNamingPattern(t *testing.T) {
	tests := []struct {
		pattern  string
		n        int
		name     string
		capacity int
		err      bool
	}{
		{pattern: "win-{n}", n: 7, name: "win-7"},
		{pattern: "win-{n}", n: 12345, name: "win-12345"},
		{pattern: "win-{n:fixed=3}", n: 7, name: "win-007", capacity: 999},
		{pattern: "{n}-desk", n: 2, name: "2-desk"},
		{pattern: "lab{n:fixed=1}x", n: 9, name: "lab9x", capacity: 9},
		{pattern: "win", err: true},
		{pattern: "win-{n}-{n}", err: true},
		{pattern: "win-{m}", err: true},
		{pattern: "win-{n:fixed=0}", err: true},
		{pattern: "win_{n}", err: true},
		{pattern: "-win{n}", err: true},
		{pattern: "", err: true},
	}
	for _, tt := range tests {
		p, err := ParseNamingPattern(tt.pattern)
		if tt.err {
			if err == nil {
				t.Errorf("%q: want an error", tt.pattern)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.pattern, err)
			continue
		}
		if got := p.Name(tt.n); got != tt.name {
			t.Errorf("%q.Name(%d) = %q, want %q", tt.pattern, tt.n, got, tt.name)
		}
		if got, ok := p.Index(tt.name); !ok || got != tt.n {
			t.Errorf("%q.Index(%q) = %d, %v; want %d", tt.pattern, tt.name, got, ok, tt.n)
		}
		if p.Capacity() != tt.capacity {
			t.Errorf("%q capacity %d, want %d", tt.pattern, p.Capacity(), tt.capacity)
		}
	}
	p, _ := ParseNamingPattern("win-{n:fixed=3}")
	for _, name := range []string{"win-7", "win-0007", "win-000", "desk-001", "win-abc"} {
		if i, ok := p.Index(name); ok {
			t.Errorf("win-{n:fixed=3} took %q as clone %d", name, i)
		}
	}
}
