package chaos

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// The selection modes: how many of the candidates a fault hits.
const (
	ModeOne     = "one"     // one candidate, picked with the seed
	ModeAll     = "all"     // every candidate
	ModeFixed   = "fixed"   // value candidates, picked with the seed
	ModePercent = "percent" // value percent of the candidates, rounded up, picked with the seed
)

var modes = []string{ModeOne, ModeAll, ModeFixed, ModePercent}

// Selection is the blast radius of a fault that picks among many targets.
// The zero value means ModeOne.
type Selection struct {
	Mode  string  `yaml:"mode,omitempty" default:"one" enum:"one,all,fixed,percent" doc:"how many of the matching targets: one, all, fixed (value of them) or percent (value percent, rounded up), picked with the seed"`
	Value float64 `yaml:"value,omitempty" doc:"the count for mode fixed, the percentage for mode percent"`
}

func (s Selection) mode() string {
	if s.Mode == "" {
		return ModeOne
	}
	return s.Mode
}

// Validate returns every problem with the selection.
func (s Selection) Validate() []error {
	var errs []error
	switch s.mode() {
	case ModeOne, ModeAll:
		if s.Value != 0 {
			errs = append(errs, fieldErrorf("value", "value applies only to mode fixed or percent, not %s", s.mode()))
		}
	case ModeFixed:
		if s.Value < 1 || s.Value != math.Trunc(s.Value) {
			errs = append(errs, fieldErrorf("value", "mode fixed needs value, a whole number of targets >= 1 (got %v)", s.Value))
		}
	case ModePercent:
		if s.Value <= 0 || s.Value > 100 {
			errs = append(errs, fieldErrorf("value", "mode percent needs value in (0, 100] (got %v)", s.Value))
		}
	default:
		errs = append(errs, fieldErrorf("mode", "unknown mode %q: valid modes are %s", s.Mode, strings.Join(modes, ", ")))
	}
	return errs
}

// String says what the selection picks, such as "one" or "fixed 2".
func (s Selection) String() string {
	switch s.mode() {
	case ModeFixed, ModePercent:
		return fmt.Sprintf("%s %v", s.mode(), s.Value)
	}
	return s.mode()
}

// count is how many of n candidates the selection hits.
func (s Selection) count(n int) (int, error) {
	switch s.mode() {
	case ModeOne:
		return 1, nil
	case ModeAll:
		return n, nil
	case ModeFixed:
		k := int(s.Value)
		if k > n {
			return 0, fmt.Errorf("mode fixed %d but only %d match", k, n)
		}
		return k, nil
	case ModePercent:
		return int(math.Ceil(float64(n) * s.Value / 100)), nil
	}
	return 0, fmt.Errorf("unknown mode %q", s.Mode)
}

// Pick chooses the targets the selection hits among candidates. The choice
// depends only on the candidates' keys, the selection and the seed, never on
// the order the candidates came in, so a run with the same seed picks the
// same victims again. The result is sorted by key.
func Pick[T any](candidates []T, key func(T) string, sel Selection, seed uint64) ([]T, error) {
	if len(candidates) == 0 {
		return nil, fmt.Errorf("nothing to pick from")
	}
	k, err := sel.count(len(candidates))
	if err != nil {
		return nil, err
	}
	sorted := slices.Clone(candidates)
	slices.SortStableFunc(sorted, func(a, b T) int { return strings.Compare(key(a), key(b)) })
	if k < len(sorted) {
		rng := rand.New(rand.NewPCG(seed, 0x6661756c746c696e)) // "faultlin"
		rng.Shuffle(len(sorted), func(i, j int) { sorted[i], sorted[j] = sorted[j], sorted[i] })
		sorted = sorted[:k]
		slices.SortStableFunc(sorted, func(a, b T) int { return strings.Compare(key(a), key(b)) })
	}
	return sorted, nil
}
