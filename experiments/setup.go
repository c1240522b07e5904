package experiments

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/internal/distrib"
	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/targets"
)

// environment is what a run starts and stops around its load: the bundled
// shop (in-process or in Docker), Toxiproxy, the fault ledger and its
// session, and the proxies; and the ${...} references that name them.
type environment struct {
	plan  *Plan
	opts  RunOptions
	runID string
	say   func(format string, args ...any)

	shop   *targets.Shop
	docker *targets.DockerShop
	kube   *targets.KubeShop
	// kubeShopEntry records the shop on Kubernetes in the ledger.
	kubeShopEntry *chaos.Entry
	kubeURLs      map[string]string // ${targets.NAME} of targets.kubernetes.services
	toxi          *chaos.Toxiproxy
	env           *chaos.Env
	session       *chaos.Session
	proxyAddr     map[string]string
	proxies       []*chaos.Entry
	// gens are the generators' workers when the load runs on several;
	// stopGens stops them.
	gens     *distrib.Config
	stopGens func() error
}

// resolve expands ${targets.X}, ${proxies.X}, ${env.X} and their .addr
// forms; validation has already checked the names.
func (e *environment) resolve(s string) string {
	return refPattern.ReplaceAllStringFunc(s, func(m string) string {
		parts := strings.Split(m[2:len(m)-1], ".")
		addrOnly := len(parts) == 3
		var addr string
		switch parts[0] {
		case "env":
			return e.opts.Getenv(parts[1])
		case "run":
			return e.runID
		case "kubernetes":
			return e.kubeConfig().Namespace
		case "targets":
			if base, ok := e.plan.Exp.Targets.External[parts[1]]; ok {
				if addrOnly {
					if u, err := url.Parse(base); err == nil {
						return u.Host
					}
				}
				return strings.TrimSuffix(base, "/")
			}
			switch {
			case e.shop != nil:
				addr = e.shop.Addr(parts[1])
			case e.docker != nil:
				addr = e.docker.Addr(parts[1])
			default:
				addr = e.kubeAddr(parts[1])
			}
		case "proxies":
			addr = e.proxyAddr[parts[1]]
		}
		if addrOnly {
			return addr
		}
		return "http://" + addr
	})
}

// hostPort turns a URL or host:port into host:port.
func hostPort(s string) string {
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		return u.Host
	}
	return s
}

// setUp starts what the experiment needs: the shop, Toxiproxy, the ledger
// and its session, and the proxies. Its errors are runtime errors unless
// they carry another code (a fault invalid once resolved is a usage error).
func (e *environment) setUp(ctx context.Context) error {
	if err := e.checkKube(); err != nil {
		return err
	}
	if err := e.openLedger(); err != nil {
		return err
	}
	if err := e.startShop(ctx); err != nil {
		return err
	}
	if err := e.startKube(ctx); err != nil {
		return err
	}
	if err := e.startChaos(ctx); err != nil {
		return err
	}
	// Faults may name what only exists now: ${run.id}, ${targets.X}, ...
	for _, f := range e.plan.Faults {
		fault, err := chaos.Copy(f.Fault)
		if err == nil {
			resolveStrings(reflect.ValueOf(fault).Elem(), e.resolve)
			e.defaultKubeImage(reflect.ValueOf(fault).Elem())
			// A stressor ends by itself with its fault, even if faultline dies.
			chaos.BoundStress(fault, f.End-f.Start)
			err = chaos.Check(fault)
		}
		if err != nil && exitcode.Of(err) == exitcode.Usage {
			return exitcode.Wrap(Problems{e.plan.faultProblem(f, err)}, exitcode.Usage)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", f.Label(), err)
		}
		f.Fault = fault
	}
	if err := e.preflight(ctx); err != nil {
		return err
	}
	if err := e.createProxies(ctx); err != nil {
		return err
	}
	return e.startGenerators(ctx)
}

func (e *environment) startShop(ctx context.Context) error {
	exp := e.plan.Exp
	if exp.Targets.Docker {
		image := e.opts.Image
		if image == "" {
			image = exp.Targets.Image
		}
		e.say("starting the shop in Docker (run %s)", e.runID)
		shop, err := targets.StartDocker(ctx, exp.Targets.Config, targets.DockerOptions{
			Only: exp.Targets.Only, Image: image, RunID: e.runID,
			Labels: map[string]string{"faultline.experiment": safeName(exp.Name)},
		})
		if err != nil {
			return fmt.Errorf("start the bundled shop in Docker: %w", err)
		}
		e.docker = shop
		for _, row := range shop.Table() {
			e.say("target %-8s %s", row[0], row[2])
		}
	} else if exp.Targets.Shop {
		shop, err := targets.Start(ctx, exp.Targets.Config, targets.StartOptions{Only: exp.Targets.Only})
		if err != nil {
			return fmt.Errorf("start the bundled shop: %w", err)
		}
		e.shop = shop
		for _, row := range shop.Table() {
			e.say("target %-8s %s", row[0], row[2])
		}
	}
	return nil
}

// openLedger opens the ledger and the session, before anything is
// started that the ledger must know of (the shop on Kubernetes).
func (e *environment) openLedger() error {
	e.env = &chaos.Env{Seed: e.plan.Exp.Seed, Services: map[string]chaos.Crashable{}, Kube: e.kubeConfig()}
	ledger, err := chaos.OpenLedger(e.opts.LedgerPath)
	if err != nil {
		return err
	}
	e.session = chaos.NewSession(ledger, e.env)
	return nil
}

// startChaos starts (or connects to) Toxiproxy when a proxy or a fault
// needs it, and gives the faults the in-process services.
func (e *environment) startChaos(ctx context.Context) error {
	exp := e.plan.Exp
	env := e.env
	if e.shop != nil {
		for _, name := range e.shop.Names() {
			env.Services[name] = e.shop.Service(name)
		}
	}
	needToxi := len(exp.Proxies) > 0
	for _, f := range e.plan.Faults {
		if faultGroup(f) == chaos.GroupToxiproxy {
			needToxi = true
		}
	}
	switch {
	case needToxi && exp.Toxiproxy.URL != "":
		if _, err := chaos.ConnectToxiproxy(ctx, exp.Toxiproxy.URL); err != nil {
			return err
		}
		env.ToxiproxyURL = exp.Toxiproxy.URL
		e.say("toxiproxy external %s", exp.Toxiproxy.URL)
	case needToxi:
		t, err := chaos.StartToxiproxy(ctx)
		if err != nil {
			return fmt.Errorf("start the embedded Toxiproxy: %w", err)
		}
		e.toxi = t
		env.ToxiproxyURL, env.ToxiproxyEmbedded = t.URL(), true
		e.say("toxiproxy embedded %s", t.URL())
	}
	return nil
}

func (e *environment) createProxies(ctx context.Context) error {
	for _, p := range e.plan.Exp.Proxies {
		upstream := e.resolve(p.Upstream)
		if upstream == "" && p.Link != "" {
			l, _ := targets.ParseLink(p.Link)
			upstream = e.shop.Addr(l.To)
		}
		listen := p.Listen
		if listen == "" {
			listen = "127.0.0.1:0"
		}
		f, err := chaos.NewProxy(p.Name, e.resolve(listen), hostPort(upstream))
		if err != nil {
			return err
		}
		entry, err := e.session.Inject(ctx, f)
		if err != nil {
			return fmt.Errorf("create proxy %s: %w", p.Name, err)
		}
		e.proxies = append(e.proxies, entry)
		addr, _ := chaos.ProxyListen(entry)
		e.proxyAddr[p.Name] = addr
		if p.Link != "" {
			if err := e.shop.SetUpstream(p.Link, addr); err != nil {
				return fmt.Errorf("route %s through proxy %s: %w", p.Link, p.Name, err)
			}
			e.say("proxy  %-8s %s -> %s (link %s)", p.Name, addr, upstream, p.Link)
		} else {
			e.say("proxy  %-8s %s -> %s", p.Name, addr, upstream)
		}
	}
	return nil
}

// tearDown deletes the proxies, runs the rollbacks and stops what setUp
// started. A proxy that cannot be deleted is an error carrying
// exitcode.RevertFailed. Proxies are deleted after the load has stopped.
func (e *environment) tearDown(note func(format string, args ...any)) error {
	var failed error
	bg := context.WithoutCancel(context.Background())
	if e.session != nil {
		for i := len(e.proxies) - 1; i >= 0; i-- {
			if err := e.session.Revert(bg, e.proxies[i]); err != nil {
				e.say("faultline: delete proxy: %v", err)
				if failed == nil {
					failed = exitcode.Errorf(exitcode.RevertFailed, "a proxy could not be deleted: %v", err)
				}
			}
		}
		e.proxies = nil
	}
	if e.stopGens != nil {
		if err := e.stopGens(); err != nil {
			e.say("faultline: stop the generators: %v", err)
			if failed == nil {
				failed = exitcode.WrapIfNone(err, exitcode.RevertFailed)
			}
		}
		e.stopGens, e.gens = nil, nil
	}
	runRollbacks(bg, e.plan.Rollbacks, e.resolve, note)
	if e.toxi != nil {
		e.toxi.Close()
		e.toxi = nil
	}
	if e.shop != nil {
		e.shop.Close()
		e.shop = nil
	}
	e.stopKube(bg)
	if e.docker != nil {
		if err := e.docker.Close(bg); err != nil {
			e.say("faultline: remove the shop's containers: %v", err)
		}
		e.docker = nil
	}
	if e.env != nil {
		e.env.Close()
	}
	return failed
}

// runRollbacks runs every rollback action, whatever happened, and notes
// each result.
func runRollbacks(ctx context.Context, actions []ActionSpec, resolve func(string) string, note func(format string, args ...any)) {
	for i, a := range actions {
		name := a.Name
		if name == "" {
			name = fmt.Sprintf("rollbacks[%d]", i)
		}
		var err error
		switch {
		case a.HTTP != nil:
			h := *a.HTTP
			if h.Timeout == 0 {
				h.Timeout = a.Timeout
			}
			var resp *http.Response
			resp, _, _, err = doHTTP(ctx, &h, resolve)
			if err == nil && resp.StatusCode >= 400 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		default:
			var code int
			_, code, err = runCommand(ctx, a.Command, a.Timeout, resolve)
			if err == nil && code != 0 {
				err = fmt.Errorf("exit code %d", code)
			}
		}
		if err != nil {
			note("rollback %s failed: %v", name, err)
		} else {
			note("rollback %s done", name)
		}
	}
}
