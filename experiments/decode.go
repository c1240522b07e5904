package experiments

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/faultline-dev/faultline/internal/suggest"
)

// Pos is a place in the experiment file.
type Pos struct {
	Line, Column int
}

// Problem is one thing wrong with an experiment file, at a place in it.
type Problem struct {
	File string
	Pos  Pos
	Msg  string
}

func (p Problem) String() string {
	if p.Pos.Line == 0 {
		return fmt.Sprintf("%s: %s", p.File, p.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Pos.Line, p.Pos.Column, p.Msg)
}

// Problems is every problem found in a file, reported at once.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func (ps Problems) sorted() Problems {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i].Pos, ps[j].Pos
		return a.Line < b.Line || (a.Line == b.Line && a.Column < b.Column)
	})
	return ps
}

// decoder decodes a YAML node tree into Go values strictly: an unknown key
// is a problem (with the closest known key suggested), a value of the wrong
// type is a problem at that value, and decoding goes on after a problem so
// that every one is reported at once. It records where each field came
// from, keyed by its path ("phases[1].faults[0].proxy"), so that later
// checks can point at the right line and column.
type decoder struct {
	ctx      context.Context
	file     string
	problems Problems
	// unlisted counts the problems found past maxProblems, which are
	// counted rather than kept.
	unlisted int
	pos      map[string]Pos
	// failed holds the paths whose value could not be decoded, so that
	// later checks do not report them a second time, and failedWithin the
	// paths that hold such a value, whose checks would only report the
	// consequences.
	failed, failedWithin map[string]bool
	// aliasDepth is how many aliases the value being decoded is reached
	// through, and aliasValues how many values were decoded through one so
	// far: each alias is decoded again wherever it is used, so without a
	// bound a few kilobytes of nested aliases expand into billions of
	// values (the "billion laughs").
	aliasDepth, aliasValues int
	aliasOver               bool
	// steps counts calls of interrupted, which looks at ctx every so
	// often; done records that ctx was found done.
	steps int
	done  bool
}

// maxAliasValues bounds the values decoded through aliases in one file. An
// experiment that shares a few request or fault definitions through
// anchors stays far below it.
const maxAliasValues = 10000

// maxProblems is how many problems a file reports; the rest are counted.
// Each problem is one line for a person to read: past this many, the file
// is not an experiment with mistakes but something else.
const maxProblems = 100

func newDecoder(ctx context.Context, file string) *decoder {
	return &decoder{ctx: ctx, file: file, pos: map[string]Pos{}, failed: map[string]bool{}, failedWithin: map[string]bool{}}
}

func (d *decoder) addf(p Pos, format string, args ...any) {
	if len(d.problems) >= maxProblems {
		d.unlisted++
		return
	}
	d.problems = append(d.problems, Problem{File: d.file, Pos: p, Msg: fmt.Sprintf(format, args...)})
}

// interrupted reports whether the caller gave up (Ctrl-C). It looks at
// the context once every 256 calls, so that checking costs nothing
// measurable, and remembers what it saw.
func (d *decoder) interrupted() bool {
	if !d.done {
		d.steps++
		d.done = d.steps%256 == 0 && d.ctx.Err() != nil
	}
	return d.done
}

// result returns the problems in file order, the unlisted ones summed up
// in a last line.
func (d *decoder) result() Problems {
	ps := d.problems.sorted()
	if d.unlisted > 0 {
		ps = append(ps, Problem{File: d.file, Msg: fmt.Sprintf("%d more problems not listed (only the first %d are)", d.unlisted, maxProblems)})
	}
	return ps
}

func nodePos(n *yaml.Node) Pos { return Pos{n.Line, n.Column} }

var (
	unmarshalerType     = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	textUnmarshalerType = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

// isLeaf reports types decoded by yaml.v3 itself rather than walked.
func isLeaf(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return true
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Slice, reflect.Map, reflect.Pointer:
		return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8
	}
	return true
}

// nodeDecoder is a value whose fields depend on what the node says (a
// fault's depend on its kind): it decodes itself, with d for its parts.
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node, path string)
}

// decode fills v (addressable) from n, recording problems under path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.interrupted() {
		return
	}
	// at is where a problem with the value as a whole is reported: at the
	// alias that brought it here, if one did, rather than at its anchor.
	at := nodePos(n)
	if n.Kind == yaml.AliasNode {
		if !d.expandAlias(n, path) {
			return
		}
		d.aliasDepth++
		defer func() { d.aliasDepth-- }()
		n = n.Alias
	}
	if d.aliasDepth > 0 {
		d.aliasValues++
	}
	d.pos[path] = at
	if nd, ok := v.Addr().Interface().(nodeDecoder); ok {
		nd.decodeNode(d, n, path)
		return
	}
	t := v.Type()
	if isLeaf(t) {
		d.decodeLeaf(n, v, path, at)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if n.Tag == "!!null" {
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.fail(at, path, "want a mapping of %s, got %s", strings.Join(yamlFieldNames(t), ", "), describeNode(n))
			return
		}
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(at, path, "want a list, got %s", describeNode(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(at, path, "want a mapping, got %s", describeNode(n))
			return
		}
		d.decodeMap(n, v, path)
	}
}

// fail reports that the value at path could not be decoded, so that
// checks of it and of what contains it do not report its consequences.
func (d *decoder) fail(at Pos, path, format string, args ...any) {
	d.addf(at, "%s: %s", displayPath(path), fmt.Sprintf(format, args...))
	d.markFailed(path)
}

// markFailed records that path could not be decoded, and that each of its
// parents holds a value that could not.
func (d *decoder) markFailed(path string) {
	d.failed[path] = true
	for p := path; p != ""; {
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			p = ""
		} else {
			p = p[:i]
		}
		d.failedWithin[p] = true
	}
}

// decodeLeaf decodes a value yaml.v3 decodes itself. yaml.v3 truncates a
// number with a fraction into a whole-number field (seed: 1.5 would be
// 1), so such a value is refused here.
func (d *decoder) decodeLeaf(n *yaml.Node, v reflect.Value, path string, at Pos) {
	t := v.Type()
	if isWholeNumber(t) && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" {
		d.fail(at, path, "want %s, got %s", describeType(t), describeNode(n))
		return
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		d.fail(at, path, "%s", cleanYAMLError(err, t, n))
	}
}

func isWholeNumber(t reflect.Type) bool {
	return t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64 && t.String() != "time.Duration"
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	fields := structFields(t)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		name := key.Value
		f, ok := fields[name]
		if !ok {
			msg := fmt.Sprintf("%s: unknown field %q", displayPath(path), name)
			if best := suggest.Closest(name, yamlFieldNames(t)); best != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", best)
				// The value was most likely meant for best: what
				// follows from best missing is not a problem of its own.
				d.markFailed(join(path, best))
			} else {
				msg += fmt.Sprintf(" (known: %s)", strings.Join(yamlFieldNames(t), ", "))
			}
			d.addf(nodePos(key), "%s", msg)
			continue
		}
		if seen[name] {
			d.addf(nodePos(key), "%s: field %q given twice", displayPath(path), name)
			continue
		}
		seen[name] = true
		d.decode(val, v.FieldByIndex(f.index), join(path, name))
		d.pos[join(path, name)+"#key"] = nodePos(key)
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if v.IsNil() {
		v.Set(reflect.MakeMap(t))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		kv := reflect.New(t.Key()).Elem()
		if err := key.Decode(kv.Addr().Interface()); err != nil {
			d.addf(nodePos(key), "%s: key %q: %s", displayPath(path), key.Value, cleanYAMLError(err, t.Key(), key))
			d.markFailed(path)
			continue
		}
		if v.MapIndex(kv).IsValid() {
			d.addf(nodePos(key), "%s: key %q given twice", displayPath(path), key.Value)
			continue
		}
		ev := reflect.New(t.Elem()).Elem()
		p := join(path, key.Value)
		d.decode(val, ev, p)
		d.pos[p+"#key"] = nodePos(key)
		v.SetMapIndex(kv, ev)
	}
}

// expandAlias reports whether the alias n may be decoded: not once the
// values decoded through aliases reach maxAliasValues, which is reported
// once, at the alias where it happened.
func (d *decoder) expandAlias(n *yaml.Node, path string) bool {
	if d.aliasValues < maxAliasValues {
		return true
	}
	if !d.aliasOver {
		d.addf(nodePos(n), "%s: alias *%s: the aliases of this file expand to over %d values; write the values out, or use fewer aliases inside aliased values", displayPath(path), n.Value, maxAliasValues)
		d.aliasOver = true
	}
	d.markFailed(path)
	return false
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// displayPath names the top of the file for problems at its root, and
// drops the "#key" marker of paths that point at a mapping's key.
func displayPath(path string) string {
	if path == "" {
		return "experiment"
	}
	return strings.TrimSuffix(path, "#key")
}

type fieldInfo struct{ index []int }

// structFields maps YAML names to fields, flattening `,inline` structs.
func structFields(t reflect.Type) map[string]fieldInfo {
	out := map[string]fieldInfo{}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("yaml")
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(append([]int{}, prefix...), i)
			if strings.Contains(opts, "inline") {
				walk(f.Type, idx)
				continue
			}
			if name == "-" {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			out[name] = fieldInfo{index: idx}
		}
	}
	walk(t, nil)
	return out
}

func yamlFieldNames(t reflect.Type) []string {
	fs := structFields(t)
	names := make([]string, 0, len(fs))
	for n := range fs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return strconv.Quote(n.Value)
	}
}

var yamlLinePrefix = regexp.MustCompile(`^(yaml: )?(unmarshal errors:\s*)?(line \d+: )?`)

// cleanYAMLError turns yaml.v3's "line 3: cannot unmarshal !!str `abc` into
// time.Duration" into "want a duration like 30s, got "abc"" and similar,
// quoting the whole value from the node (yaml.v3 shortens it).
func cleanYAMLError(err error, t reflect.Type, n *yaml.Node) string {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = yamlLinePrefix.ReplaceAllString(strings.TrimSpace(msg), "")
	if strings.HasPrefix(msg, "cannot unmarshal") {
		return fmt.Sprintf("want %s, got %s", describeType(t), describeNode(n))
	}
	return msg
}

func describeType(t reflect.Type) string {
	switch {
	case t.String() == "time.Duration":
		return "a duration like 30s"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "a whole number"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Slice:
		return "a list"
	case t.Kind() == reflect.Map, t.Kind() == reflect.Struct:
		return "a mapping"
	default:
		return t.String()
	}
}
