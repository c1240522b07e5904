package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/faultline-dev/faultline/chaos/docker"
	"github.com/faultline-dev/faultline/internal/proc"
)

// Shop is one deployment of the bundled shop on a Docker Engine: the
// containers and the network labelled faultline.run=<RunID>. A faultline
// killed with SIGKILL leaves its shop behind; the owner labels tell such an
// orphan from a shop whose process still runs.
type Shop struct {
	RunID      string
	Owner      Owner
	OwnerKnown bool     // the shop carries owner labels
	Containers []string // "name (state)", sorted
	Networks   []string // names, sorted
}

// Orphaned reports whether the process that deployed the shop has ended.
// A shop without owner labels is not called orphaned: nobody can tell.
func (s Shop) Orphaned() bool { return s.OwnerKnown && !s.Owner.Alive() }

func (s Shop) String() string {
	return fmt.Sprintf("shop %s=%s: %d container(s) %s, network %s",
		docker.LabelRun, s.RunID, len(s.Containers), strings.Join(s.Containers, ", "), strings.Join(s.Networks, ", "))
}

// owner says who deployed the shop and whether that process runs.
func (s Shop) owner() string {
	switch {
	case !s.OwnerKnown:
		return "owner unknown (no owner labels)"
	case s.Owner.Alive():
		return "deployed by " + s.Owner.String() + " (running)"
	}
	return "deployed by " + s.Owner.String() + " (ended: orphaned)"
}

// FindShops lists the shops on the engine, sorted by run ID.
func FindShops(ctx context.Context, eng *docker.Engine) ([]Shop, error) {
	anyRun := map[string]string{docker.LabelRun: ""}
	containers, err := eng.List(ctx, docker.Selector{Labels: anyRun})
	if err != nil {
		return nil, err
	}
	networks, err := eng.Networks(ctx, anyRun)
	if err != nil {
		return nil, err
	}
	byRun := map[string]*Shop{}
	shop := func(labels map[string]string) *Shop {
		id := labels[docker.LabelRun]
		s, ok := byRun[id]
		if !ok {
			s = &Shop{RunID: id}
			byRun[id] = s
		}
		if !s.OwnerKnown {
			s.Owner, s.OwnerKnown = proc.FromLabels(labels)
		}
		return s
	}
	for _, c := range containers {
		s := shop(c.Labels)
		s.Containers = append(s.Containers, fmt.Sprintf("%s (%s)", c.Name, c.State))
	}
	for _, n := range networks {
		s := shop(n.Labels)
		s.Networks = append(s.Networks, n.Name)
	}
	out := make([]Shop, 0, len(byRun))
	for _, s := range byRun {
		sort.Strings(s.Containers)
		sort.Strings(s.Networks)
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RunID < out[j].RunID })
	return out, nil
}

// WriteShops prints the shops and who owns each.
func WriteShops(w io.Writer, host string, shops []Shop) {
	if len(shops) == 0 {
		fmt.Fprintf(w, "docker %s: no faultline shop\n", host)
		return
	}
	fmt.Fprintf(w, "docker %s: %d faultline shop(s)\n", host, len(shops))
	for _, s := range shops {
		fmt.Fprintf(w, "  %s\n    %s\n", s, s.owner())
	}
}

// RemoveOrphanedShops removes every shop whose deploying process has
// ended, and says what it left and why: a shop whose owner runs belongs to
// that process; one without owner labels cannot be judged, and is named
// with the command that removes it. It returns how many shops it removed
// and an error naming those it could not remove.
func RemoveOrphanedShops(ctx context.Context, eng *docker.Engine, out io.Writer) (removed int, err error) {
	shops, err := FindShops(ctx, eng)
	if err != nil {
		return 0, fmt.Errorf("docker %s: find shops: %w", eng.Host(), err)
	}
	var errs []error
	for _, s := range shops {
		switch {
		case !s.OwnerKnown:
			fmt.Fprintf(out, "left %s: %s; if it is abandoned: docker rm -f $(docker ps -aq --filter label=%s=%s) && docker network rm %s\n",
				s, s.owner(), docker.LabelRun, s.RunID, strings.Join(s.Networks, " "))
		case !s.Orphaned():
			fmt.Fprintf(out, "left %s: %s\n", s, s.owner())
		default:
			if err := eng.RemoveByLabel(ctx, docker.LabelRun, s.RunID); err != nil {
				errs = append(errs, fmt.Errorf("remove orphaned %s: %w", s, err))
				fmt.Fprintf(out, "REMOVE FAILED %s: %v\n", s, err)
				continue
			}
			removed++
			fmt.Fprintf(out, "removed orphaned %s (%s)\n", s, s.owner())
		}
	}
	return removed, errors.Join(errs...)
}

// connectForShops connects to the environment's Docker Engine, or says on
// out that the shops could not be checked: no engine, no shop to find, but
// cleanup must not claim so.
func connectForShops(ctx context.Context, out io.Writer) *docker.Engine {
	eng, err := docker.Connect(ctx)
	if err != nil {
		fmt.Fprintf(out, "docker: shops not checked: %v\n", err)
		return nil
	}
	return eng
}

// CheckShops prints the shops on the environment's Docker Engine (for
// `faultline chaos status`).
func CheckShops(ctx context.Context, out io.Writer) error {
	eng := connectForShops(ctx, out)
	if eng == nil {
		return nil
	}
	defer eng.Close()
	shops, err := FindShops(ctx, eng)
	if err != nil {
		return fmt.Errorf("docker %s: find shops: %w", eng.Host(), err)
	}
	WriteShops(out, eng.Host(), shops)
	return nil
}

// CleanupShops removes the orphaned shops on the environment's Docker
// Engine (for `faultline chaos cleanup`); see RemoveOrphanedShops.
func CleanupShops(ctx context.Context, out io.Writer) (removed int, err error) {
	eng := connectForShops(ctx, out)
	if eng == nil {
		return 0, nil
	}
	defer eng.Close()
	return RemoveOrphanedShops(ctx, eng, out)
}
