package experiments

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/faultline-dev/faultline/chaos"
)

// schemaFaultField is one field name of the fault kinds, with every kind that
// has it; kinds may describe a shared name differently (timeout).
type schemaFaultField struct {
	field chaos.Field
	kinds []string
	docs  []string // distinct descriptions, in kind order
	docOf map[string][]string
}

// faultFields are the properties of a `faults:` entry besides kind, at and
// for: every field of every registered kind, each described by its kinds'
// structs, in the order the kinds declare them.
func (g *schemaGen) faultFields() (object, error) {
	var order []string
	byName := map[string]*schemaFaultField{}
	for _, name := range chaos.Kinds() {
		info, _ := chaos.DescribeKind(name)
		for _, f := range info.Fields {
			ff, ok := byName[f.Name]
			if !ok {
				ff = &schemaFaultField{field: f, docOf: map[string][]string{}}
				byName[f.Name] = ff
				order = append(order, f.Name)
			}
			if ff.field.Type != f.Type {
				return nil, fmt.Errorf("json schema: fault field %s is a %s in %s but a %s in %s", f.Name, f.Type, name, ff.field.Type, ff.kinds[0])
			}
			ff.kinds = append(ff.kinds, name)
			if !slices.Contains(ff.docs, f.Doc) {
				ff.docs = append(ff.docs, f.Doc)
			}
			ff.docOf[f.Doc] = append(ff.docOf[f.Doc], name)
		}
	}
	var props object
	for _, name := range order {
		p, err := g.faultFieldSchema(byName[name])
		if err != nil {
			return nil, err
		}
		props = append(props, member{name, p})
	}
	return props, nil
}

func (g *schemaGen) faultFieldSchema(ff *schemaFaultField) (object, error) {
	f := ff.field
	key := "fault." + f.Name
	g.used[key] = true
	s, err := g.typeSchema(f.Type, reflect.Value{})
	if err != nil {
		return nil, fmt.Errorf("json schema: %s: %w", key, err)
	}
	var desc []string
	for _, d := range ff.docs {
		if len(ff.docs) == 1 {
			desc = append(desc, d+".")
		} else {
			desc = append(desc, strings.Join(ff.docOf[d], ", ")+": "+d+".")
		}
	}
	desc = append(desc, "Fault kinds: "+strings.Join(ff.kinds, ", ")+".")
	p := object{{"description", strings.Join(desc, " ")}}
	p = append(p, s...)
	enum := f.Enum
	if e, ok := schemaEnums()[key]; ok {
		enum = e
	}
	if len(enum) > 0 {
		p = append(p, member{"enum", toAny(enum)})
	}
	if f.Default != "" {
		t := f.Type
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		v := reflect.New(t)
		if err := yaml.Unmarshal([]byte(f.Default), v.Interface()); err != nil {
			return nil, fmt.Errorf("json schema: %s: default %q: %w", key, f.Default, err)
		}
		if d, ok := defaultOf(v.Elem()); ok {
			p = append(p, member{"default", d})
		}
	}
	return p, nil
}

// faultKindRules restrict a `faults:` entry to the fields of its kind. The
// entry's properties are every kind's fields together, so that an editor
// completes and describes them all; then one rule per kind allows only the
// entry's own fields (own: kind, at, for) and that kind's, so that an
// editor flags a field the chosen kind does not have, as the decoder does.
func faultKindRules(own []schemaField) []any {
	var rules []any
	for _, name := range chaos.Kinds() {
		info, _ := chaos.DescribeKind(name)
		allowed := object{}
		for _, f := range own {
			allowed = append(allowed, member{f.name, object{}})
		}
		for _, f := range info.Fields {
			allowed = append(allowed, member{f.Name, object{}})
		}
		rules = append(rules, object{
			{"if", object{{"properties", object{{"kind", object{{"const", name}}}}}, {"required", []any{"kind"}}}},
			{"then", object{{"properties", allowed}, {"additionalProperties", false}}},
		})
	}
	return rules
}
