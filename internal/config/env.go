package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// EnvPrefix starts every environment variable the server reads.
const EnvPrefix = "TRICYCLE_"

// EnvAdminToken is the variable holding the admin token to create at the
// first start of an empty store.
const EnvAdminToken = EnvPrefix + "ADMIN_TOKEN"

// envAliases are short names for the most used keys.
var envAliases = []struct{ env, key string }{
	{EnvPrefix + "ADDR", "server.addr"},
	{EnvPrefix + "DB", "storage.dsn"},
	{EnvPrefix + "BUS", "bus.url"},
}

// Keys lists every key Set accepts, as dotted paths ("server.addr",
// "cycle.phases"). Lists and mappings are single keys whose value is YAML.
func Keys() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			path := joinPath(prefix, name)
			if f.Type.Kind() == reflect.Struct && !reflect.PointerTo(f.Type).Implements(textUnmarshaler) {
				walk(f.Type, path)
				continue
			}
			out = append(out, path)
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	return out
}

// EnvName returns the environment variable of a key: TRICYCLE_ followed by
// the key in upper case with dots as underscores ("cycle.shadow_percent" →
// TRICYCLE_CYCLE_SHADOW_PERCENT).
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Set sets the key (a dotted path from Keys) from its text form: a string,
// a number, a boolean or a duration as written in the file, or YAML for a
// list or a mapping ("[{percent: 10, duration: 1h}]"). A mapping of
// thresholds is merged with the current thresholds, as in a file.
func (c *Config) Set(key, value string) error {
	v := reflect.ValueOf(c).Elem()
	for part := range strings.SplitSeq(key, ".") {
		if v.Kind() != reflect.Struct {
			return fieldErr(key, "unknown key")
		}
		f, ok := fieldByYAML(v, part)
		if !ok {
			return fieldErr(key, "unknown key")
		}
		v = f
	}
	if v.Kind() == reflect.Struct && !reflect.PointerTo(v.Type()).Implements(textUnmarshaler) {
		return fieldErr(key, "is a section; set one of its keys")
	}
	if err := setValue(v, value); err != nil {
		return fieldErr(key, "%v", err)
	}
	return nil
}

func fieldByYAML(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		n, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if n == name && n != "-" && f.IsExported() {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func setValue(v reflect.Value, s string) error {
	if u, ok := v.Addr().Interface().(interface{ UnmarshalText([]byte) error }); ok {
		return u.UnmarshalText([]byte(s))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		v.SetInt(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%q is not a finite number", s)
		}
		v.SetFloat(f)
	case reflect.Slice, reflect.Map:
		if v.Kind() == reflect.Map && !v.IsNil() {
			// Decode into a copy: the map may be shared with another Config.
			m := reflect.MakeMapWithSize(v.Type(), v.Len())
			for it := v.MapRange(); it.Next(); {
				m.SetMapIndex(it.Key(), it.Value())
			}
			v.Set(m)
		}
		if err := decodeInto([]byte(s), v.Addr().Interface()); err != nil {
			return err
		}
	default:
		return fmt.Errorf("cannot be set from text")
	}
	return nil
}

// ApplyEnv returns cfg with the TRICYCLE_* variables that lookup finds
// applied: EnvName(key) for every key of Keys, the short forms
// TRICYCLE_ADDR (server.addr), TRICYCLE_DB (storage.dsn) and TRICYCLE_BUS
// (bus.url), and TRICYCLE_ADMIN_TOKEN. An empty variable counts as unset. A
// value that cannot be parsed is an error naming the variable; a short form
// that disagrees with its long form is an error too.
func ApplyEnv(cfg Config, lookup func(string) (string, bool)) (Config, error) {
	get := func(name string) (string, bool) {
		v, ok := lookup(name)
		return v, ok && v != ""
	}
	for _, key := range Keys() {
		name := EnvName(key)
		if v, ok := get(name); ok {
			if err := cfg.Set(key, v); err != nil {
				return Config{}, fmt.Errorf("environment %s: %w", name, err)
			}
		}
	}
	for _, a := range envAliases {
		v, ok := get(a.env)
		if !ok {
			continue
		}
		if long, ok := get(EnvName(a.key)); ok && long != v {
			return Config{}, fmt.Errorf("environment %s and %s disagree; set one of them", a.env, EnvName(a.key))
		}
		if err := cfg.Set(a.key, v); err != nil {
			return Config{}, fmt.Errorf("environment %s: %w", a.env, err)
		}
	}
	if v, ok := get(EnvAdminToken); ok {
		cfg.AdminToken = v
	}
	return cfg, nil
}
