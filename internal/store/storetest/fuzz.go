package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/tricyclehq/tricycle/coordination"
)

// Fuzz checks that arbitrary user-supplied text (ids, titles, blacklist keys,
// state blobs) is stored and found again exactly as JSON would carry it, or
// refused with ErrInvalidInput when an id is not UTF-8. s is shared by every
// input, so each input's ids get a unique prefix.
func Fuzz(f *testing.F, s coordination.Store) {
	for _, seed := range []struct {
		id, title string
		blob      []byte
	}{
		{"exp-1", "plain", []byte("{}")},
		{"", "empty id", nil},
		{"quote'\"; DROP TABLE x; --", "sql", []byte{0}},
		{"ünïcødé-🚲", "\x00nul\ninside", []byte{0xff, 0xfe}},
		{"%_*?[", "\xff invalid utf-8", []byte("")},
	} {
		f.Add(seed.id, seed.title, seed.blob)
	}
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, id, title string, blob []byte) {
		ctx := t.Context()
		uid := fmt.Sprintf("f%d-%s", n.Add(1), id)
		e := &coordination.Experiment{ID: uid, Title: title, State: coordination.ExperimentState(title),
			SuccessCriteria: map[string]string{id: title}}
		b := &coordination.BlacklistEntry{ID: uid, RecordID: id, Key: uid + title}
		err := s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error {
			return errors.Join(tx.ExperimentInsert(ctx, e), tx.BlacklistInsert(ctx, b), tx.KVPut(ctx, uid, blob, base))
		})
		if !utf8.ValidString(id) {
			if !errors.Is(err, coordination.ErrInvalidInput) {
				t.Fatalf("store with an id that is not UTF-8 %q: error %v, want ErrInvalidInput", uid, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("store %q: %v", uid, err)
		}
		want := jsonCopy(t, e)
		got, err := s.ExperimentGet(ctx, uid)
		if err != nil {
			t.Fatalf("get %q: %v", uid, err)
		}
		same(t, "experiment", got, want)
		list, err := s.ExperimentList(ctx, coordination.ExperimentFilter{States: []coordination.ExperimentState{e.State}})
		if err != nil || !containsID(list, uid) {
			t.Errorf("ExperimentList by state %q misses %q (err %v)", e.State, uid, err)
		}
		found, err := s.BlacklistFind(ctx, []string{b.Key})
		if err != nil || len(found) != 1 || found[0].ID != uid {
			t.Errorf("BlacklistFind(%q) = %v, %v; want the entry %q", b.Key, found, err, uid)
		}
		v, err := s.KVGet(ctx, uid)
		if err != nil || !bytes.Equal(v, blob) {
			t.Errorf("KVGet(%q) = %q, %v; want %q", uid, v, err, blob)
		}
	})
}

// jsonCopy returns what v becomes after a JSON round trip (invalid UTF-8
// turns into U+FFFD).
func jsonCopy[T any](t *testing.T, v *T) *T {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out := new(T)
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func containsID(list []*coordination.Experiment, id string) bool {
	for _, e := range list {
		if e.ID == id {
			return true
		}
	}
	return false
}
