package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// Status is what may be faulted now: the faults the ledger lists as active,
// and what the Toxiproxy servers involved report.
type Status struct {
	Ledger string
	// Missing is set when the ledger's file does not exist: no fault was
	// ever recorded in it.
	Missing bool
	// LedgerErr is set when the ledger has unreadable lines (a
	// *CorruptError): Active is then what could be read, and may be short.
	LedgerErr error
	Active    []*Entry
	Servers   []ServerStatus
}

// ServerStatus is one Toxiproxy server's proxies and toxics, or why they
// could not be read.
type ServerStatus struct {
	URL     string
	Err     error
	Proxies []*toxiproxy.Proxy // sorted by name
}

// ReadStatus reads the ledger and asks every Toxiproxy server in urls, and
// every server an active fault uses (unless it ended with its process), for
// its proxies and toxics. A ledger with unreadable lines gives the status
// of what could be read together with its *CorruptError.
func ReadStatus(ctx context.Context, l *Ledger, urls []string) (*Status, error) {
	exists, err := l.Exists()
	if err != nil {
		return nil, err
	}
	active, err := l.Active()
	var corrupt *CorruptError
	if err != nil && !errors.As(err, &corrupt) {
		return nil, err
	}
	st := &Status{Ledger: l.Path(), Missing: !exists, Active: active, LedgerErr: err}
	seen := map[string]bool{}
	var all []string
	add := func(u string) {
		u = strings.TrimSuffix(u, "/")
		if u != "" && !seen[u] {
			seen[u] = true
			all = append(all, u)
		}
	}
	for _, u := range urls {
		add(u)
	}
	for _, e := range active {
		if s, ok := serverOfInjection(e.Injection); ok && !s.gone() {
			add(s.URL)
		}
	}
	st.Servers = ReadServers(ctx, all)
	return st, err
}

// ReadServers asks each Toxiproxy server for its proxies and toxics.
func ReadServers(ctx context.Context, urls []string) []ServerStatus {
	var out []ServerStatus
	for _, u := range urls {
		ss := ServerStatus{URL: u}
		c, err := ConnectToxiproxy(ctx, u)
		if err == nil {
			var proxies map[string]*toxiproxy.Proxy
			proxies, err = c.Proxies()
			for _, name := range slices.Sorted(maps.Keys(proxies)) {
				ss.Proxies = append(ss.Proxies, proxies[name])
			}
		}
		ss.Err = err
		out = append(out, ss)
	}
	return out
}

// serverOfInjection returns the Toxiproxy server a network injection uses.
func serverOfInjection(inj Injection) (toxiServer, bool) {
	switch t := inj.(type) {
	case *toxicInjection:
		return t.Server, true
	case *downInjection:
		return t.Server, true
	case *proxyInjection:
		return t.Server, true
	}
	return toxiServer{}, false
}

// Write prints the status for people.
func (st *Status) Write(w io.Writer, now time.Time) {
	switch {
	case st.LedgerErr != nil:
		fmt.Fprintf(w, "ledger %s: WARNING: %v\n", st.Ledger, st.LedgerErr)
		fmt.Fprintf(w, "ledger %s: %d active fault(s) among the lines that could be read\n", st.Ledger, len(st.Active))
	case st.Missing:
		fmt.Fprintf(w, "ledger %s does not exist: no fault was ever recorded in it\n", st.Ledger)
	case len(st.Active) == 0:
		fmt.Fprintf(w, "ledger %s: no active fault\n", st.Ledger)
	default:
		fmt.Fprintf(w, "ledger %s: %d active fault(s)\n", st.Ledger, len(st.Active))
	}
	for _, e := range st.Active {
		alive := "running"
		if !e.Owner.Alive() {
			alive = "ended"
		}
		what := e.What
		if e.Injection != nil {
			what = e.Injection.Describe()
		}
		fmt.Fprintf(w, "  %s  %-10s %s\n", e.ID, e.Kind, what)
		fmt.Fprintf(w, "  %s  injected %s ago by %s (%s)\n", strings.Repeat(" ", len(e.ID)), now.Sub(e.Time).Round(time.Second), e.Owner, alive)
		if e.DecodeErr != nil {
			fmt.Fprintf(w, "  %s  cannot revert: %v\n", strings.Repeat(" ", len(e.ID)), e.DecodeErr)
		}
		if e.LastError != "" {
			fmt.Fprintf(w, "  %s  last revert failed: %s\n", strings.Repeat(" ", len(e.ID)), e.LastError)
		}
	}
	st.WriteServers(w)
}

// ledgerKey names a proxy or a toxic on a Toxiproxy server: the server's
// URL, the proxy and, for a toxic, its name.
func ledgerKey(server, proxy, toxic string) string {
	server = strings.TrimSuffix(strings.TrimPrefix(server, "http://"), "/")
	return server + " " + proxy + " " + toxic
}

// inLedger returns the keys of the proxies and toxics the active faults
// created, so that a listing can say which came from the ledger.
func (st *Status) inLedger() map[string]bool {
	known := map[string]bool{}
	for _, e := range st.Active {
		switch t := e.Injection.(type) {
		case *toxicInjection:
			known[ledgerKey(t.Server.URL, t.Proxy.Name, t.Toxic.Name)] = true
		case *proxyInjection:
			known[ledgerKey(t.Server.URL, t.Proxy.Name, "")] = true
		}
	}
	return known
}

// WriteServers prints the Toxiproxy servers' proxies and toxics, each
// toxic and each proxy a fault created marked as in the ledger or not.
func (st *Status) WriteServers(w io.Writer) {
	known := st.inLedger()
	origin := func(key string) string {
		switch {
		case known[key]:
			return "in the ledger"
		case st.LedgerErr != nil:
			return "not among the ledger's readable lines"
		}
		return "not in the ledger"
	}
	for _, s := range st.Servers {
		if s.Err != nil {
			fmt.Fprintf(w, "toxiproxy %s: %v\n", s.URL, s.Err)
			continue
		}
		fmt.Fprintf(w, "toxiproxy %s: %d proxy(ies)\n", s.URL, len(s.Proxies))
		for _, p := range s.Proxies {
			state := "enabled"
			if !p.Enabled {
				state = "DISABLED"
			}
			created := ""
			if known[ledgerKey(s.URL, p.Name, "")] {
				created = " (created by a fault in the ledger)"
			}
			fmt.Fprintf(w, "  proxy %s  %s -> %s  %s%s\n", p.Name, p.Listen, p.Upstream, state, created)
			toxics := slices.Clone(p.ActiveToxics)
			sort.Slice(toxics, func(i, j int) bool { return toxics[i].Name < toxics[j].Name })
			for _, t := range toxics {
				fmt.Fprintf(w, "    toxic %s  %s %s, toxicity %v, %s (%s)\n", t.Name, t.Type, t.Stream, t.Toxicity, formatAttributes(t.Attributes), origin(ledgerKey(s.URL, p.Name, t.Name)))
			}
		}
	}
}

func formatAttributes(a toxiproxy.Attributes) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(a)) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, a[k]))
	}
	return strings.Join(parts, " ")
}
