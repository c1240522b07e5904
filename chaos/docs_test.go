package chaos

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated tables of fault fields in docs/chaos.md")

const (
	chaosDoc      = "../docs/chaos.md"
	docsBegin     = "<!-- fault fields: generated from the kinds' structs by go test ./chaos -run TestDocsFaultTables -update; do not edit by hand -->\n"
	docsEnd       = "<!-- end of the generated fault fields -->\n"
	docsGroupHead = "#### "
)

// docGroups are the groups of kinds, in the order docs/chaos.md lists them.
var docGroups = []struct{ group, title string }{
	{GroupToxiproxy, "Network faults (Toxiproxy)"},
	{GroupContainer, "Container faults (Docker Engine)"},
	{GroupProcess, "Process faults"},
	{GroupPod, "Pod faults (Kubernetes)"},
	{GroupKubeService, "Service network faults (Kubernetes)"},
	{GroupService, "In-process service faults"},
}

// faultTables renders, for each group, the fields its kinds share and then
// each kind with its own fields, from the registry alone.
func faultTables() string {
	var b bytes.Buffer
	for _, g := range docGroups {
		var names []string
		for _, k := range Kinds() {
			if info, _ := DescribeKind(k); info.Group == g.group {
				names = append(names, k)
			}
		}
		if len(names) == 0 {
			continue
		}
		// A field is shared when two kinds of the group have it with the
		// same meaning.
		users := map[string][]string{}
		var order []string
		for _, k := range names {
			info, _ := DescribeKind(k)
			for _, f := range info.Fields {
				key := f.Name + "\x00" + f.Doc
				if users[key] == nil {
					order = append(order, key)
				}
				users[key] = append(users[key], k)
			}
		}
		fmt.Fprintf(&b, "%s%s\n\n", docsGroupHead, g.title)
		var shared []string
		for _, key := range order {
			if len(users[key]) > 1 {
				shared = append(shared, key)
			}
		}
		if len(shared) > 0 {
			b.WriteString("| field | flag | kinds | meaning |\n|---|---|---|---|\n")
			for _, key := range shared {
				f := fieldByKey(users[key][0], key)
				kinds := "`" + strings.Join(users[key], "`, `") + "`"
				if len(users[key]) == len(names) {
					kinds = "all"
				}
				fmt.Fprintf(&b, "| `%s` | `--%s` | %s | %s |\n", f.Name, f.Flag, kinds, fieldMeaning(f))
			}
			b.WriteString("\n")
		}
		b.WriteString("| kind | what it does | its own fields |\n|---|---|---|\n")
		for _, k := range names {
			info, _ := DescribeKind(k)
			var own []string
			for _, f := range info.Fields {
				if !slices.Contains(shared, f.Name+"\x00"+f.Doc) {
					own = append(own, fmt.Sprintf("`%s` (`--%s`): %s", f.Name, f.Flag, fieldMeaning(f)))
				}
			}
			if len(own) == 0 {
				own = []string{"(only the shared ones)"}
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", k, info.Summary, strings.Join(own, "<br>"))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func fieldByKey(kind, key string) Field {
	info, _ := DescribeKind(kind)
	for _, f := range info.Fields {
		if f.Name+"\x00"+f.Doc == key {
			return f
		}
	}
	panic("no field " + key)
}

// fieldMeaning is the doc, with the type, default and accepted values.
func fieldMeaning(f Field) string {
	s := fmt.Sprintf("%s; %s", strings.ReplaceAll(f.Doc, "|", `\|`), f.TypeName())
	if f.Repeatable() {
		s += ", repeatable"
	}
	if len(f.Enum) > 0 {
		s += ": " + strings.Join(f.Enum, ", ")
	}
	if f.Default != "" {
		s += fmt.Sprintf(" (default `%s`)", f.Default)
	}
	return s
}

// TestDocsFaultTables keeps the tables of fault kinds and fields in
// docs/chaos.md what the kinds' structs say; regenerate them with
// go test ./chaos -run TestDocsFaultTables -update.
func TestDocsFaultTables(t *testing.T) {
	raw, err := os.ReadFile(chaosDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	before, rest, ok := strings.Cut(doc, docsBegin)
	_, after, closed := strings.Cut(rest, docsEnd)
	if !ok || !closed {
		t.Fatalf("%s has no generated block (%q ... %q)", chaosDoc, docsBegin, docsEnd)
	}
	want := before + docsBegin + faultTables() + docsEnd + after
	if *update {
		if err := os.WriteFile(chaosDoc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if doc != want {
		t.Errorf("%s is stale: regenerate its fault tables with go test ./chaos -run TestDocsFaultTables -update", chaosDoc)
	}
	for _, k := range Kinds() {
		if !strings.Contains(want, "| `"+k+"` |") {
			t.Errorf("%s does not list kind %s", chaosDoc, k)
		}
	}
}
