package experiments

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	goparser "go/parser"
	gotoken "go/token"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/faultline-dev/faultline/chaos"
)

var update = flag.Bool("update", false, "rewrite golden files (schema/experiment.schema.json) from the current code")

// schemaFile is the shipped schema, at the root of the repository.
const schemaFile = "../schema/experiment.schema.json"

// descriptionSources are the Go files that declare Experiment and every
// type it contains.
// (a fault kind's fields describe themselves, in their doc tags).
var descriptionSources = append([]string{"schema.go", "../targets/config.go"}, probeSources()...)

// probeSources are the files of the probe kinds, which declare their
// structs.
func probeSources() []string {
	files, _ := filepath.Glob("probe_*.go")
	var out []string
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			out = append(out, f)
		}
	}
	return out
}

// schemaDescriptions reads the doc comments of the struct types in
// descriptionSources and of their fields, keyed by "TypeName" and
// "TypeName.FieldName". The binary cannot read Go source, so the shipped
// schema gets its descriptions here.
func schemaDescriptions(t *testing.T) map[string]string {
	t.Helper()
	fset := gotoken.NewFileSet()
	out := map[string]string{}
	add := func(key string, doc *ast.CommentGroup) {
		if doc == nil {
			return
		}
		if _, dup := out[key]; dup {
			t.Fatalf("doc comments: %s is declared twice in %v", key, descriptionSources)
		}
		out[key] = strings.Join(strings.Fields(doc.Text()), " ")
	}
	for _, file := range descriptionSources {
		f, err := goparser.ParseFile(fset, file, nil, goparser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != gotoken.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				doc := ts.Doc
				if doc == nil && len(gd.Specs) == 1 {
					doc = gd.Doc
				}
				add(ts.Name.Name, doc)
				for _, field := range st.Fields.List {
					for _, name := range field.Names {
						add(ts.Name.Name+"."+name.Name, field.Doc)
					}
				}
			}
		}
	}
	return out
}

// TestJSONSchema regenerates the schema from the types and their doc
// comments and compares it with the shipped file, so that the file cannot
// go stale: change a type, then run
// go test ./experiments -run TestJSONSchema -update.
func TestJSONSchema(t *testing.T) {
	t.Parallel()
	desc := schemaDescriptions(t)
	got, err := jsonSchema(desc)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(schemaFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v (generate it with go test ./experiments -run TestJSONSchema -update)", err)
	}
	if !bytes.Equal(got, want) {
		g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		line := 0
		for line < len(g) && line < len(w) && g[line] == w[line] {
			line++
		}
		at := func(lines []string) string {
			if line < len(lines) {
				return lines[line]
			}
			return "(end of file)"
		}
		t.Errorf("%s is stale: regenerate it with go test ./experiments -run TestJSONSchema -update\nfirst difference at line %d:\n  file:      %s\n  generated: %s",
			schemaFile, line+1, at(w), at(g))
	}

	var schema map[string]any
	if err := json.Unmarshal(got, &schema); err != nil {
		t.Fatalf("the schema is not JSON: %v", err)
	}
	// The descriptions come through, from every source file.
	props := func(def string) map[string]any {
		s := schema
		if def != "" {
			s = schema["$defs"].(map[string]any)[def].(map[string]any)
		}
		return s["properties"].(map[string]any)
	}
	for _, c := range []struct{ def, field, key, kind string }{
		{"", "name", "Experiment.Name", ""},
		{"LoadSpec", "rate", "LoadSpec.Rate", ""},
		{"TargetsSpec", "seed", "Config.Seed", ""},
		{"StoreConfig", "products", "StoreConfig.Products", ""},
		{"FaultSpec", "proxy", "", "latency"},
		{"FaultSpec", "mode", "", "kill"},
		{"FaultSpec", "timeout", "", "stop"},
		{"FaultSpec", "timeout", "", "reset_peer"},
	} {
		p := props(c.def)[c.field].(map[string]any)
		d, _ := p["description"].(string)
		if c.key != "" && (desc[c.key] == "" || !strings.HasPrefix(d, desc[c.key])) {
			t.Errorf("%s.%s: description %q, want the doc comment of %s (%q)", c.def, c.field, d, c.key, desc[c.key])
		}
		if c.def == "FaultSpec" && !strings.Contains(d, "Fault kinds: ") {
			t.Errorf("%s.%s: description %q does not say which fault kinds use it", c.def, c.field, d)
		}
		if c.def == "FaultSpec" {
			info, _ := chaos.DescribeKind(c.kind)
			for _, f := range info.Fields {
				if f.Name == c.field && !strings.Contains(d, f.Doc) {
					t.Errorf("%s.%s: description %q, want the doc tag of %s's field (%q)", c.def, c.field, d, c.kind, f.Doc)
				}
			}
		}
	}
	if d := schema["description"]; d != desc["Experiment"] {
		t.Errorf("root description %q, want the doc comment of Experiment", d)
	}
}

// TestJSONSchemaMatchesDecoder checks that every object of the schema has
// exactly the fields the strict decoder knows, inline structs flattened.
func TestJSONSchemaMatchesDecoder(t *testing.T) {
	t.Parallel()
	raw, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	defs := schema["$defs"].(map[string]any)
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	structs := map[string]reflect.Type{}
	walk = func(typ reflect.Type) {
		if seen[typ] || isLeaf(typ) {
			return
		}
		seen[typ] = true
		switch typ.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map:
			walk(typ.Elem())
		case reflect.Struct:
			structs[typ.Name()] = typ
			for _, f := range structFields(typ) {
				walk(typ.FieldByIndex(f.index).Type)
			}
		}
	}
	walk(reflect.TypeOf(Experiment{}))
	for _, k := range probeKinds {
		walk(reflect.TypeOf(k.newCheck()))
	}
	if len(structs) < 20 {
		t.Fatalf("found %d struct types under Experiment, want every one (over 20)", len(structs))
	}
	for name, typ := range structs {
		s := schema
		if name != "Experiment" {
			d, ok := defs[name].(map[string]any)
			if !ok {
				t.Errorf("$defs has no %s", name)
				continue
			}
			s = d
		}
		var got []string
		for k := range s["properties"].(map[string]any) {
			got = append(got, k)
		}
		sort.Strings(got)
		want := yamlFieldNames(typ)
		if name == "ProbeSpec" {
			want = append(want, probeKindNames()...)
			sort.Strings(want)
		}
		if name == "FaultSpec" {
			// Besides kind, at and for, a fault has every kind's fields.
			for _, k := range chaos.Kinds() {
				info, _ := chaos.DescribeKind(k)
				for _, f := range info.Fields {
					if !slices.Contains(want, f.Name) {
						want = append(want, f.Name)
					}
				}
			}
			sort.Strings(want)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: schema properties %v, decoder fields %v", name, got, want)
		}
		if s["additionalProperties"] != false {
			t.Errorf("%s: additionalProperties is %v, want false (the decoder is strict)", name, s["additionalProperties"])
		}
	}
}

// TestExamplesMatchJSONSchema validates every example experiment against
// the schema, as an editor would.
func TestExamplesMatchJSONSchema(t *testing.T) {
	t.Parallel()
	v := newSchemaValidator(t, schemaDescriptions(t))
	files, err := filepath.Glob("../examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no examples/*.yaml to validate")
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, e := range v.validate(doc) {
			t.Errorf("%s: %s", file, e)
		}
	}
}

// TestDocExampleMatchesJSONSchema keeps the annotated example of
// docs/experiments.md honest: it must load, and match the schema.
func TestDocExampleMatchesJSONSchema(t *testing.T) {
	t.Parallel()
	const doc = "../docs/experiments.md"
	raw, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), "## The file at a glance\n\n```yaml\n")
	example, _, closed := strings.Cut(rest, "```")
	if !ok || !closed {
		t.Fatalf("%s: no yaml block under \"## The file at a glance\"", doc)
	}
	if _, err := Parse([]byte(example), doc, Options{}); err != nil {
		t.Errorf("the example does not load:\n%v", err)
	}
	var v any
	if err := yaml.Unmarshal([]byte(example), &v); err != nil {
		t.Fatal(err)
	}
	for _, e := range newSchemaValidator(t, nil).validate(v) {
		t.Errorf("%s: %s", doc, e)
	}
}

// TestSchemaValidator tests the validator itself, and that the schema
// rejects nothing the decoder accepts: every document the schema refuses,
// Parse refuses too.
func TestSchemaValidator(t *testing.T) {
	t.Parallel()
	v := newSchemaValidator(t, nil)
	const base = `name: x
load:
  rate: 10/s
  requests:
    - url: http://127.0.0.1:1/
proxies:
  - name: p
    upstream: 127.0.0.1:1
phases:
  - name: a
    duration: 5s
`
	cases := []struct {
		name string
		doc  string
		want string // a substring of the first problem; "" for none
	}{
		{"minimal", base, ""},
		{"full", `name: full
seed: 7
targets:
  shop: true
  only: [store, catalog]
  catalog:
    cache:
      ttl: 1m
  store:
    service_time:
      distribution: fixed
      fixed: 5ms
proxies:
  - name: store
    link: catalog->store
load:
  rate: 1.5k/s
  timeout: 2s
  requests:
    - name: read
      url: ${targets.catalog}/products/p001
      headers: {X-Client-Key: a}
      weight: 2
  thresholds: ["p99 < 1s"]
steady_state:
  probes:
    - expect: p99 < 100ms
    - http: {url: "${targets.store}/readyz", status: 200, max_latency: 1s}
phases:
  - name: baseline
    duration: 10s
  - name: slow
    duration: 10s
    faults:
      - kind: latency
        proxy: store
        latency: 100ms
        at: 2s
        for: 5s
      - kind: bandwidth
        proxy: store
        rate: 100KB/s
      - kind: limit_data
        proxy: store
        bytes: 4096
hypothesis:
  slow: [p99 < 2 * baseline.p99]
abort: [error_rate < 50% over 5s]
report: {formats: [text, html]}
`, ""},
		{"unknown top-level field", base + "hypothesys: {}\n", `experiment: unknown field "hypothesys"`},
		{"unknown nested field", base + "    faults:\n      - kind: latency\n        proxy: p\n        latncy: 1s\n", `phases[0].faults[0]: unknown field "latncy"`},
		{"unknown shop field", base + "targets:\n  shop: true\n  catalgo: {}\n", `targets: unknown field "catalgo"`},
		{"wrong type", strings.Replace(base, "duration: 5s", "duration: [5s]", 1), "phases[0].duration: want string, got array"},
		{"duration without unit", strings.Replace(base, "duration: 5s", "duration: 5", 1), "phases[0].duration: want string, got integer"},
		{"duration pattern", strings.Replace(base, "duration: 5s", "duration: five seconds", 1), `phases[0].duration: "five seconds" does not match`},
		{"rate pattern", strings.Replace(base, "rate: 10/s", "rate: 10 per second", 1), `load.rate: "10 per second" does not match`},
		{"enum", base + "    faults:\n      - kind: latenzy\n        proxy: p\n", `phases[0].faults[0].kind: "latenzy" is not one of`},
		{"enum of list items", base + "report:\n  formats: [pdf]\n", `report.formats[0]: "pdf" is not one of`},
		{"required", strings.Replace(base, "    duration: 5s\n", "", 1), `phases[0]: missing required field "duration"`},
		{"min items", strings.Replace(base, "phases:\n  - name: a\n    duration: 5s\n", "phases: []\n", 1), "phases: want at least 1 items, got 0"},
		{"hypothesis is lists", base + "hypothesis:\n  a: p99 < 1s\n", "hypothesis.a: want array, got string"},
		{"negative size", base + "    faults:\n      - kind: limit_data\n        proxy: p\n        bytes: -1\n", "phases[0].faults[0].bytes: -1 is below the minimum 0"},
		{"field of another kind", base + "    faults:\n      - kind: latency\n        proxy: p\n        rate: 100KB/s\n", `phases[0].faults[0]: unknown field "rate"`},
		{"field of another kind, valid for its own", base + "    faults:\n      - kind: bandwidth\n        proxy: p\n        rate: 100KB/s\n", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var doc any
			if err := yaml.Unmarshal([]byte(c.doc), &doc); err != nil {
				t.Fatal(err)
			}
			problems := v.validate(doc)
			switch {
			case c.want == "" && len(problems) > 0:
				t.Fatalf("valid document rejected: %v", problems)
			case c.want != "" && len(problems) == 0:
				t.Fatalf("document accepted, want a problem like %q", c.want)
			case c.want != "" && !strings.Contains(problems[0], c.want):
				t.Fatalf("problems %q, want first one with %q", problems, c.want)
			}
			_, err := Parse([]byte(c.doc), c.name+".yaml", Options{})
			if c.want != "" && err == nil {
				t.Errorf("the schema rejects what faultline accepts (%s)", problems[0])
			}
			if c.want == "" && err != nil {
				t.Errorf("faultline rejects a document the schema accepts: %v", err)
			}
		})
	}
}

// schemaValidator checks a document decoded from YAML against the subset
// of JSON Schema that jsonSchema emits; a keyword outside that subset is a
// test failure, so the validator cannot silently ignore what it does not
// check.
type schemaValidator struct {
	t    *testing.T
	root map[string]any
}

func newSchemaValidator(t *testing.T, descriptions map[string]string) *schemaValidator {
	t.Helper()
	raw, err := jsonSchema(descriptions)
	if err != nil {
		t.Fatal(err)
	}
	v := &schemaValidator{t: t}
	if err := json.Unmarshal(raw, &v.root); err != nil {
		t.Fatal(err)
	}
	return v
}

// validate returns every problem with doc, each as "path: message".
func (v *schemaValidator) validate(doc any) []string {
	var problems []string
	v.check(v.root, doc, "", &problems)
	return problems
}

var knownKeywords = map[string]bool{
	"$schema": true, "$id": true, "$defs": true, "$ref": true, "title": true, "description": true,
	"examples": true, "default": true, "type": true, "enum": true, "pattern": true, "minimum": true,
	"minItems": true, "properties": true, "additionalProperties": true, "required": true, "items": true,
	"allOf": true, "if": true, "then": true, "const": true,
}

func (v *schemaValidator) check(s map[string]any, x any, path string, problems *[]string) {
	where := path
	if where == "" {
		where = "experiment"
	}
	bad := func(format string, args ...any) {
		*problems = append(*problems, where+": "+fmt.Sprintf(format, args...))
	}
	for k := range s {
		if !knownKeywords[k] {
			v.t.Fatalf("the validator does not know the keyword %q (at %s)", k, where)
		}
	}
	if ref, ok := s["$ref"].(string); ok {
		name, found := strings.CutPrefix(ref, "#/$defs/")
		def, ok := v.root["$defs"].(map[string]any)[name].(map[string]any)
		if !found || !ok {
			v.t.Fatalf("unresolvable $ref %q", ref)
		}
		v.check(def, x, path, problems)
	}
	if typ, ok := s["type"]; ok {
		types, ok := typ.([]any)
		if !ok {
			types = []any{typ}
		}
		if !slices.ContainsFunc(types, func(t any) bool { return jsonType(x, t.(string)) }) {
			bad("want %s, got %s", strings.Trim(fmt.Sprint(types), "[]"), jsonTypeOf(x))
			return
		}
	}
	if c, ok := s["const"]; ok && c != x {
		bad("%q is not %q", x, c)
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, x) {
		bad("%q is not one of %v", x, enum)
	}
	if pattern, ok := s["pattern"].(string); ok {
		if str, isString := x.(string); isString && !regexp.MustCompile(pattern).MatchString(str) {
			bad("%q does not match %s", str, pattern)
		}
	}
	if minimum, ok := s["minimum"].(float64); ok {
		if n, isNumber := number(x); isNumber && n < minimum {
			bad("%v is below the minimum %v", x, minimum)
		}
	}
	if items, ok := x.([]any); ok {
		if n, ok := s["minItems"].(float64); ok && float64(len(items)) < n {
			bad("want at least %v items, got %d", n, len(items))
		}
		if is, ok := s["items"].(map[string]any); ok {
			for i, item := range items {
				v.check(is, item, fmt.Sprintf("%s[%d]", path, i), problems)
			}
		}
	}
	if m, ok := asObject(x); ok {
		props, _ := s["properties"].(map[string]any)
		for _, r := range asList(s["required"]) {
			if _, ok := m[r.(string)]; !ok {
				bad("missing required field %q", r)
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub := join(path, k)
			if p, ok := props[k].(map[string]any); ok {
				v.check(p, m[k], sub, problems)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					bad("unknown field %q", k)
				}
			case map[string]any:
				v.check(ap, m[k], sub, problems)
			}
		}
	}
	v.checkRules(s, x, path, problems)
}

// checkRules applies allOf and if/then: every subschema of allOf, and
// then wherever the document matches if.
func (v *schemaValidator) checkRules(s map[string]any, x any, path string, problems *[]string) {
	for _, sub := range asList(s["allOf"]) {
		v.check(sub.(map[string]any), x, path, problems)
	}
	cond, ok := s["if"].(map[string]any)
	if !ok {
		return
	}
	var unmet []string
	v.check(cond, x, path, &unmet)
	if then, ok := s["then"].(map[string]any); ok && len(unmet) == 0 {
		v.check(then, x, path, problems)
	}
}

func asList(x any) []any {
	l, _ := x.([]any)
	return l
}

// asObject accepts both map forms yaml.v3 decodes a mapping into.
func asObject(x any) (map[string]any, bool) {
	switch m := x.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := map[string]any{}
		for k, v := range m {
			out[fmt.Sprint(k)] = v
		}
		return out, true
	}
	return nil, false
}

func number(x any) (float64, bool) {
	switch n := x.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func jsonType(x any, typ string) bool {
	switch typ {
	case "object":
		_, ok := asObject(x)
		return ok
	case "array":
		_, ok := x.([]any)
		return ok
	case "string":
		_, ok := x.(string)
		return ok
	case "boolean":
		_, ok := x.(bool)
		return ok
	case "number":
		_, ok := number(x)
		return ok
	case "integer":
		n, ok := number(x)
		return ok && n == math.Trunc(n)
	}
	return false
}

func jsonTypeOf(x any) string {
	for _, typ := range []string{"object", "array", "string", "boolean", "integer", "number"} {
		if jsonType(x, typ) {
			return typ
		}
	}
	if x == nil {
		return "null"
	}
	return fmt.Sprintf("%T", x)
}

// TestJSONSchemaFaultFieldsPerKind checks, for every fault kind and every
// field any kind has, that the schema allows the field in a `faults:` entry
// of that kind exactly when the kind has it (or it is kind, at or for), as
// the decoder does.
func TestJSONSchemaFaultFieldsPerKind(t *testing.T) {
	t.Parallel()
	v := newSchemaValidator(t, nil)
	faultSpec, _ := v.root["$defs"].(map[string]any)["FaultSpec"].(map[string]any)
	union, _ := faultSpec["properties"].(map[string]any)
	if len(union) == 0 {
		t.Fatal("no FaultSpec properties in the schema")
	}
	for _, kind := range chaos.Kinds() {
		info, _ := chaos.DescribeKind(kind)
		own := map[string]bool{"kind": true, "at": true, "for": true}
		for _, f := range info.Fields {
			own[f.Name] = true
		}
		for field := range union {
			entry := map[string]any{"kind": kind, field: nil}
			var problems []string
			v.check(faultSpec, entry, "fault", &problems)
			refused := slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, fmt.Sprintf("unknown field %q", field)) })
			if allowed := !refused; allowed != own[field] {
				t.Errorf("kind %s, field %s: the schema allows it: %v, the kind has it: %v (%v)", kind, field, allowed, own[field], problems)
			}
		}
	}
}
