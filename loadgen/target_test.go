package loadgen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseTargets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "order.json"), []byte(`{"sku":"p001"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "targets.txt")
	src := `# a comment that is not a directive
GET http://127.0.0.1:8080/api/products
X-Account: 42

# name=checkout weight=3
POST http://127.0.0.1:8080/api/orders
Content-Type: application/json
@order.json

DELETE http://127.0.0.1:8080/api/orders/1
`
	ts, err := ParseTargets(strings.NewReader(src), file)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 3 {
		t.Fatalf("got %d targets, want 3", len(ts))
	}
	if ts[0].Name != "GET /api/products" || ts[0].Header.Get("X-Account") != "42" || ts[0].Weight != 1 {
		t.Errorf("target 0 = %+v", ts[0])
	}
	if ts[1].Name != "checkout" || ts[1].Weight != 3 || string(ts[1].Body) != `{"sku":"p001"}` || ts[1].Method != "POST" {
		t.Errorf("target 1 = %+v body %q", ts[1], ts[1].Body)
	}
	if ts[2].Name != "DELETE /api/orders/1" {
		t.Errorf("target 2 name %q", ts[2].Name)
	}
}

func TestParseTargetsErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		src  string
		want string
	}{
		{"", "t.txt: no targets"},
		{"GET", "t.txt:1: want a request line"},
		{"get http://x/", "t.txt:1: invalid method"},
		{"GET ftp://x/", "t.txt:1: invalid URL"},
		{"GET 127.0.0.1:8080", `t.txt:1: invalid URL "127.0.0.1:8080": no scheme: did you mean "http://127.0.0.1:8080"?`},
		{"GET localhost:8080/x", `did you mean "http://localhost:8080/x"?`},
		{"GET http://x/\nnot a header", "t.txt:2: want a header line"},
		{"GET http://x/\n@missing.json", "t.txt:2: body:"},
		{"# name=a weight=0\nGET http://x/", "t.txt:1: weight"},
	}
	for _, c := range cases {
		_, err := ParseTargets(strings.NewReader(c.src), "t.txt")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseTargets(%q) error = %v, want one containing %q", c.src, err, c.want)
		}
	}
}

func FuzzParseTargets(f *testing.F) {
	f.Add("GET http://127.0.0.1/\nX-A: b\n\n# name=n weight=2\nPOST http://127.0.0.1/x\n")
	f.Add("# weight=3\nHEAD https://h:1/p?q=1\n")
	f.Add("GET http://[::1]:80/\n\n\n")
	f.Fuzz(func(t *testing.T, src string) {
		ts, err := ParseTargets(strings.NewReader(src), "fuzz.txt")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.txt") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		for _, tg := range ts {
			if tg.URL == nil || tg.Name == "" || tg.Weight < 1 {
				t.Errorf("bad target %+v", tg)
			}
			_ = rawRequest(tg, "fuzz")
		}
	})
}
