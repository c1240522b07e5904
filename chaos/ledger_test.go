package chaos

import (
	"context"
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
