package experiments

import (
	"fmt"
	"reflect"
)

// reflectValue returns the addressable value x points to, or a copy of x.
func reflectValue(x any) reflect.Value {
	v := reflect.ValueOf(x)
	if v.Kind() == reflect.Pointer {
		return v.Elem()
	}
	c := reflect.New(v.Type()).Elem()
	c.Set(v)
	return c
}

// walkStrings calls fn for every string inside v (through structs, slices,
// maps and pointers) with its path.
func walkStrings(v reflect.Value, path string, fn func(path, s string)) {
	switch v.Kind() {
	case reflect.String:
		fn(path, v.String())
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkStrings(v.Elem(), path, fn)
		}
	case reflect.Struct:
		fields := structFields(v.Type())
		for name, f := range fields {
			walkStrings(v.FieldByIndex(f.index), join(path, name), fn)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			walkStrings(v.Index(i), fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			walkStrings(iter.Value(), join(path, fmt.Sprint(iter.Key().Interface())), fn)
		}
	}
}

// resolveStrings replaces every string inside v (settable: through structs,
// slices, maps and pointers) with resolve of it.
func resolveStrings(v reflect.Value, resolve func(string) string) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(resolve(v.String()))
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			resolveStrings(v.Elem(), resolve)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				resolveStrings(v.Field(i), resolve)
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			resolveStrings(v.Index(i), resolve)
		}
	case reflect.Map:
		if v.Type().Elem().Kind() != reflect.String {
			return
		}
		iter := v.MapRange()
		updated := map[reflect.Value]string{}
		for iter.Next() {
			updated[iter.Key()] = resolve(iter.Value().String())
		}
		for k, s := range updated {
			v.SetMapIndex(k, reflect.ValueOf(s).Convert(v.Type().Elem()))
		}
	}
}
