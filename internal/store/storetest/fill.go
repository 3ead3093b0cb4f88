package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// base is the time every filled time.Time starts from.
var base = time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)

// filler sets every exported, JSON-visible field of a value to a distinct
// non-zero value, so that a round trip through a store shows any field the
// store drops or alters. A field of a type with its own JSON encoding keeps
// the filled value only if that value survives a JSON round trip by itself
// (an enum may refuse arbitrary strings); otherwise it is left zero.
type filler struct{ n int }

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
	anyType  = reflect.TypeFor[any]()
)

// fill returns a fully filled *T.
func fill[T any](f *filler) *T {
	v := new(T)
	f.value(reflect.ValueOf(v).Elem(), 0)
	return v
}

func (f *filler) next() int { f.n++; return f.n }

func (f *filler) value(v reflect.Value, depth int) {
	if depth > 6 {
		return
	}
	t := v.Type()
	switch {
	case t == timeType:
		n := f.next()
		v.Set(reflect.ValueOf(base.Add(time.Duration(n)*time.Hour + time.Duration(n)*time.Microsecond)))
		return
	case t == rawType:
		v.SetBytes(fmt.Appendf(nil, `{"n":%d}`, f.next()))
		return
	}
	switch t.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", f.next()))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(f.next()%100 + 1))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(f.next()%100 + 1))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(f.next()) + 0.25)
	case reflect.Interface:
		if t == anyType {
			v.Set(reflect.ValueOf(fmt.Sprintf("v%d", f.next())))
		}
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		f.value(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(t, 1, 1)
		f.value(s.Index(0), depth+1)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(t)
		k, e := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
		f.value(k, depth+1)
		f.value(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() || strings.HasPrefix(sf.Tag.Get("json"), "-") {
				continue
			}
			f.value(v.Field(i), depth+1)
		}
	}
	if custom(t) && !survivesJSON(v) {
		v.Set(reflect.Zero(t))
	}
}

// custom reports whether t has its own JSON or text encoding.
func custom(t reflect.Type) bool {
	if t == timeType || t == rawType {
		return false
	}
	for _, x := range []reflect.Type{t, reflect.PointerTo(t)} {
		if x.Implements(reflect.TypeFor[json.Marshaler]()) || x.Implements(reflect.TypeFor[json.Unmarshaler]()) {
			return true
		}
	}
	return false
}

// survivesJSON reports whether v encodes and decodes back to itself.
func survivesJSON(v reflect.Value) bool {
	raw, err := json.Marshal(v.Interface())
	if err != nil {
		return false
	}
	back := reflect.New(v.Type())
	if err := json.Unmarshal(raw, back.Interface()); err != nil {
		return false
	}
	return reflect.DeepEqual(back.Elem().Interface(), v.Interface())
}
