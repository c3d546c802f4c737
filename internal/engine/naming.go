package engine

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// NamingPattern is Horizon's clone naming syntax: a prefix and suffix around one {n}
// token, optionally fixed-width ({n:fixed=3} gives 001, 002, ...).
type NamingPattern struct {
	prefix, suffix string
	width          int // 0: as many digits as needed
	match          *regexp.Regexp
}

var tokenRe = regexp.MustCompile(`\{n(?::fixed=(\d+))?\}`)

// validName is what vCenter and guest host names accept for a clone name.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*$`)

// ParseNamingPattern checks a pattern such as "win-{n}" or "win-{n:fixed=3}".
func ParseNamingPattern(p string) (NamingPattern, error) {
	locs := tokenRe.FindAllStringSubmatchIndex(p, -1)
	if len(locs) == 0 {
		return NamingPattern{}, fmt.Errorf("naming pattern %q has no {n} token: clones need a number in their name (e.g. %q)", p, p+"{n}")
	}
	if len(locs) > 1 {
		return NamingPattern{}, fmt.Errorf("naming pattern %q has more than one {n} token", p)
	}
	if strings.Contains(tokenRe.ReplaceAllString(p, ""), "{") || strings.Contains(tokenRe.ReplaceAllString(p, ""), "}") {
		return NamingPattern{}, fmt.Errorf("naming pattern %q has a malformed token: use {n} or {n:fixed=N}", p)
	}
	loc := locs[0]
	np := NamingPattern{prefix: p[:loc[0]], suffix: p[loc[1]:]}
	if loc[2] >= 0 {
		w, err := strconv.Atoi(p[loc[2]:loc[3]])
		if err != nil || w < 1 || w > 9 {
			return NamingPattern{}, fmt.Errorf("naming pattern %q: fixed width must be 1 to 9", p)
		}
		np.width = w
	}
	sample := np.prefix + "1" + np.suffix
	if !validName.MatchString(sample) {
		return NamingPattern{}, fmt.Errorf("naming pattern %q makes names like %q: use letters, digits and hyphens, starting with a letter or digit", p, sample)
	}
	if len(np.Name(np.maxIndexForLength())) > 63 {
		return NamingPattern{}, fmt.Errorf("naming pattern %q makes names longer than 63 characters", p)
	}
	digits := `\d+`
	if np.width > 0 {
		digits = fmt.Sprintf(`\d{%d}`, np.width)
	}
	np.match = regexp.MustCompile("^" + regexp.QuoteMeta(np.prefix) + "(" + digits + ")" + regexp.QuoteMeta(np.suffix) + "$")
	return np, nil
}

func (p NamingPattern) maxIndexForLength() int {
	if p.width > 0 {
		return 1
	}
	return 99999
}

// Capacity is how many clones the pattern can number (0: unlimited).
func (p NamingPattern) Capacity() int {
	if p.width == 0 {
		return 0
	}
	c := 1
	for i := 0; i < p.width; i++ {
		c *= 10
	}
	return c - 1
}

// Name is the name of clone number n (n ≥ 1).
func (p NamingPattern) Name(n int) string {
	return fmt.Sprintf("%s%0*d%s", p.prefix, p.width, n, p.suffix)
}

// Index returns the number in a clone name, or false when the name does not fit the pattern.
func (p NamingPattern) Index(name string) (int, bool) {
	m := p.match.FindStringSubmatch(name)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 1 || p.Name(n) != name {
		return 0, false
	}
	return n, true
}
