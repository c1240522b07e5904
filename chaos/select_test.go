package chaos

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestPickCounts(t *testing.T) {
	t.Parallel()
	ten := make([]string, 10)
	for i := range ten {
		ten[i] = fmt.Sprintf("c%02d", i)
	}
	cases := []struct {
		sel     Selection
		want    int
		wantErr string
	}{
		{Selection{}, 1, ""},
		{Selection{Mode: ModeOne}, 1, ""},
		{Selection{Mode: ModeAll}, 10, ""},
		{Selection{Mode: ModeFixed, Value: 3}, 3, ""},
		{Selection{Mode: ModeFixed, Value: 11}, 0, "only 10 match"},
		{Selection{Mode: ModePercent, Value: 25}, 3, ""}, // 2.5 rounds up
		{Selection{Mode: ModePercent, Value: 100}, 10, ""},
		{Selection{Mode: ModePercent, Value: 1}, 1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.sel.String(), func(t *testing.T) {
			t.Parallel()
			got, err := Pick(ten, func(s string) string { return s }, tc.sel, 7)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Pick = %v, %v; want error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || len(got) != tc.want {
				t.Fatalf("Pick = %v, %v; want %d", got, err, tc.want)
			}
			if !slices.IsSorted(got) {
				t.Fatalf("Pick = %v, not sorted", got)
			}
		})
	}
}

func TestPickIsReproducibleWhateverTheOrder(t *testing.T) {
	t.Parallel()
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	reversed := slices.Clone(names)
	slices.Reverse(reversed)
	key := func(s string) string { return s }
	sel := Selection{Mode: ModeFixed, Value: 3}
	seen := map[string]bool{}
	for seed := range uint64(20) {
		first, err := Pick(names, key, sel, seed)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := Pick(reversed, key, sel, seed)
		if !slices.Equal(first, again) {
			t.Fatalf("seed %d: %v, then %v from the same candidates in another order", seed, first, again)
		}
		seen[strings.Join(first, ",")] = true
	}
	if len(seen) < 5 {
		t.Fatalf("20 seeds picked only %d different sets: the seed hardly matters", len(seen))
	}
}

func TestSelectionValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		sel     Selection
		wantErr string
	}{
		{Selection{Mode: "some"}, "valid modes are one, all, fixed, percent"},
		{Selection{Mode: ModeFixed}, "whole number of targets"},
		{Selection{Mode: ModeFixed, Value: 1.5}, "whole number"},
		{Selection{Mode: ModePercent, Value: 150}, "(0, 100]"},
		{Selection{Mode: ModeAll, Value: 2}, "value applies only"},
	}
	for _, tc := range cases {
		t.Run(tc.sel.String(), func(t *testing.T) {
			t.Parallel()
			errs := tc.sel.Validate()
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.wantErr) {
				t.Fatalf("Validate = %v; want one error with %q", errs, tc.wantErr)
			}
		})
	}
}
