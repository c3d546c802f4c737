package placement

import (
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// final is where every clone of 1..size is after a plan: its datastore and host.
func final(t *testing.T, in Input, p Plan) map[int]slot {
	t.Helper()
	out := map[int]slot{}
	removed := map[Clone]bool{}
	for _, c := range p.Remove {
		removed[c] = true
	}
	for _, c := range in.Clones {
		if !removed[c] {
			if _, dup := out[c.Index]; dup {
				t.Fatalf("clone %d kept twice", c.Index)
			}
			out[c.Index] = slot{c.Datastore, c.Host}
		}
	}
	for _, j := range p.Jobs {
		_, exists := out[j.Index]
		if exists != j.Replaces {
			t.Fatalf("job for %d says replaces=%v, and a clone of that number exists: %v", j.Index, j.Replaces, exists)
		}
		out[j.Index] = slot{j.Datastore, j.Host}
	}
	if len(out) != in.Size {
		t.Fatalf("%d clones after the plan, want %d", len(out), in.Size)
	}
	for i := 1; i <= in.Size; i++ {
		if _, ok := out[i]; !ok {
			t.Fatalf("clone %d missing after the plan", i)
		}
	}
	return out
}

// spreadOf counts clones per datastore and per host.
func spreadOf(places map[int]slot) (ds, hosts map[string]int) {
	ds, hosts = map[string]int{}, map[string]int{}
	for _, s := range places {
		ds[s.ds]++
		hosts[s.host]++
	}
	return ds, hosts
}

func within1(counts map[string]int, ids []string) bool {
	lo, hi := -1, 0
	for _, id := range ids {
		if lo < 0 || counts[id] < lo {
			lo = counts[id]
		}
		hi = max(hi, counts[id])
	}
	return lo < 0 || hi-lo <= 1
}

func clones(spec string) []Clone {
	// "1:a/h1 2:b/h2 ..."; a trailing * marks a stale clone.
	var out []Clone
	for _, f := range strings.Fields(spec) {
		var c Clone
		num, place, _ := strings.Cut(f, ":")
		if _, err := fmt.Sscan(num, &c.Index); err != nil {
			panic(err)
		}
		c.Name = "d-" + num
		c.Stale = strings.HasSuffix(place, "*")
		c.Datastore, c.Host, _ = strings.Cut(strings.TrimSuffix(place, "*"), "/")
		out = append(out, c)
	}
	return out
}

func fullMounts(hosts []string, ids ...string) []Datastore {
	out := make([]Datastore, len(ids))
	for i, id := range ids {
		out[i] = Datastore{ID: id, Hosts: hosts, Takes: true, Limit: Unlimited}
	}
	return out
}

// TestDecide: the plans of each workflow, by how many clones they remove, make and move.
func TestDecide(t *testing.T) {
	two := []string{"h1", "h2"}
	abc := fullMounts(two, "a", "b", "c")
	notTaking := fullMounts(two, "a", "b")
	notTaking[1].Takes = false
	limited := fullMounts(two, "a", "b")
	limited[0].Limit = 1
	tests := []struct {
		name               string
		in                 Input
		remove, jobs, move int
	}{
		{"create from nothing", Input{Size: 6, Datastores: abc, Immediate: true}, 0, 6, 0},
		{"converged", Input{Size: 3, Clones: clones("1:a/h1 2:b/h2 3:c/h1"), Datastores: abc, Immediate: true}, 0, 0, 0},
		{"immediate: 3/3/0 becomes 2/2/2", Input{Size: 6, Clones: clones("1:a/h1 2:b/h2 3:a/h1 4:b/h2 5:a/h1 6:b/h2"), Datastores: abc, Immediate: true}, 0, 2, 2},
		{"on_provision: 3/3/0 stays", Input{Size: 6, Clones: clones("1:a/h1 2:b/h2 3:a/h1 4:b/h2 5:a/h1 6:b/h2"), Datastores: abc}, 0, 0, 0},
		{"on_provision: growth goes to the empty datastore", Input{Size: 8, Clones: clones("1:a/h1 2:b/h2 3:a/h1 4:b/h2 5:a/h1 6:b/h2"), Datastores: abc}, 0, 2, 0},
		{"a detached datastore is evacuated", Input{Size: 4, Clones: clones("1:a/h1 2:x/h2 3:a/h1 4:x/h2"), Datastores: abc}, 0, 2, 2},
		{"a clone on a host that left is evacuated", Input{Size: 2, Clones: clones("1:a/h3 2:b/h2"), Datastores: abc}, 0, 1, 1},
		{"shrink removes the highest", Input{Size: 2, Clones: clones("1:a/h1 2:b/h2 3:c/h1 4:a/h2"), Datastores: abc, Immediate: true}, 2, 0, 0},
		{"two clones of one number: one goes", Input{Size: 2, Clones: clones("1:a/h1 1:b/h2 2:c/h2"), Datastores: abc, Immediate: true}, 1, 0, 0},
		{"push recreates the stale", Input{Size: 3, Clones: clones("1:a/h1* 2:b/h2* 3:c/h1"), Datastores: abc}, 0, 2, 0},
		{"a host back takes its share", Input{Size: 4, Clones: clones("1:a/h1 2:b/h1 3:a/h1 4:b/h1"), Datastores: fullMounts(two, "a", "b"), Immediate: true}, 0, 2, 2},
		{"immediate: a datastore taking no clone is emptied", Input{Size: 4, Clones: clones("1:a/h1 2:b/h2 3:a/h2 4:b/h1"), Datastores: notTaking, Immediate: true}, 0, 2, 2},
		{"on_provision: a datastore taking no clone keeps its clones", Input{Size: 4, Clones: clones("1:a/h1 2:b/h2 3:a/h2 4:b/h1"), Datastores: notTaking}, 0, 0, 0},
		{"a datastore over its limit gives up its highest", Input{Size: 3, Clones: clones("1:a/h1 2:a/h2 3:b/h1"), Datastores: limited}, 0, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Decide(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Remove) != tt.remove || len(p.Jobs) != tt.jobs || p.Moves() != tt.move {
				t.Fatalf("remove %d, jobs %d, moves %d; want %d, %d, %d: %+v", len(p.Remove), len(p.Jobs), p.Moves(), tt.remove, tt.jobs, tt.move, p)
			}
			final(t, tt.in, p)
		})
	}
}

// TestDecideCapacity: a pool that does not fit says how many clones fit where.
func TestDecideCapacity(t *testing.T) {
	ds := fullMounts([]string{"h1"}, "a", "b", "c")
	ds[0].Limit, ds[1].Limit, ds[2].Takes = 2, 3, false
	_, err := Decide(Input{Size: 7, Clones: clones("1:c/h1"), Datastores: ds})
	var ce *CapacityError
	if !errors.As(err, &ce) {
		t.Fatalf("Decide = %v, want a CapacityError", err)
	}
	if want := "the pool needs 7 clones and its datastores hold at most 6 (a: 2, b: 3)"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	none := fullMounts([]string{"h1"}, "a")
	none[0].Takes = false
	if _, err := Decide(Input{Size: 1, Datastores: none}); err == nil || !strings.Contains(err.Error(), "no datastore takes new clones") {
		t.Errorf("no datastore taking clones: %v", err)
	}
	if _, err := Decide(Input{Size: 6, Datastores: ds[:2]}); err == nil || !strings.Contains(err.Error(), "hold at most 5") {
		t.Errorf("two limited datastores: %v", err)
	}
}

// randomInput is a pool in a random environment: up to 3 datastores (one may take no clones
// or have a limit), hosts of which one may be out, clones scattered, some stale or
// misplaced.
func randomInput(r *rand.Rand, maxClones int, limits bool) Input {
	return randomPool(r, maxClones, limits, 2)
}

// randomPool is randomInput with clones misplaced (on a detached datastore or a host out)
// about once in misplaced tries.
func randomPool(r *rand.Rand, maxClones int, limits bool, misplaced int) Input {
	hosts := []string{"h1", "h2", "h3"}[:1+r.Intn(3)]
	var ds []Datastore
	for i := range 1 + r.Intn(3) {
		d := Datastore{ID: string(rune('a' + i)), Hosts: hosts, Takes: true, Limit: Unlimited}
		if limits && r.Intn(4) == 0 {
			d.Takes = false
		}
		if limits && r.Intn(4) == 0 {
			d.Limit = r.Intn(4)
		}
		ds = append(ds, d)
	}
	in := Input{Size: r.Intn(maxClones + 1), Datastores: ds, Immediate: r.Intn(2) == 0}
	for i := 1; i <= in.Size+1; i++ {
		if r.Intn(4) == 0 {
			continue // missing
		}
		c := Clone{Name: fmt.Sprintf("d-%d", i), Index: i, Stale: r.Intn(6) == 0,
			Datastore: ds[r.Intn(len(ds))].ID, Host: hosts[r.Intn(len(hosts))]}
		if r.Intn(misplaced*2) == 0 {
			c.Datastore = "x"
		}
		if r.Intn(misplaced*2) == 0 {
			c.Host = "h9"
		}
		in.Clones = append(in.Clones, c)
	}
	return in
}

// TestDecideProperties: over random environments, every plan leaves exactly the clones 1..size,
// none on a datastore or host it may not use, none past a datastore's limit; with immediate
// and room enough, within one per datastore taking clones and per host.
func TestDecideProperties(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for n := range 3000 {
		in := randomInput(r, 12, n%2 == 0)
		p, err := Decide(in)
		var ce *CapacityError
		if errors.As(err, &ce) {
			continue
		}
		if err != nil {
			t.Fatalf("case %d: %v", n, err)
		}
		places := final(t, in, p)
		dsCounts, hostCounts := spreadOf(places)
		var takers, hosts []string
		bounded := false
		for _, d := range in.Datastores {
			if d.Takes && d.Limit != 0 {
				takers = append(takers, d.ID)
				hosts = d.Hosts
			}
			if d.Limit != Unlimited {
				bounded = true
				if dsCounts[d.ID] > d.Limit {
					t.Fatalf("case %d: %s holds %d, over its limit %d: %+v", n, d.ID, dsCounts[d.ID], d.Limit, in)
				}
			}
		}
		for i, s := range places {
			d := find(in.Datastores, s.ds)
			if d == nil || !slices.Contains(d.Hosts, s.host) {
				t.Fatalf("case %d: clone %d ends on %s/%s, where it may not be: %+v", n, i, s.ds, s.host, in)
			}
			if in.Immediate && !d.Takes {
				t.Fatalf("case %d: clone %d stays on %s, which takes no clone, under immediate", n, i, s.ds)
			}
		}
		if in.Immediate && !bounded {
			if !within1(dsCounts, takers) {
				t.Fatalf("case %d: datastores unbalanced %v: %+v", n, dsCounts, in)
			}
			if !within1(hostCounts, hosts) {
				t.Fatalf("case %d: hosts unbalanced %v: %+v", n, hostCounts, in)
			}
		}
	}
}

// minMoves is the brute-force minimum of clones recreated elsewhere for a balanced result:
// clones that may not stay always move; of the others, the largest set that can stay while
// every datastore and host ends within one of its share.
func minMoves(in Input) int {
	keep, _ := byNumber(in.Clones, in.Size)
	var movable []Clone
	forced := 0
	for i := 1; i <= in.Size; i++ {
		c, ok := keep[i]
		switch {
		case !ok || c.Stale:
		case !canStay(in.Datastores, c, true):
			forced++
		default:
			movable = append(movable, c)
		}
	}
	var ids, hosts []string
	for _, d := range in.Datastores {
		ids = append(ids, d.ID)
		hosts = d.Hosts
	}
	best := 0
	for mask := range 1 << len(movable) {
		var stay []Clone
		for i, c := range movable {
			if mask&(1<<i) != 0 {
				stay = append(stay, c)
			}
		}
		l := newLoad(stay)
		if len(stay) > best && fits(in.Size, ids, l.ds) && fits(in.Size, hosts, l.host) {
			best = len(stay)
		}
	}
	return forced + len(movable) - best
}

// fits says whether counts can grow to an even spread of size over ids.
func fits(size int, ids []string, counts map[string]int) bool {
	base, rem := size/len(ids), size%len(ids)
	full := 0
	for _, id := range ids {
		switch c := counts[id]; {
		case c > base+1:
			return false
		case c == base+1:
			full++
		}
	}
	return full <= rem
}

// TestDecideFewestMoves: with immediate, every datastore taking clones on every host, no
// limits, the plan moves exactly as few clones as a brute-force search finds.
func TestDecideFewestMoves(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for n := range 3000 {
		in := randomPool(r, 7, false, 6)
		in.Immediate = true
		p, err := Decide(in)
		if err != nil {
			t.Fatalf("case %d: %v", n, err)
		}
		if got, want := p.Moves(), minMoves(in); got != want {
			t.Fatalf("case %d: %d move(s), the fewest is %d: %+v\\nplan %+v", n, got, want, in, p)
		}
	}
}

// TestDecideWeighsFreeSpace: of datastores holding as many of the pool's clones, the one with
// more free space takes the odd clone, so pools sharing datastores even out between them.
func TestDecideWeighsFreeSpace(t *testing.T) {
	ds := fullMounts([]string{"h1"}, "a", "b")
	ds[0].Free, ds[1].Free = 10, 20
	for _, immediate := range []bool{true, false} {
		p, err := Decide(Input{Size: 3, Datastores: ds, Immediate: immediate})
		if err != nil {
			t.Fatal(err)
		}
		dsCounts, _ := spreadOf(final(t, Input{Size: 3, Datastores: ds}, p))
		if dsCounts["b"] != 2 || dsCounts["a"] != 1 {
			t.Errorf("immediate %v: %v, want the odd clone on b, which has more free space", immediate, dsCounts)
		}
	}
}
