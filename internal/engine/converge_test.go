package engine

import "testing"

// TestPlanConverge: resize, push-image and rebalance plans together remove only clones beyond
// size and end balanced.
func TestPlanConverge(t *testing.T) {
	pattern, err := ParseNamingPattern("d-{n}")
	if err != nil {
		t.Fatal(err)
	}
	env := &placementEnv{
		datastores: []string{"ds-a", "ds-b", "ds-c"},
		hosts:      map[string][]string{"ds-a": {"h1", "h2"}, "ds-b": {"h1", "h2"}, "ds-c": {"h1", "h2"}},
	}
	img := generation{image: "img-1"}
	// Clones alternate between the two hosts, as the pool makes them.
	clone := func(i int, ds string, image string) Clone {
		return Clone{Name: pattern.Name(i), ID: "vm-" + pattern.Name(i), Index: i, Datastore: ds, Host: "h" + string(rune('1'+(i+1)%2)), ImageID: image}
	}
	onHost := func(host string, cs []Clone) []Clone {
		out := make([]Clone, len(cs))
		for i, c := range cs {
			c.Host = host
			out[i] = c
		}
		return out
	}
	six := func(dsA, dsB string) []Clone {
		var out []Clone
		for i := 1; i <= 6; i++ {
			ds := dsA
			if i%2 == 0 {
				ds = dsB
			}
			out = append(out, clone(i, ds, "img-1"))
		}
		return out
	}
	tests := []struct {
		name             string
		clones           []Clone
		size             int
		policy           string
		target           generation
		remove, jobs, mv int
	}{
		{name: "create from nothing", size: 6, policy: RebalanceImmediate, target: img, jobs: 6},
		{name: "converged", clones: []Clone{clone(1, "ds-a", "img-1"), clone(2, "ds-b", "img-1"), clone(3, "ds-c", "img-1")}, size: 3, policy: RebalanceImmediate, target: img},
		{name: "immediate: 3/3/0 → 2/2/2 moves two", clones: six("ds-a", "ds-b"), size: 6, policy: RebalanceImmediate, target: img, jobs: 2, mv: 2},
		{name: "on_provision: 3/3/0 stays", clones: six("ds-a", "ds-b"), size: 6, policy: RebalanceOnProvision, target: img},
		{name: "on_provision: growth goes to the empty datastore", clones: six("ds-a", "ds-b"), size: 8, policy: RebalanceOnProvision, target: img, jobs: 2},
		{name: "detached datastore is evacuated", clones: six("ds-a", "ds-x"), size: 6, policy: RebalanceOnProvision, target: img, jobs: 3, mv: 3},
		{name: "shrink removes the highest", clones: six("ds-a", "ds-b"), size: 2, policy: RebalanceImmediate, target: img, remove: 4},
		{name: "push recreates all", clones: six("ds-a", "ds-b"), size: 6, policy: RebalanceOnProvision, target: generation{image: "img-2"}, jobs: 6},
		{name: "immediate: a host back in service takes its share", clones: onHost("h1", six("ds-a", "ds-b")), size: 6, policy: RebalanceImmediate, target: img, jobs: 3, mv: 3},
		{name: "on_provision: hosts stay as they are", clones: onHost("h1", six("ds-a", "ds-b")), size: 6, policy: RebalanceOnProvision, target: img},
		{name: "a clone on a host that left is recreated", clones: onHost("h3", six("ds-a", "ds-b"))[:2], size: 2, policy: RebalanceOnProvision, target: img, jobs: 2, mv: 2},
		{name: "push token recreates all", clones: six("ds-a", "ds-b"), size: 6, policy: RebalanceImmediate, target: generation{image: "img-1", token: "t"}, jobs: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := planConverge(tt.clones, tt.size, pattern, tt.target, env, tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.Remove) != tt.remove || len(plan.Jobs) != tt.jobs || plan.Moves() != tt.mv {
				t.Fatalf("remove %d jobs %d moves %d, want %d %d %d: %+v", len(plan.Remove), len(plan.Jobs), plan.Moves(), tt.remove, tt.jobs, tt.mv, plan)
			}
			// Every plan ends balanced when it recreates everything or rebalances immediately.
			final := map[string]int{}
			replaced := map[string]bool{}
			for _, j := range plan.Jobs {
				final[j.Datastore]++
				replaced[j.Name] = true
			}
			removed := map[string]bool{}
			for _, c := range plan.Remove {
				removed[c.Name] = true
			}
			for _, c := range tt.clones {
				if !replaced[c.Name] && !removed[c.Name] {
					final[c.Datastore]++
				}
			}
			if tt.policy == RebalanceImmediate || tt.target.image == "img-2" {
				lo, hi := tt.size, 0
				for _, ds := range env.datastores {
					lo, hi = min(lo, final[ds]), max(hi, final[ds])
				}
				if hi-lo > 1 {
					t.Fatalf("unbalanced result %v", final)
				}
			}
			perHost := map[string]int{}
			for _, j := range plan.Jobs {
				perHost[j.Host]++
			}
			for _, c := range tt.clones {
				if !replaced[c.Name] && !removed[c.Name] {
					perHost[c.Host]++
				}
			}
			if h3 := perHost["h3"]; h3 > 0 {
				t.Fatalf("%d clone(s) left on h3, a host the pool cannot use", h3)
			}
			if tt.policy == RebalanceImmediate && tt.size > 1 && (perHost["h1"]-perHost["h2"] > 1 || perHost["h2"]-perHost["h1"] > 1) {
				t.Fatalf("unbalanced hosts %v", perHost)
			}
			for _, c := range plan.Remove {
				if c.Index <= tt.size {
					t.Fatalf("removed %s, within size %d", c.Name, tt.size)
				}
			}
		})
	}
}
