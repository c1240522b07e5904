package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

func TestLedgerRecordsAndReverts(t *testing.T) {
	t.Parallel()
	l := testLedger(t)
	a, err := l.Record("signal", &signalInjection{PID: 100, Signal: "SIGSTOP", Restore: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Record("crash", &crashInjection{Service: "catalog", Owner: self()})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.MarkRevertFailed(a.ID, fmt.Errorf("boom")); err != nil {
		t.Fatal(err)
	}
	active, err := l.Active()
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 2 || active[0].ID != a.ID || active[1].ID != b.ID {
		t.Fatalf("active = %v, want a then b", active)
	}
	if active[0].LastError != "boom" {
		t.Errorf("last error %q, want boom", active[0].LastError)
	}
	inj, ok := active[0].Injection.(*signalInjection)
	if !ok || inj.PID != 100 || inj.Signal != "SIGSTOP" {
		t.Fatalf("decoded injection %#v", active[0].Injection)
	}
	if active[1].Owner != self() {
		t.Errorf("owner %v, want this process", active[1].Owner)
	}
	if err := l.MarkReverted(a.ID, "done"); err != nil {
		t.Fatal(err)
	}
	active, _ = l.Active()
	if len(active) != 1 || active[0].ID != b.ID {
		t.Fatalf("active after revert = %v, want only b", active)
	}
}

// TestLedgerSurvivesATornLine checks that a record cut short by a crash
// neither hides the records before it nor spoils the ones after it.
func TestLedgerSurvivesATornLine(t *testing.T) {
	t.Parallel()
	l := testLedger(t)
	a, _ := l.Record("crash", &crashInjection{Service: "a", Owner: self()})
	f, err := os.OpenFile(l.Path(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"v":1,"op":"inject","id":"torn","kind":"cra`)
	f.Close()
	b, err := l.Record("crash", &crashInjection{Service: "b", Owner: self()})
	if err != nil {
		t.Fatal(err)
	}
	active, err := l.Active()
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 2 || active[0].ID != a.ID || active[1].ID != b.ID {
		t.Fatalf("active = %+v, want a and b", active)
	}
}

func TestLedgerKeepsWhatItCannotDecode(t *testing.T) {
	t.Parallel()
	l := testLedger(t)
	line := `{"v":1,"op":"inject","id":"x1","kind":"meteor","what":"a meteor strike","undo":{}}` + "\n"
	if err := os.WriteFile(l.Path(), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	active, err := l.Active()
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 1 || active[0].DecodeErr == nil || !strings.Contains(active[0].DecodeErr.Error(), "meteor") {
		t.Fatalf("active = %+v, want the entry with a decode error", active)
	}
	_, err = RevertLedger(context.Background(), l, &Env{}, nil)
	if exitOf(err) != 6 || !strings.Contains(err.Error(), "a meteor strike") {
		t.Fatalf("RevertLedger = %v, want exit 6 naming the fault", err)
	}
}

func TestLedgerConcurrentAppends(t *testing.T) {
	t.Parallel()
	l := testLedger(t)
	// A second handle on the same file stands for another process.
	other, err := OpenLedger(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			ledger := l
			if i%2 == 1 {
				ledger = other
			}
			e, err := ledger.Record("crash", &crashInjection{Service: fmt.Sprint(i), Owner: self()})
			if err != nil {
				t.Error(err)
				return
			}
			if i%4 == 0 {
				ledger.MarkReverted(e.ID, "ok")
			}
		})
	}
	wg.Wait()
	active, err := l.Active()
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 15 {
		t.Fatalf("%d active, want 15", len(active))
	}
}

func TestDefaultLedgerPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		vars    map[string]string
		want    string
		wantErr bool
	}{
		{"home", map[string]string{"HOME": "/home/u"}, "/home/u/.local/state/faultline/ledger.jsonl", false},
		{"xdg", map[string]string{"HOME": "/home/u", "XDG_STATE_HOME": "/state"}, "/state/faultline/ledger.jsonl", false},
		{"relative xdg is ignored", map[string]string{"HOME": "/home/u", "XDG_STATE_HOME": "state"}, "/home/u/.local/state/faultline/ledger.jsonl", false},
		{"env names the file", map[string]string{"HOME": "/home/u", LedgerEnv: "/tmp/l.jsonl"}, "/tmp/l.jsonl", false},
		{"nowhere", nil, "", true},
		{"relative home", map[string]string{"HOME": "u"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DefaultLedgerPath(func(k string) string { return tt.vars[k] })
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("got %q, %v; want %q (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestLedgerCorruptLines: lines that are not records (random bytes, a
// record of an unknown op or a newer version) make Active return a
// *CorruptError with the entries it could read, and RevertLedger exit 6
// after reverting those; a torn last line does not.
func TestLedgerCorruptLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		lines   string
		corrupt int
	}{
		{"binary", "\x00\xff\x13garbage\n", 1},
		{"text", "hello\nworld\n", 2},
		{"unknown op", `{"v":1,"op":"explode","id":"x"}` + "\n", 1},
		{"newer version", `{"v":99,"op":"inject","id":"x","kind":"crash"}` + "\n", 1},
		{"no id", `{"v":1,"op":"inject"}` + "\n", 1},
		{"torn", `{"v":1,"op":"inject","id":"torn","kind":"cra`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := testLedger(t)
			a, err := l.Record("crash", &crashInjection{Service: "a", Owner: Owner{PID: 1 << 30}})
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(l.Path(), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(tt.lines)
			f.Close()
			active, err := l.Active()
			if len(active) != 1 || active[0].ID != a.ID {
				t.Fatalf("active = %+v, want the readable entry", active)
			}
			var corrupt *CorruptError
			if tt.corrupt == 0 {
				if err != nil {
					t.Fatalf("torn last line: %v", err)
				}
				return
			}
			if !errors.As(err, &corrupt) || corrupt.Count != tt.corrupt || corrupt.Lines[0] != 2 || corrupt.Path != l.Path() {
				t.Fatalf("err = %#v, want %d corrupt line(s) from line 2", err, tt.corrupt)
			}
			n, err := RevertLedger(context.Background(), l, &Env{}, nil)
			if n != 1 || exitOf(err) != 6 || !errors.As(err, &corrupt) {
				t.Fatalf("RevertLedger = %d, %v; want the entry reverted and exit 6", n, err)
			}
		})
	}
}
