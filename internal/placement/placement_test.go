package placement

import (
	"maps"
	"testing"
)

func TestTargets(t *testing.T) {
	tests := []struct {
		name       string
		total      int
		datastores []string
		current    map[string]int
		want       map[string]int
	}{
		{"zero total", 0, []string{"a", "b"}, nil, map[string]int{"a": 0, "b": 0}},
		{"no datastores", 5, nil, nil, map[string]int{}},
		{"even", 12, []string{"a", "b", "c"}, nil, map[string]int{"a": 4, "b": 4, "c": 4}},
		{"remainder by ID when empty", 10, []string{"d", "c", "b", "a"}, nil,
			map[string]int{"a": 3, "b": 3, "c": 2, "d": 2}},
		{"remainder to fullest", 10, []string{"a", "b", "c", "d"}, map[string]int{"c": 5, "d": 4, "a": 1},
			map[string]int{"a": 2, "b": 2, "c": 3, "d": 3}},
		{"fullest tie broken by ID", 5, []string{"a", "b", "c"}, map[string]int{"b": 2, "c": 2, "a": 1},
			map[string]int{"a": 1, "b": 2, "c": 2}},
		{"fewer clones than datastores", 2, []string{"a", "b", "c"}, map[string]int{"c": 1},
			map[string]int{"a": 1, "b": 0, "c": 1}},
		{"unattached counts ignored", 4, []string{"a", "b", "c"}, map[string]int{"z": 9, "b": 2},
			map[string]int{"a": 1, "b": 2, "c": 1}},
		{"negative total", -1, []string{"a"}, nil, map[string]int{"a": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Targets(tt.total, tt.datastores, tt.current); !maps.Equal(got, tt.want) {
				t.Fatalf("Targets = %v, want %v", got, tt.want)
			}
		})
	}
}
