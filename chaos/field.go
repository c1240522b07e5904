package chaos

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Field is one field of a fault kind's config, derived from the tags of
// the kind's struct:
//
//	Latency time.Duration `yaml:"latency" doc:"delay added to the data (required), such as 200ms"`
//
// yaml names the field (structs tagged `yaml:",inline"` share their fields,
// such as the proxy fields every network fault has), doc describes it for
// --help, the JSON Schema and docs/chaos.md, and the optional tags flag
// (the flag's name when it is not the YAML name with '-' for '_'),
// default (the value the kind uses when the field is left out, as written
// in YAML) and enum (the comma-separated values it accepts) say more.
type Field struct {
	Name    string
	Flag    string
	Doc     string
	Default string
	Enum    []string
	// Type is the field's Go type: what its YAML value decodes into.
	Type reflect.Type

	index []int
}

// fieldsOf lists the fields of a fault config type (a pointer to a
// struct) in declaration order, inline structs flattened. A field without
// a yaml name or a doc, or a name declared twice, is an error: the struct
// is the only description of its kind.
func fieldsOf(t reflect.Type) ([]Field, error) {
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("config type %s is not a pointer to a struct", t)
	}
	var out []Field
	seen := map[string]bool{}
	var walk func(t reflect.Type, prefix []int) error
	walk = func(t reflect.Type, prefix []int) error {
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			idx := append(append([]int{}, prefix...), i)
			name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			if strings.Contains(opts, "inline") {
				if err := walk(sf.Type, idx); err != nil {
					return err
				}
				continue
			}
			f := Field{Name: name, Flag: sf.Tag.Get("flag"), Doc: sf.Tag.Get("doc"), Default: sf.Tag.Get("default"), Type: sf.Type, index: idx}
			switch {
			case name == "" || name == "-":
				return fmt.Errorf("field %s has no yaml name", sf.Name)
			case f.Doc == "":
				return fmt.Errorf("field %s has no doc tag", name)
			case seen[name]:
				return fmt.Errorf("field %s is declared twice", name)
			}
			seen[name] = true
			if f.Flag == "" {
				f.Flag = strings.ReplaceAll(name, "_", "-")
			}
			if e := sf.Tag.Get("enum"); e != "" {
				f.Enum = strings.Split(e, ",")
			}
			out = append(out, f)
		}
		return nil
	}
	if err := walk(t.Elem(), nil); err != nil {
		return nil, err
	}
	return out, nil
}

// Repeatable reports whether the field takes many values on the command
// line, one per flag: a list, or a KEY=VALUE mapping.
func (f Field) Repeatable() bool {
	return f.Type.Kind() == reflect.Slice || f.Type.Kind() == reflect.Map
}

// IsBool reports whether the field is a switch (--restore, --restore=false).
func (f Field) IsBool() bool {
	t := f.Type
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Bool
}

// TypeName names the field's value for --help: "duration", "size",
// "string" and so on.
func (f Field) TypeName() string {
	t := f.Type
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if named, ok := reflect.New(t).Interface().(interface{ Type() string }); ok {
		return named.Type() // Size, ByteRate: as flags (pflag.Value) name themselves
	}
	switch {
	case t.String() == "time.Duration":
		return "duration"
	case t.Kind() == reflect.Map:
		return "key=value"
	case t.Kind() == reflect.Slice:
		return t.Elem().Kind().String()
	case t.Kind() == reflect.Float64:
		return "number"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "int"
	}
	return t.Kind().String()
}

// Set sets the field of f from one command-line value, parsed as the same
// value in YAML would be: "200ms", "64KiB", "0.5". A list field gets the
// value appended; a mapping field takes KEY=VALUE (or KEY, for an empty
// value).
func (f Field) Set(fault Fault, value string) error {
	v := reflect.ValueOf(fault).Elem().FieldByIndex(f.index)
	switch v.Kind() {
	case reflect.Map:
		k, val, _ := strings.Cut(value, "=")
		if k == "" {
			return fmt.Errorf("%q: want KEY=VALUE or KEY", value)
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		v.SetMapIndex(reflect.ValueOf(k), reflect.ValueOf(val))
		return nil
	case reflect.Slice:
		item := reflect.New(v.Type().Elem())
		if err := decodeScalar(value, item.Interface()); err != nil {
			return err
		}
		v.Set(reflect.Append(v, item.Elem()))
		return nil
	}
	target := reflect.New(v.Type())
	if err := decodeScalar(value, target.Interface()); err != nil {
		return err
	}
	v.Set(target.Elem())
	return nil
}

// Value returns the field's value in f as it would be written in YAML, or
// "" when it is not set.
func (f Field) Value(fault Fault) string {
	v := reflect.ValueOf(fault).Elem().FieldByIndex(f.index)
	if v.IsZero() {
		return ""
	}
	raw, err := yaml.Marshal(v.Interface())
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(raw))
}

// decodeScalar decodes a plain scalar into target as yaml.v3 would in a
// file, so that the command line and the YAML accept the same values.
func decodeScalar(value string, target any) error {
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: value}
	if reflect.TypeOf(target).Elem().Kind() == reflect.String {
		n.Tag = "!!str" // "yes" or "123" are strings here
	}
	if err := n.Decode(target); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			return fmt.Errorf("%q: not a %s", value, reflect.TypeOf(target).Elem())
		}
		return err
	}
	return nil
}
