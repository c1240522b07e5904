// Package suggest finds the name a user probably meant: the "did you mean"
// of unknown fields, flags, kinds and references.
package suggest

// Closest returns the candidate nearest to s in edits, if it is close
// enough to be a likely typo: within a third of s's length, and at least
// within two edits. It returns "" when no candidate is that close.
func Closest(s string, candidates []string) string {
	best, bestDist := "", max(2, len(s)/3)+1
	for _, c := range candidates {
		if d := Distance(s, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// Distance is the Levenshtein distance between a and b: the fewest
// single-byte insertions, deletions and substitutions turning a into b.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
