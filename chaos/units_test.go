package chaos

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in      string
		want    Size
		wantErr string
	}{
		{"0", 0, ""},
		{"512", 512, ""},
		{"512B", 512, ""},
		{"64KiB", 64 << 10, ""},
		{"1MB", 1_000_000, ""},
		{"1.5KiB", 1536, ""},
		{" 2 GiB ", 2 << 30, ""},
		{"1.5B", 0, "whole number"},
		{"10kb", 0, "unknown unit"},
		{"-1KB", 0, "non-negative"},
		{"KB", 0, "non-negative number"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSize(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseSize(%q) = %v, %v; want error with %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseSize(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParseByteRate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in      string
		want    ByteRate
		wantErr bool
	}{
		{"100KB/s", 100_000, false},
		{"1MiB/s", 1 << 20, false},
		{"500B/s", 500, false},
		{"100KB", 0, true},
		{"fast/s", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseByteRate(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("ParseByteRate(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1KiB", "1.5MB", "0", "12", "3GiB", "9e9B", ".5KiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseSize(s)
		if err != nil {
			return
		}
		if v < 0 {
			t.Fatalf("ParseSize(%q) = %d, negative", s, v)
		}
		back, err := ParseSize(v.String())
		if err != nil || back != v {
			t.Fatalf("ParseSize(%q) = %d, String %q parses back to %d, %v", s, v, v.String(), back, err)
		}
	})
}

func FuzzParseByteRate(f *testing.F) {
	for _, s := range []string{"100KB/s", "1MiB/s", "7B/s", "/s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseByteRate(s)
		if err != nil {
			return
		}
		back, err := ParseByteRate(v.String())
		if err != nil || back != v {
			t.Fatalf("ParseByteRate(%q) = %d, String %q parses back to %d, %v", s, v, v.String(), back, err)
		}
	})
}
