// Package flags holds percentage rollouts with sticky bucketing and kill
// switches.
//
// [Bucket] places a key (a repository, a request id) in one of 10,000
// buckets, deterministically for a salt: the gateway splits canary traffic
// with the salt "canary:"+promotion id and samples shadow copies with
// "shadow:"+experiment id, so a key keeps its side for the life of a
// promotion or experiment and different ones split independently. A [Flag]
// enables the keys whose bucket is below its percentage, so raising the
// percentage only ever adds keys; a killed flag enables none.
//
// # Concurrency
//
// A [Set] is safe for concurrent use: readers load an immutable map through
// an atomic pointer and never wait; updates copy the map and swap it.
package flags

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"sync/atomic"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// Buckets is the number of buckets Bucket spreads keys over: one bucket is
// a hundredth of a percent.
const Buckets = 10000

// The kill switches the gateway reads.
const (
	// Canary stops sending user traffic to the canary when killed.
	Canary = "canary"
	// Shadow stops copying requests to experiments when killed.
	Shadow = "shadow"
)

// Bucket returns key's bucket in [0, Buckets) for salt: the 64-bit FNV-1a
// hash of salt, a zero byte and key, mixed by the MurmurHash3 finalizer,
// modulo Buckets. It is deterministic across processes and releases.
func Bucket(salt, key string) int {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(salt); i++ {
		h = (h ^ uint64(salt[i])) * prime
	}
	h *= prime // the separator: a zero byte
	for i := 0; i < len(key); i++ {
		h = (h ^ uint64(key[i])) * prime
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return int(h % Buckets)
}

// Flag is a percentage rollout with a kill switch.
type Flag struct {
	// Name identifies the flag: letters, digits and ._:- (up to 100).
	Name string `json:"name"`
	// Percent is the share of keys enabled, in [0, 100]; it is applied in
	// hundredths of a percent.
	Percent float64 `json:"percent"`
	// Killed turns the flag off for every key, whatever Percent says.
	Killed bool `json:"killed"`
	// Salt is hashed with each key; flags with different salts enable
	// independent sets of keys.
	Salt string `json:"salt"`
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$`)

// Validate reports an ErrInvalidInput error naming the first bad field.
func (f Flag) Validate() error {
	if !nameRE.MatchString(f.Name) {
		return fmt.Errorf("flag %q: %w: name must be 1-100 letters, digits or ._:-", f.Name, coordination.ErrInvalidInput)
	}
	if !(f.Percent >= 0 && f.Percent <= 100) {
		return fmt.Errorf("flag %q: %w: percent %v is not within 0-100", f.Name, coordination.ErrInvalidInput, f.Percent)
	}
	return nil
}

// threshold is the number of buckets enabled.
func (f Flag) threshold() int {
	if !(f.Percent > 0) {
		return 0
	}
	return int(math.Round(math.Min(f.Percent, 100) * Buckets / 100))
}

// Enabled reports whether the flag is on for key: never when killed,
// otherwise when key's bucket is below Percent hundredths of a percent.
func (f Flag) Enabled(key string) bool {
	return !f.Killed && Bucket(f.Salt, key) < f.threshold()
}

// Set holds named flags. Its zero value is empty and ready to use.
type Set struct {
	flags atomic.Pointer[map[string]Flag] // immutable once stored; nil means empty
}

// NewSet returns a set holding flags; it refuses an invalid flag.
func NewSet(flags ...Flag) (*Set, error) {
	s := &Set{}
	for _, f := range flags {
		if err := s.Put(f); err != nil {
			return nil, fmt.Errorf("new flag set: %w", err)
		}
	}
	return s, nil
}

func (s *Set) current() map[string]Flag {
	if m := s.flags.Load(); m != nil {
		return *m
	}
	return nil
}

// Get returns the named flag.
func (s *Set) Get(name string) (Flag, bool) {
	f, ok := s.current()[name]
	return f, ok
}

// Enabled reports whether the named flag is on for key; an unknown flag is
// off.
func (s *Set) Enabled(name, key string) bool {
	f, ok := s.current()[name]
	return ok && f.Enabled(key)
}

// Killed reports whether the named flag's kill switch is on; an unknown
// flag is not killed.
func (s *Set) Killed(name string) bool {
	return s.current()[name].Killed
}

// All returns every flag, sorted by name.
func (s *Set) All() []Flag {
	m := s.current()
	out := make([]Flag, 0, len(m))
	for _, name := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[name])
	}
	return out
}

// Put adds f or replaces the flag of the same name.
func (s *Set) Put(f Flag) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("put flag: %w", err)
	}
	s.update(func(m map[string]Flag) { m[f.Name] = f })
	return nil
}

// Delete removes the named flag; it is a no-op for an unknown name.
func (s *Set) Delete(name string) {
	s.update(func(m map[string]Flag) { delete(m, name) })
}

// update swaps in a changed copy of the map, retrying if another update
// won the race.
func (s *Set) update(change func(map[string]Flag)) {
	for {
		old := s.flags.Load()
		next := map[string]Flag{}
		if old != nil {
			maps.Copy(next, *old)
		}
		change(next)
		if s.flags.CompareAndSwap(old, &next) {
			return
		}
	}
}

// Key returns the store KV key of the named flag: "flags/" + name.
func Key(name string) string { return "flags/" + name }

// Decode parses a flag as stored by Save and validates it.
func Decode(data []byte) (Flag, error) {
	var f Flag
	if err := json.Unmarshal(data, &f); err != nil {
		return Flag{}, fmt.Errorf("decode flag: %w: %v", coordination.ErrInvalidInput, err)
	}
	if err := f.Validate(); err != nil {
		return Flag{}, fmt.Errorf("decode flag: %w", err)
	}
	return f, nil
}

// Load reads the named flags from the store (KV keys "flags/<name>") and
// puts each one found into the set; flags not stored are left as they are.
// Nothing changes when any stored flag is invalid.
func (s *Set) Load(ctx context.Context, r coordination.Reader, names ...string) error {
	var found []Flag
	for _, name := range names {
		data, err := r.KVGet(ctx, Key(name))
		if errors.Is(err, coordination.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("load flag %q: %w", name, err)
		}
		f, err := Decode(data)
		if err != nil {
			return fmt.Errorf("load flag %q: %w", name, err)
		}
		if f.Name != name {
			return fmt.Errorf("load flag %q: %w: stored flag is named %q", name, coordination.ErrInvalidInput, f.Name)
		}
		found = append(found, f)
	}
	s.update(func(m map[string]Flag) {
		for _, f := range found {
			m[f.Name] = f
		}
	})
	return nil
}

// Save writes every flag of the set to the store in tx, at time at.
func (s *Set) Save(ctx context.Context, tx coordination.Tx, at time.Time) error {
	for _, f := range s.All() {
		data, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("save flag %q: encode: %w", f.Name, err)
		}
		if err := tx.KVPut(ctx, Key(f.Name), data, at); err != nil {
			return fmt.Errorf("save flag %q: %w", f.Name, err)
		}
	}
	return nil
}
