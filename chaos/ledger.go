package chaos

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// LedgerEnv names the environment variable that overrides the default
// ledger file (tests and CI point it at a temporary directory).
const LedgerEnv = "FAULTLINE_LEDGER"

// DefaultLedgerPath is where the ledger lives unless --ledger (or the
// experiment runner's options) says otherwise: $FAULTLINE_LEDGER, else
// faultline/ledger.jsonl in the user's state directory ($XDG_STATE_HOME,
// else ~/.local/state). One file per user, whatever the working directory,
// so that `faultline chaos cleanup` run from anywhere finds every fault the
// user's commands injected. getenv reads the environment (os.Getenv).
func DefaultLedgerPath(getenv func(string) string) (string, error) {
	if p := getenv(LedgerEnv); p != "" {
		return p, nil
	}
	// The XDG base directory spec says to ignore a relative path.
	if dir := getenv("XDG_STATE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "faultline", "ledger.jsonl"), nil
	}
	if home := getenv("HOME"); filepath.IsAbs(home) {
		return filepath.Join(home, ".local", "state", "faultline", "ledger.jsonl"), nil
	}
	return "", fmt.Errorf("no place for the fault ledger: set HOME, XDG_STATE_HOME or %s, or give --ledger", LedgerEnv)
}

// LedgerPathHelp describes the default ledger for --help and docs.
const LedgerPathHelp = "$" + LedgerEnv + ", else $XDG_STATE_HOME/faultline/ledger.jsonl, else ~/.local/state/faultline/ledger.jsonl"

// ledgerVersion is written in every record so a later faultline can read
// an older ledger.
const ledgerVersion = 1

// Ledger is the append-only record of every fault injected and reverted. It
// is a JSON Lines file: an "inject" record is appended and fsync'd before a
// fault touches anything, a "revert" record once it is undone. The faults
// still active are the inject records without a revert record, which is what
// `faultline chaos cleanup` reverts after a crash. Several processes may
// append to the same ledger: each record is one write to a file opened with
// O_APPEND.
type Ledger struct {
	path string
	mu   sync.Mutex
}

// Entry is one injected fault as the ledger knows it.
type Entry struct {
	ID        string
	Time      time.Time // when it was recorded, just before injection
	Kind      string
	What      string // Injection.Describe at the time of injection
	Owner     Owner  // the process that injected it
	Injection Injection
	// DecodeErr is set when this faultline cannot decode the entry's
	// injection (an unknown kind from another version); it cannot revert it.
	DecodeErr error
	// LastError is the latest failed revert attempt, if any.
	LastError string
	// RevertNote is what the revert said it did (such as how many requests
	// an HTTP fault touched), once a Session has reverted the entry.
	RevertNote string
}

// record is one line of the ledger file.
type record struct {
	V     int             `json:"v"`
	Op    string          `json:"op"` // "inject", "revert" or "revert_failed"
	ID    string          `json:"id"`
	Time  time.Time       `json:"time"`
	Kind  string          `json:"kind,omitempty"`
	What  string          `json:"what,omitempty"`
	Owner *Owner          `json:"owner,omitempty"`
	Undo  json.RawMessage `json:"undo,omitempty"`
	Note  string          `json:"note,omitempty"`
	Error string          `json:"error,omitempty"`
}

// OpenLedger returns the ledger at path. The file and its directory are
// created with the first record, so reading a ledger that does not exist
// yet creates nothing.
func OpenLedger(path string) (*Ledger, error) {
	if path == "" {
		return nil, errors.New("open ledger: no path")
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, fmt.Errorf("open ledger: %s is a directory", path)
	}
	return &Ledger{path: path}, nil
}

// Path is the ledger's file.
func (l *Ledger) Path() string { return l.path }

// Exists reports whether the ledger's file exists: a ledger no fault was
// ever recorded in does not.
func (l *Ledger) Exists() (bool, error) {
	_, err := os.Stat(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("ledger: %w", err)
	}
	return true, nil
}

// CorruptError says that a ledger holds lines this faultline cannot read:
// the file is not a ledger, or it is damaged, or a newer faultline wrote
// it. Faults those lines recorded may still be active, so nobody may call
// the system clean.
type CorruptError struct {
	Path  string
	Lines []int  // the first unreadable lines, 1-based
	Count int    // how many lines are unreadable
	First string // the start of the first one
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("ledger %s: %d unreadable line(s) (line %d: %q): it is not a faultline ledger, or it is damaged; faults it recorded may still be active",
		e.Path, e.Count, e.Lines[0], e.First)
}

// newID returns a fresh entry id: the time, for humans, and randomness.
func newID() string {
	var b [4]byte
	rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// Record appends the inject record for inj and fsyncs it. It is called
// before inj touches anything.
func (l *Ledger) Record(kind string, inj Injection) (*Entry, error) {
	undo, err := json.Marshal(inj)
	if err != nil {
		return nil, fmt.Errorf("ledger: encode %s: %w", kind, err)
	}
	owner := self()
	e := &Entry{ID: newID(), Time: time.Now().UTC(), Kind: kind, What: inj.Describe(), Owner: owner, Injection: inj}
	rec := record{V: ledgerVersion, Op: "inject", ID: e.ID, Time: e.Time, Kind: kind, What: e.What, Owner: &owner, Undo: undo}
	if err := l.append(rec); err != nil {
		return nil, err
	}
	return e, nil
}

// MarkReverted records that entry id is undone.
func (l *Ledger) MarkReverted(id, note string) error {
	return l.append(record{V: ledgerVersion, Op: "revert", ID: id, Time: time.Now().UTC(), Note: note})
}

// MarkRevertFailed records a failed attempt to undo entry id; the entry
// stays active.
func (l *Ledger) MarkRevertFailed(id string, cause error) error {
	return l.append(record{V: ledgerVersion, Op: "revert_failed", ID: id, Time: time.Now().UTC(), Error: cause.Error()})
}

func (l *Ledger) append(rec record) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "->" readable in the file
	if err := enc.Encode(rec); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	line := buf.Bytes() // Encode ends it with a newline
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_APPEND, 0)
	if errors.Is(err, os.ErrNotExist) {
		f, err = l.create()
	}
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	// A process killed in the middle of a write can leave a torn last line;
	// start on a fresh line so that this record stays readable.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		var last [1]byte
		if _, err := f.ReadAt(last[:], st.Size()-1); err == nil && last[0] != '\n' {
			line = append([]byte{'\n'}, line...)
		}
	}
	if _, err := f.Write(line); err != nil {
		f.Close()
		return fmt.Errorf("ledger %s: write: %w", l.path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("ledger %s: fsync: %w", l.path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("ledger %s: %w", l.path, err)
	}
	return nil
}

// create creates the ledger file and its directory, and makes their
// existence durable, not only the records.
func (l *Ledger) create() (*os.File, error) {
	dir := filepath.Dir(l.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return f, nil
}

// Active returns the entries injected and not yet reverted, oldest first.
// A torn line (a write cut short by a crash) is skipped: its fault was never
// injected, since injection waits for the record to be on disk. Any other
// unreadable line makes the error a *CorruptError, returned together with
// the entries that could be read.
func (l *Ledger) Active() ([]*Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.Open(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read ledger: %w", err)
	}
	defer f.Close()
	active, err := readActive(f)
	var corrupt *CorruptError
	if errors.As(err, &corrupt) {
		corrupt.Path = l.path
	}
	return active, err
}

// torn reports whether line is a record cut short: the start of a record
// that ends before its JSON does.
func torn(line []byte, err error) bool {
	var syn *json.SyntaxError
	return bytes.HasPrefix(line, []byte(`{"v":`)) && errors.As(err, &syn) && syn.Offset >= int64(len(line))
}

// readable reports whether rec is a record this faultline understands.
func (rec *record) readable() bool {
	switch rec.Op {
	case "inject", "revert", "revert_failed":
		return rec.ID != "" && rec.V >= 1 && rec.V <= ledgerVersion
	}
	return false
}

func readActive(r io.Reader) ([]*Entry, error) {
	byID := map[string]*Entry{}
	var order []string
	var corrupt *CorruptError
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var rec record
		err := json.Unmarshal(line, &rec)
		if err != nil && torn(line, err) {
			continue
		}
		if err != nil || !rec.readable() {
			if corrupt == nil {
				corrupt = &CorruptError{First: string(line[:min(len(line), 40)])}
			}
			if len(corrupt.Lines) < 10 {
				corrupt.Lines = append(corrupt.Lines, n)
			}
			corrupt.Count++
			continue
		}
		switch rec.Op {
		case "inject":
			e := &Entry{ID: rec.ID, Time: rec.Time, Kind: rec.Kind, What: rec.What}
			if rec.Owner != nil {
				e.Owner = *rec.Owner
			}
			e.Injection, e.DecodeErr = decodeInjection(rec.Kind, rec.Undo)
			if _, seen := byID[rec.ID]; !seen {
				order = append(order, rec.ID)
			}
			byID[rec.ID] = e
		case "revert":
			delete(byID, rec.ID)
		case "revert_failed":
			if e, ok := byID[rec.ID]; ok {
				e.LastError = rec.Error
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read ledger: %w", err)
	}
	var active []*Entry
	for _, id := range order {
		if e, ok := byID[id]; ok {
			active = append(active, e)
		}
	}
	if corrupt != nil {
		return active, corrupt
	}
	return active, nil
}

func decodeInjection(kindName string, undo json.RawMessage) (Injection, error) {
	k, ok := kinds[kindName]
	if !ok {
		return nil, fmt.Errorf("fault kind %q is unknown to this faultline", kindName)
	}
	inj := k.newInjection()
	if err := json.Unmarshal(undo, inj); err != nil {
		return nil, fmt.Errorf("decode %s: %w", kindName, err)
	}
	return inj, nil
}
