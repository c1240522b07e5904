package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/internal/exitcode"
)

func init() { register("chaos", newChaosCmd) }

// toxiproxyURLEnv is the environment variable that gives --toxiproxy-url a
// default.
const toxiproxyURLEnv = "FAULTLINE_TOXIPROXY_URL"

// chaosOptions are the flags every chaos command shares.
type chaosOptions struct {
	ledger       string
	toxiproxyURL string
	kube         chaos.KubeConfig // --kubeconfig, --context: the cluster of pod faults
}

// openLedger opens the ledger --ledger names, else the per-user default.
// named reports whether the user named it (--ledger or $FAULTLINE_LEDGER),
// so that a missing file is a mistake, not an empty history.
func (o *chaosOptions) openLedger(e *env) (l *chaos.Ledger, named bool, err error) {
	path := o.ledger
	named = path != "" || e.getenv(chaos.LedgerEnv) != ""
	if path == "" {
		if path, err = chaos.DefaultLedgerPath(e.getenv); err != nil {
			return nil, false, usageErrorf("%v", err)
		}
	}
	l, err = chaos.OpenLedger(path)
	if err != nil {
		return nil, named, exitcode.Wrap(err, exitcode.Usage)
	}
	return l, named, nil
}

// legacyLedgerPath is where faultline kept the ledger before it moved to
// the per-user state directory: under the working directory.
const legacyLedgerPath = ".faultline/ledger.jsonl"

// noteLegacyLedger says so when the working directory holds a ledger of the
// old location that is not the one in use: faults it lists are not cleaned
// up by this command.
func noteLegacyLedger(e *env, l *chaos.Ledger) {
	st, err := os.Stat(legacyLedgerPath)
	if err != nil || !st.Mode().IsRegular() {
		return
	}
	legacy, err1 := filepath.Abs(legacyLedgerPath)
	inUse, err2 := filepath.Abs(l.Path())
	if err1 == nil && err2 == nil && legacy == inUse {
		return
	}
	fmt.Fprintf(e.stderr, "note: %s is a ledger in the old place (the working directory), not read by this command: faultline chaos status --ledger %s\n", legacyLedgerPath, legacyLedgerPath)
}

// checkLedgerExists returns a usage error when the user named a ledger
// file that does not exist: a mistyped path must not read as "clean".
func checkLedgerExists(l *chaos.Ledger, named bool) error {
	exists, err := l.Exists()
	if err != nil {
		return exitcode.Wrap(err, exitcode.Runtime)
	}
	if !exists && named {
		return usageErrorf("ledger %s does not exist: nothing can be known about the faults it would list (check --ledger or $%s; the default is %s)", l.Path(), chaos.LedgerEnv, chaos.LedgerPathHelp)
	}
	return nil
}

func newChaosCmd(e *env) *cobra.Command {
	opts := &chaosOptions{}
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Inject faults, see what is active, and clean up",
		Long: `Inject network faults (through Toxiproxy), container faults (through the
Docker Engine), pod faults (through the Kubernetes API) and process faults
(signals), for a while (--for) or until
"faultline chaos cleanup". Every fault is written to a ledger before it
touches anything, and reverted on the normal end, on Ctrl-C or SIGTERM, and
on a panic; after a SIGKILL, "faultline chaos cleanup" reverts what is left.

Network faults use an embedded Toxiproxy server unless --toxiproxy-url (or
` + toxiproxyURLEnv + `) names one: an embedded server's faults end with the
command that started it. See docs/chaos.md.`,
	}
	cmd.PersistentFlags().StringVar(&opts.ledger, "ledger", "", "the ledger file of injected faults (default "+chaos.LedgerPathHelp+")")
	cmd.PersistentFlags().StringVar(&opts.toxiproxyURL, "toxiproxy-url", e.getenv(toxiproxyURLEnv), "API of an external Toxiproxy server (default: an embedded one; env "+toxiproxyURLEnv+")")
	cmd.PersistentFlags().StringVar(&opts.kube.Kubeconfig, "kubeconfig", "", "kubeconfig of the cluster of pod faults (default $KUBECONFIG, else ~/.kube/config; in a pod, its service account); cleanup defaults to the one each fault was injected with")
	cmd.PersistentFlags().StringVar(&opts.kube.Context, "context", "", "kubeconfig context of pod faults (default the current context)")

	inject := &cobra.Command{
		Use:   "inject KIND",
		Short: "Inject a fault of one kind: " + strings.Join(cliKinds(), ", "),
		Long: `Inject a fault. With --for it is reverted after that long (or on Ctrl-C);
without, it stays until "faultline chaos cleanup" - except on the embedded
Toxiproxy server, which lives only as long as this command: then the fault
is held until Ctrl-C. Run "faultline chaos inject KIND --help" for a kind's
flags.`,
		Args: cobra.ArbitraryArgs,
		// An unknown kind comes with the flags of the kind meant; ignore
		// them so the error names the valid kinds.
		FParseErrWhitelist: cobra.FParseErrWhitelist{UnknownFlags: true},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("inject needs a fault kind: %s", strings.Join(cliKinds(), ", "))
			}
			if _, known := chaos.DescribeKind(args[0]); known {
				return usageErrorf("fault kind %s cannot be injected from the command line: its targets are the in-process services of an experiment run", args[0])
			}
			_, err := chaos.NewFault(args[0])
			return err
		},
	}
	for _, k := range cliKinds() {
		inject.AddCommand(newInjectCmd(e, opts, k, "inject "+k))
	}
	cmd.AddCommand(inject)
	for _, k := range []string{"kill", "stop", "restart", "pause", "signal"} {
		c := newInjectCmd(e, opts, k, k)
		c.Short += " (same as inject " + k + ")"
		cmd.AddCommand(c)
	}
	cmd.AddCommand(newChaosStatusCmd(e, opts), newChaosCleanupCmd(e, opts), newChaosProxyCmd(e, opts), newChaosToxiproxyCmd(e))
	return cmd
}

// cliKinds are the kinds the command line can inject: all but crash, whose
// targets are in-process services that only an experiment run has.
func cliKinds() []string {
	var out []string
	for _, k := range chaos.Kinds() {
		if info, _ := chaos.DescribeKind(k); info.Group != chaos.GroupService {
			out = append(out, k)
		}
	}
	return out
}

// fieldFlag is one field of a fault kind's struct as a flag: its name,
// help and parsing all come from the struct (see chaos.Field).
type fieldFlag struct {
	field chaos.Field
	fault chaos.Fault
}

func (v fieldFlag) String() string     { return "" }
func (v fieldFlag) Set(s string) error { return v.field.Set(v.fault, s) }
func (v fieldFlag) Type() string       { return v.field.TypeName() }

// bindFields adds a flag for every field of the fault's kind.
func bindFields(fs *pflag.FlagSet, f chaos.Fault, fields []chaos.Field) {
	for _, field := range fields {
		usage := field.Doc
		if field.Default != "" {
			usage += " (default " + field.Default + ")"
		}
		if field.Repeatable() {
			usage += " (repeatable)"
		}
		flag := fs.VarPF(fieldFlag{field: field, fault: f}, field.Flag, "", usage)
		if field.IsBool() {
			flag.NoOptDefVal = "true"
		}
	}
}

func newInjectCmd(e *env, opts *chaosOptions, kind, use string) *cobra.Command {
	info, _ := chaos.DescribeKind(kind)
	fault, _ := chaos.NewFault(kind)
	var (
		hold   time.Duration
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   strings.TrimPrefix(use, "inject ") + " [flags]",
		Short: info.Summary,
		Args:  cobra.NoArgs,
	}
	bindFields(cmd.Flags(), fault, info.Fields)
	cmd.Flags().DurationVar(&hold, "for", 0, "revert after this long (default: leave the fault until cleanup)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "resolve the fault (which proxy, containers, pods or workload) and print it, touching nothing")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := chaos.Check(fault); err != nil {
			return err
		}
		if hold < 0 {
			return usageErrorf("--for %s: must not be negative", hold)
		}
		// A stressor must not outlive --for, even if this command dies.
		chaos.BoundStress(fault, hold)
		if info.Group == chaos.GroupPod || info.Group == chaos.GroupKubeService {
			if err := chaos.CheckKube(kind, opts.kube); err != nil {
				return err
			}
		}
		// Container kinds pick their victims with a seed: the one given
		// (--seed), else a random one, printed so the pick can be redone.
		picks := info.Group == chaos.GroupContainer || info.Group == chaos.GroupPod
		seed := randomSeed()
		if picks && cmd.Flags().Changed("seed") {
			seed, _ = strconv.ParseUint(cmd.Flags().Lookup("seed").Value.String(), 10, 64)
		}
		return runInject(cmd.Context(), e, opts, fault, info.Group, injectRun{hold: hold, dryRun: dryRun, seed: seed, showSeed: picks})
	}
	return cmd
}

type injectRun struct {
	hold     time.Duration
	dryRun   bool
	seed     uint64
	showSeed bool
}

func randomSeed() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:]) >> 1 // fits an int64, for YAML and JSON readers
}

func runInject(ctx context.Context, e *env, opts *chaosOptions, f chaos.Fault, group string, r injectRun) error {
	ledger, _, err := opts.openLedger(e)
	if err != nil {
		return err
	}
	cenv := &chaos.Env{ToxiproxyURL: opts.toxiproxyURL, Seed: r.seed, Kube: opts.kube}
	defer cenv.Close()
	if group == chaos.GroupToxiproxy && opts.toxiproxyURL == "" {
		tp, err := chaos.StartToxiproxy(ctx)
		if err != nil {
			return exitcode.Wrap(err, exitcode.Runtime)
		}
		defer tp.Close()
		cenv.ToxiproxyURL, cenv.ToxiproxyEmbedded = tp.URL(), true
	}
	if r.showSeed {
		fmt.Fprintf(e.stderr, "seed %d (pass --seed %d to pick the same targets again)\n", r.seed, r.seed)
	}
	session := chaos.NewSession(ledger, cenv)
	session.Out = e.stdout
	if r.dryRun {
		inj, err := session.Plan(ctx, f)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "dry run: would inject %s\n", inj.Describe())
		if cenv.ToxiproxyEmbedded {
			fmt.Fprintf(e.stdout, "dry run: on an embedded Toxiproxy server, started for this command\n")
		}
		return nil
	}
	switch {
	case r.hold > 0:
		return session.Hold(ctx, f, r.hold)
	case cenv.ToxiproxyEmbedded:
		// Resolve first, so that a bad fault is reported before the note.
		if _, err := session.Plan(ctx, f); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "the embedded Toxiproxy server lives as long as this command: holding the fault until Ctrl-C (use --for, or --toxiproxy-url for a fault that outlives the command)\n")
		return session.Hold(ctx, f, 0)
	case inProcess(f):
		if _, err := session.Plan(ctx, f); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "%s runs in this command (its HTTP proxy): holding the fault until Ctrl-C (use --for)\n", f.Kind())
		return session.Hold(ctx, f, 0)
	}
	entry, err := session.Inject(ctx, f)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "it stays until \"faultline chaos cleanup --ledger %s\" (entry %s)\n", ledger.Path(), entry.ID)
	return nil
}

func newChaosStatusCmd(e *env, opts *chaosOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the active faults: the ledger's, and the toxics on the Toxiproxy servers involved",
		Long: `Show the faults the ledger lists as active, and the proxies and toxics of the
Toxiproxy servers they use (and of --toxiproxy-url), each toxic marked as in
the ledger or not, then the shops on the Docker Engine (containers and network
labelled faultline.run) and whether the process that deployed each runs.

The ledger is --ledger, else
  ` + chaos.LedgerPathHelp + `:
one per user, whatever the working directory. A ledger named with --ledger
or $` + chaos.LedgerEnv + ` that does not exist exits 2; a ledger with unreadable
lines is reported with a warning and exits 5, since what those lines
recorded cannot be known.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ledger, named, err := opts.openLedger(e)
			if err != nil {
				return err
			}
			if err := checkLedgerExists(ledger, named); err != nil {
				return err
			}
			noteLegacyLedger(e, ledger)
			var urls []string
			if opts.toxiproxyURL != "" {
				urls = append(urls, opts.toxiproxyURL)
			}
			st, err := chaos.ReadStatus(cmd.Context(), ledger, urls)
			if st != nil {
				st.Write(e.stdout, time.Now())
			}
			return exitcode.Wrap(errors.Join(err, chaos.CheckShops(cmd.Context(), e.stdout)), exitcode.Runtime)
		},
	}
}

func newChaosCleanupCmd(e *env, opts *chaosOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "cleanup",
		Short: "Revert every fault the ledger lists as active (after a crash or a SIGKILL)",
		Long: `Revert every fault the ledger lists as active, whichever process injected it:
remove toxics and re-enable proxies on the Toxiproxy server each fault used,
start or unpause containers on the Docker Engine each fault used, send
SIGCONT to stopped processes, remove the bundled shop a "faultline run" had
deployed on Kubernetes (it is in the ledger before it is created). Faults on
an embedded Toxiproxy server whose
process has ended are gone with it. A fault that cannot be reverted is
reported and the command exits 6.

Then it removes every shop on the Docker Engine (containers and network
labelled faultline.run) whose deploying process has ended, as after a
SIGKILL of "faultline run" or "faultline targets up --docker"; a shop
whose process runs is left to it.

The ledger is --ledger, else
  ` + chaos.LedgerPathHelp + `:
one per user, so cleanup finds the faults of every command the user ran,
from any directory. A ledger named with --ledger or $` + chaos.LedgerEnv + ` that
does not exist exits 2. A ledger with unreadable lines has its readable
faults reverted and exits 6: what the other lines recorded may still be
in effect.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ledger, named, err := opts.openLedger(e)
			if err != nil {
				return err
			}
			if err := checkLedgerExists(ledger, named); err != nil {
				return err
			}
			noteLegacyLedger(e, ledger)
			cenv := &chaos.Env{Kube: opts.kube}
			defer cenv.Close()
			n, err := chaos.RevertLedger(cmd.Context(), ledger, cenv, e.stdout)
			if n == 0 && err == nil {
				fmt.Fprintf(e.stdout, "nothing to clean up in %s\n", ledger.Path())
			}
			// Faults first (a killed container of the shop is started
			// again), then the shops whose process has ended.
			_, serr := chaos.CleanupShops(cmd.Context(), e.stdout)
			if err == nil && serr != nil {
				err = exitcode.Wrap(serr, exitcode.RevertFailed)
			}
			return err
		},
	}
}

func newChaosProxyCmd(e *env, opts *chaosOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Create, list and delete proxies on an external Toxiproxy server (--toxiproxy-url)",
	}
	needURL := func() error {
		if opts.toxiproxyURL == "" {
			return usageErrorf("proxies need a server that outlives this command: give --toxiproxy-url (or %s), for example of \"faultline chaos toxiproxy serve\"", toxiproxyURLEnv)
		}
		return nil
	}
	var listen, upstream string
	create := &cobra.Command{
		Use:   "create NAME --upstream HOST:PORT [--listen ADDR]",
		Short: "Create a proxy (not a fault: it is not in the ledger, and cleanup leaves it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if upstream == "" {
				return usageErrorf("proxy create needs --upstream HOST:PORT")
			}
			if err := needURL(); err != nil {
				return err
			}
			p, err := chaos.CreateProxy(cmd.Context(), opts.toxiproxyURL, args[0], listen, upstream)
			if err != nil {
				return exitcode.Wrap(err, exitcode.Runtime)
			}
			fmt.Fprintf(e.stdout, "proxy %s listening on %s -> %s\n", p.Name, p.Listen, p.Upstream)
			return nil
		},
	}
	create.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "address the proxy listens on")
	create.Flags().StringVar(&upstream, "upstream", "", "HOST:PORT the proxy forwards to")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the proxies and their toxics",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := needURL(); err != nil {
				return err
			}
			st := &chaos.Status{Servers: chaos.ReadServers(cmd.Context(), []string{opts.toxiproxyURL})}
			if err := st.Servers[0].Err; err != nil {
				return exitcode.Wrap(err, exitcode.Runtime)
			}
			// Read the ledger as status does, so that both say the same
			// of each toxic.
			ledger, _, err := opts.openLedger(e)
			if err != nil {
				return err
			}
			st.Active, st.LedgerErr = ledger.Active()
			st.Ledger = ledger.Path()
			st.WriteServers(e.stdout)
			if st.LedgerErr != nil {
				fmt.Fprintf(e.stderr, "warning: %v\n", st.LedgerErr)
			}
			return nil
		},
	}
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a proxy, closing its connections",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needURL(); err != nil {
				return err
			}
			if err := chaos.DeleteProxy(cmd.Context(), opts.toxiproxyURL, args[0]); err != nil {
				return exitcode.Wrap(err, exitcode.Runtime)
			}
			fmt.Fprintf(e.stdout, "proxy %s deleted\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}

func newChaosToxiproxyCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "toxiproxy",
		Short: "Run faultline's embedded Toxiproxy server",
	}
	var listen string
	var logEvents bool
	var proxyFlags, toxicFlags []string
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Serve the Toxiproxy API until Ctrl-C or SIGTERM, for other tools and other faultline commands",
		Long: `Serve the Toxiproxy API (the same as Toxiproxy v2.5.0's server) until Ctrl-C
or SIGTERM, then close every proxy and exit 0. Point other commands at it
with --toxiproxy-url or ` + toxiproxyURLEnv + `.

--proxy creates proxies and --toxic adds toxics to each of them before the
server reports itself ready ("toxiproxy API on ..."): the service_* fault
kinds run this command in a pod in front of a Kubernetes Service.`,
		Example: `  faultline chaos toxiproxy serve --listen 0.0.0.0:8474 \
    --proxy web=0.0.0.0:8080=10.96.0.12:80 \
    --toxic '{"type":"latency","attributes":{"latency":100,"jitter":50}}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			proxies, toxics, err := parseServeSetup(proxyFlags, toxicFlags)
			if err != nil {
				return err
			}
			var logTo io.Writer
			if logEvents {
				logTo = e.stderr
			}
			tp, err := chaos.StartToxiproxy(cmd.Context(), chaos.WithListen(listen), chaos.WithLog(logTo))
			if err != nil {
				return exitcode.Wrap(err, exitcode.Runtime)
			}
			if err := tp.Setup(cmd.Context(), proxies, toxics); err != nil {
				return exitcode.Wrap(errors.Join(err, tp.Close()), exitcode.Runtime)
			}
			fmt.Fprintf(e.stdout, "toxiproxy API on %s\n", tp.URL())
			select {
			case <-cmd.Context().Done():
			case <-tp.Done():
			}
			return exitcode.Wrap(tp.Close(), exitcode.Runtime)
		},
	}
	serve.Flags().StringVar(&listen, "listen", "127.0.0.1:8474", "address the API listens on (port 0: the OS picks)")
	serve.Flags().BoolVar(&logEvents, "log", false, "log the server's events (proxies, toxics, connections) to stderr as JSON lines")
	serve.Flags().StringArrayVar(&proxyFlags, "proxy", nil, "create a proxy at start-up, NAME=LISTEN=UPSTREAM (repeatable)")
	serve.Flags().StringArrayVar(&toxicFlags, "toxic", nil, "add this toxic, as JSON in the body Toxiproxy's API takes, to every --proxy at start-up (repeatable)")
	cmd.AddCommand(serve)
	return cmd
}

// inProcess reports whether the fault lives in the process that injects it.
func inProcess(f chaos.Fault) bool {
	info, _ := chaos.DescribeKind(f.Kind())
	return info.InProcess
}

// parseServeSetup parses the --proxy and --toxic flags of toxiproxy serve.
func parseServeSetup(proxyFlags, toxicFlags []string) ([]chaos.ServeProxy, []chaos.ServeToxic, error) {
	var proxies []chaos.ServeProxy
	for _, s := range proxyFlags {
		p, err := chaos.ParseServeProxy(s)
		if err != nil {
			return nil, nil, usageErrorf("--proxy %v", err)
		}
		proxies = append(proxies, p)
	}
	if len(toxicFlags) > 0 && len(proxies) == 0 {
		return nil, nil, usageErrorf("--toxic needs --proxy: toxics are added to the proxies created at start-up")
	}
	var toxics []chaos.ServeToxic
	for _, s := range toxicFlags {
		tx, err := chaos.ParseServeToxic(s)
		if err != nil {
			return nil, nil, usageErrorf("--toxic %v", err)
		}
		toxics = append(toxics, tx)
	}
	return proxies, toxics, nil
}
