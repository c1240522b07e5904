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
