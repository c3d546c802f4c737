package placement

import (
	"fmt"
	"maps"
	"math/rand"
	"reflect"
	"slices"
	"testing"
)

// block returns clones with the given Indexes on datastore ds.
func block(ds string, from, to int) []Clone {
	var out []Clone
	for i := from; i <= to; i++ {
		out = append(out, Clone{Name: fmt.Sprintf("desk-%d", i), Index: i, Datastore: ds, Host: "host-1"})
	}
	return out
}

// apply returns the clones after the moves, failing the test on a clone
// moved twice or a move of an unknown clone.
func apply(t *testing.T, clones []Clone, moves []Move) []Clone {
	t.Helper()
	to := make(map[string]string, len(moves))
	for _, m := range moves {
		if _, dup := to[m.Clone.Name]; dup {
			t.Fatalf("clone %s moved twice", m.Clone.Name)
		}
		to[m.Clone.Name] = m.To
	}
	out := slices.Clone(clones)
	seen := 0
	for i, c := range out {
		if ds, ok := to[c.Name]; ok {
			if ds == c.Datastore {
				t.Errorf("clone %s moved onto its own datastore %s", c.Name, ds)
			}
			out[i].Datastore = ds
			seen++
		}
	}
	if seen != len(moves) {
		t.Fatalf("%d moves name clones that do not exist", len(moves)-seen)
	}
	return out
}

// checkBalanced fails unless every clone is on an attached datastore and
// attached counts differ by at most one.
func checkBalanced(t *testing.T, clones []Clone, datastores []string) {
	t.Helper()
	counts := Counts(clones)
	onAttached := 0
	lo, hi := len(clones), 0
	for _, ds := range datastores {
		onAttached += counts[ds]
		lo, hi = min(lo, counts[ds]), max(hi, counts[ds])
	}
	if onAttached != len(clones) {
		t.Fatalf("%d clones left on unattached datastores: %v", len(clones)-onAttached, counts)
	}
	if hi-lo > 1 {
		t.Fatalf("unbalanced counts %v over %v", counts, datastores)
	}
}

func movedIndexes(moves []Move, from string) []int {
	var out []int
	for _, m := range moves {
		if m.Clone.Datastore == from {
			out = append(out, m.Clone.Index)
		}
	}
	return out
}

func TestSpreadEmpty(t *testing.T) {
	ds := []string{"datastore-4", "datastore-1", "datastore-3", "datastore-2"}
	picks := Spread(10, nil, ds)
	want := []string{
		"datastore-1", "datastore-2", "datastore-3", "datastore-4",
		"datastore-1", "datastore-2", "datastore-3", "datastore-4",
		"datastore-1", "datastore-2",
	}
	if !slices.Equal(picks, want) {
		t.Fatalf("Spread = %v, want %v", picks, want)
	}
	got := map[string]int{}
	for _, p := range picks {
		got[p]++
	}
	wantCounts := map[string]int{"datastore-1": 3, "datastore-2": 3, "datastore-3": 2, "datastore-4": 2}
	if !maps.Equal(got, wantCounts) {
		t.Fatalf("counts = %v, want %v", got, wantCounts)
	}
}

func TestSpread(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		current map[string]int
		buckets []string
		want    []string
	}{
		{"zero items", 0, nil, []string{"h1"}, nil},
		{"negative items", -3, nil, []string{"h1"}, nil},
		{"no buckets", 3, map[string]int{"h1": 1}, nil, nil},
		{"fills least loaded first", 6, map[string]int{"h1": 3, "h2": 1, "h3": 0}, []string{"h1", "h2", "h3"},
			[]string{"h3", "h2", "h3", "h2", "h3", "h1"}},
		{"ignores counts of unknown buckets", 2, map[string]int{"h9": 0, "h1": 5}, []string{"h1", "h2"},
			[]string{"h2", "h2"}},
		{"duplicate and empty buckets ignored", 3, nil, []string{"h2", "", "h1", "h2"},
			[]string{"h1", "h2", "h1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Spread(tt.n, tt.current, tt.buckets); !slices.Equal(got, tt.want) {
				t.Fatalf("Spread = %v, want %v", got, tt.want)
			}
		})
	}
}

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

func TestRebalanceAttach(t *testing.T) {
	clones := append(block("datastore-1", 1, 6), block("datastore-2", 7, 12)...)
	ds := []string{"datastore-1", "datastore-2", "datastore-3"}
	moves := Rebalance(clones, ds)
	if len(moves) != 4 {
		t.Fatalf("got %d moves, want 4: %v", len(moves), moves)
	}
	after := apply(t, clones, moves)
	want := map[string]int{"datastore-1": 4, "datastore-2": 4, "datastore-3": 4}
	if got := Counts(after); !maps.Equal(got, want) {
		t.Fatalf("counts after = %v, want %v", got, want)
	}
	if got := movedIndexes(moves, "datastore-1"); !slices.Equal(got, []int{5, 6}) {
		t.Errorf("moved from datastore-1: %v, want [5 6]", got)
	}
	if got := movedIndexes(moves, "datastore-2"); !slices.Equal(got, []int{11, 12}) {
		t.Errorf("moved from datastore-2: %v, want [11 12]", got)
	}
	for _, m := range moves {
		if m.To != "datastore-3" {
			t.Errorf("move %v goes to %s, want datastore-3", m.Clone.Name, m.To)
		}
	}
}

func TestRebalanceDetach(t *testing.T) {
	clones := slices.Concat(block("datastore-1", 1, 4), block("datastore-2", 5, 8), block("datastore-3", 9, 12))
	ds := []string{"datastore-1", "datastore-3"}
	moves := Rebalance(clones, ds)
	if len(moves) != 4 {
		t.Fatalf("got %d moves, want 4: %v", len(moves), moves)
	}
	if got := movedIndexes(moves, "datastore-2"); !slices.Equal(got, []int{5, 6, 7, 8}) {
		t.Fatalf("moved from datastore-2: %v, want [5 6 7 8]", got)
	}
	// Equal deficits: the lower ID takes the first mover, then they alternate.
	var to []string
	for _, m := range moves {
		to = append(to, m.To)
	}
	if want := []string{"datastore-1", "datastore-3", "datastore-1", "datastore-3"}; !slices.Equal(to, want) {
		t.Errorf("destinations %v, want %v", to, want)
	}
	after := apply(t, clones, moves)
	want := map[string]int{"datastore-1": 6, "datastore-3": 6}
	if got := Counts(after); !maps.Equal(got, want) {
		t.Fatalf("counts after = %v, want %v", got, want)
	}
}

func TestShrinkThenRebalance(t *testing.T) {
	ds := []string{"datastore-1", "datastore-2", "datastore-3"}
	clones := slices.Concat(block("datastore-1", 1, 5), block("datastore-2", 6, 9), block("datastore-3", 10, 13))
	removed := Shrink(clones, 5)
	var idx []int
	for _, c := range removed {
		idx = append(idx, c.Index)
	}
	if want := []int{13, 12, 11, 10, 9, 8, 7, 6}; !slices.Equal(idx, want) {
		t.Fatalf("Shrink removed %v, want %v", idx, want)
	}
	left := clones[:5] // all of datastore-1
	if !Imbalance(left, ds) {
		t.Fatal("Imbalance = false after shrinking onto one datastore")
	}
	moves := Rebalance(left, ds)
	// Targets keep the extra clone on datastore-1: 2/2/1, so 3 leave it.
	if len(moves) != 3 || MinMoves(left, ds) != 3 {
		t.Fatalf("got %d moves, MinMoves %d, want 3: %v", len(moves), MinMoves(left, ds), moves)
	}
	if got := movedIndexes(moves, "datastore-1"); !slices.Equal(got, []int{3, 4, 5}) {
		t.Fatalf("moved %v, want [3 4 5]", got)
	}
	after := apply(t, left, moves)
	checkBalanced(t, after, ds)
	if Imbalance(after, ds) {
		t.Fatal("Imbalance = true after Rebalance")
	}
}

func TestRebalanceUnattachedAlwaysMoves(t *testing.T) {
	// Balanced 2/2/2 on attached datastores plus one clone moved out of band.
	clones := slices.Concat(block("datastore-1", 1, 2), block("datastore-2", 3, 4), block("datastore-3", 5, 6),
		block("datastore-9", 7, 7))
	ds := []string{"datastore-1", "datastore-2", "datastore-3"}
	if !Imbalance(clones, ds) {
		t.Fatal("Imbalance = false with a clone on an unattached datastore")
	}
	moves := Rebalance(clones, ds)
	want := []Move{{Clone: clones[6], To: "datastore-1"}}
	if !reflect.DeepEqual(moves, want) {
		t.Fatalf("moves = %v, want %v", moves, want)
	}
}

func TestRebalanceNoop(t *testing.T) {
	ds := []string{"a", "b", "c"}
	tests := []struct {
		name       string
		clones     []Clone
		datastores []string
	}{
		{"balanced", slices.Concat(block("a", 1, 3), block("b", 4, 5), block("c", 6, 8)), ds},
		{"no clones", nil, ds},
		{"no datastores", block("a", 1, 3), nil},
		{"nothing at all", nil, nil},
		{"fewer clones than datastores", block("b", 1, 1), ds},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if moves := Rebalance(tt.clones, tt.datastores); len(moves) != 0 {
				t.Errorf("Rebalance = %v, want no moves", moves)
			}
			if n := MinMoves(tt.clones, tt.datastores); n != 0 {
				t.Errorf("MinMoves = %d, want 0", n)
			}
			if Imbalance(tt.clones, tt.datastores) {
				t.Error("Imbalance = true, want false")
			}
		})
	}
}

func TestShrink(t *testing.T) {
	clones := []Clone{{Name: "d-3", Index: 3}, {Name: "d-10", Index: 10}, {Name: "d-1", Index: 1}, {Name: "d-7", Index: 7}}
	tests := []struct {
		size int
		want []int
	}{
		{4, nil},
		{9, nil},
		{3, []int{10}},
		{1, []int{10, 7, 3}},
		{0, []int{10, 7, 3, 1}},
		{-2, []int{10, 7, 3, 1}},
	}
	for _, tt := range tests {
		var got []int
		for _, c := range Shrink(clones, tt.size) {
			got = append(got, c.Index)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Shrink(%d) = %v, want %v", tt.size, got, tt.want)
		}
	}
	if clones[0].Index != 3 {
		t.Error("Shrink reordered its input")
	}
}

func TestCounts(t *testing.T) {
	clones := slices.Concat(block("a", 1, 3), block("b", 4, 4))
	if got, want := Counts(clones), map[string]int{"a": 3, "b": 1}; !maps.Equal(got, want) {
		t.Fatalf("Counts = %v, want %v", got, want)
	}
	if got := Counts(nil); len(got) != 0 {
		t.Fatalf("Counts(nil) = %v", got)
	}
}

// bruteMinMoves tries every choice of which attached datastores get the +1
// of the remainder and returns the fewest clones that must leave.
func bruteMinMoves(clones []Clone, datastores []string) int {
	k := len(datastores)
	counts := Counts(clones)
	onAttached := 0
	for _, ds := range datastores {
		onAttached += counts[ds]
	}
	base, rem := len(clones)/k, len(clones)%k
	best := -1
	for mask := range 1 << k {
		if popcount(mask) != rem {
			continue
		}
		moves := len(clones) - onAttached
		for i, ds := range datastores {
			t := base
			if mask&(1<<i) != 0 {
				t++
			}
			moves += max(0, counts[ds]-t)
		}
		if best < 0 || moves < best {
			best = moves
		}
	}
	return best
}

func popcount(x int) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

func TestRebalanceProperties(t *testing.T) {
	rng := rand.New(rand.NewSource(20240611))
	all := []string{"ds-1", "ds-2", "ds-3", "ds-4", "ds-5", "ds-6", "ds-7", "ds-8"}
	for i := range 2000 {
		k := 1 + rng.Intn(6)
		perm := rng.Perm(len(all))
		var attached []string
		for _, p := range perm[:k] {
			attached = append(attached, all[p])
		}
		// Mostly attached datastores, sometimes one of the others.
		n := rng.Intn(26)
		var clones []Clone
		for j, idx := range rng.Perm(n) {
			ds := attached[rng.Intn(k)]
			if rng.Intn(5) == 0 {
				ds = all[perm[rng.Intn(len(all))]]
			}
			clones = append(clones, Clone{Name: fmt.Sprintf("c-%d", idx+1), Index: idx + 1, Datastore: ds,
				Host: fmt.Sprintf("host-%d", j%3)})
		}
		input := slices.Clone(clones)

		moves := Rebalance(clones, attached)
		if !reflect.DeepEqual(clones, input) {
			t.Fatalf("case %d: Rebalance modified its input", i)
		}
		after := apply(t, clones, moves)
		checkBalanced(t, after, attached)

		brute := bruteMinMoves(clones, attached)
		if len(moves) != brute {
			t.Fatalf("case %d: %d moves, brute-force minimum %d\nclones %v\nattached %v", i, len(moves), brute, clones, attached)
		}
		if mm := MinMoves(clones, attached); mm != brute {
			t.Fatalf("case %d: MinMoves %d, brute-force minimum %d", i, mm, brute)
		}
		if Imbalance(clones, attached) != (brute > 0) {
			t.Fatalf("case %d: Imbalance %v with minimum %d moves", i, brute <= 0, brute)
		}
		if Imbalance(after, attached) || len(Rebalance(after, attached)) != 0 {
			t.Fatalf("case %d: still imbalanced after applying moves", i)
		}

		moved := make(map[string]bool, len(moves))
		for j, m := range moves {
			moved[m.Clone.Name] = true
			if j > 0 && moves[j-1].Clone.Index >= m.Clone.Index {
				t.Fatalf("case %d: moves not sorted by Index", i)
			}
		}
		for j, c := range after {
			if !moved[c.Name] && c != clones[j] {
				t.Fatalf("case %d: untouched clone %s changed", i, c.Name)
			}
		}
		// Leavers of an attached datastore are its highest-Index clones.
		for _, ds := range attached {
			maxStay, minLeave := 0, 1<<31
			for _, c := range clones {
				if c.Datastore != ds {
					continue
				}
				if moved[c.Name] {
					minLeave = min(minLeave, c.Index)
				} else {
					maxStay = max(maxStay, c.Index)
				}
			}
			if minLeave < maxStay {
				t.Fatalf("case %d: %s kept clone %d but moved clone %d", i, ds, maxStay, minLeave)
			}
		}

		// Input order must not matter.
		shuffled := slices.Clone(clones)
		rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		dsShuffled := slices.Clone(attached)
		rng.Shuffle(len(dsShuffled), func(a, b int) { dsShuffled[a], dsShuffled[b] = dsShuffled[b], dsShuffled[a] })
		if again := Rebalance(shuffled, dsShuffled); !reflect.DeepEqual(again, moves) {
			t.Fatalf("case %d: result depends on input order:\n%v\n%v", i, moves, again)
		}
	}
}

func TestSpreadProperties(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for i := range 2000 {
		k := 1 + rng.Intn(6)
		var buckets []string
		for j := range k {
			buckets = append(buckets, fmt.Sprintf("host-%d", j+1))
		}
		n := rng.Intn(30)

		// From nothing, the picks alone are balanced.
		got := map[string]int{}
		for _, p := range Spread(n, nil, buckets) {
			got[p]++
		}
		lo, hi := n, 0
		for _, b := range buckets {
			lo, hi = min(lo, got[b]), max(hi, got[b])
		}
		if hi-lo > 1 {
			t.Fatalf("case %d: Spread(%d) over %d buckets gave %v", i, n, k, got)
		}

		// From uneven counts, each pick is the lowest-ID minimal bucket.
		current := map[string]int{"host-99": rng.Intn(3)} // not a bucket: ignored
		for _, b := range buckets {
			if rng.Intn(4) > 0 {
				current[b] = rng.Intn(10)
			}
		}
		running := maps.Clone(current)
		picks := Spread(n, current, buckets)
		if len(picks) != n {
			t.Fatalf("case %d: %d picks, want %d", i, len(picks), n)
		}
		for _, p := range picks {
			best := buckets[0]
			for _, b := range buckets[1:] {
				if running[b] < running[best] {
					best = b
				}
			}
			if p != best {
				t.Fatalf("case %d: picked %s (load %d), want %s (load %d)", i, p, running[p], best, running[best])
			}
			running[p]++
		}
	}
}

func BenchmarkRebalance(b *testing.B) {
	attached := []string{"ds-1", "ds-2", "ds-3", "ds-4", "ds-5", "ds-6", "ds-7", "ds-8"}
	for _, n := range []int{1000, 10000} {
		// Skewed over six attached datastores plus a detached one, the way a
		// pool looks right after two datastores are attached and one removed.
		rng := rand.New(rand.NewSource(int64(n)))
		clones := make([]Clone, n)
		for i := range clones {
			ds := attached[rng.Intn(6)]
			if rng.Intn(10) == 0 {
				ds = "ds-old"
			}
			clones[i] = Clone{Name: fmt.Sprintf("desk-%d", i+1), Index: i + 1, Datastore: ds}
		}
		b.Run(fmt.Sprintf("clones=%d", n), func(b *testing.B) {
			for b.Loop() {
				Rebalance(clones, attached)
			}
		})
	}
}
