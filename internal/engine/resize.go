package engine

// Resize: a pool grows by creating the numbers it lacks and shrinks by removing its
// highest-numbered clones; clones the pattern cannot number, or numbered twice, go too.

// planResize splits a pool's clones into those it keeps, by number, and those beyond size
// (highest numbers first, so a cut-short shrink removes from the top).
func planResize(clones []Clone, size int) (keep map[int]Clone, remove []Clone) {
	keep = map[int]Clone{}
	for _, c := range clones {
		if _, dup := keep[c.Index]; dup || c.Index < 1 || c.Index > size {
			remove = append(remove, c)
			continue
		}
		keep[c.Index] = c
	}
	sortClones(remove, true)
	return keep, remove
}

// missingClones names the clones a pool of size lacks.
func missingClones(keep map[int]Clone, size int, pattern NamingPattern) []Clone {
	var out []Clone
	for i := 1; i <= size; i++ {
		if _, ok := keep[i]; !ok {
			out = append(out, Clone{Name: pattern.Name(i), Index: i})
		}
	}
	return out
}
