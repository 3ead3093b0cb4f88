package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// testTokens: tokens are found by digest, listed oldest first with their
// digest, unique by digest, revoked once (the first time stays), and the
// digest never appears in a token's JSON.
func testTokens(t *testing.T, s coordination.Store) {
	ctx := t.Context()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	a := &coordination.Token{ID: "tok-a", Name: "alice", Role: coordination.RoleAdmin, Hash: strings.Repeat("a", 64), CreatedAt: at, CreatedBy: "bootstrap"}
	b := &coordination.Token{ID: "tok-b", Name: "bot", Role: coordination.RoleSystem, Hash: strings.Repeat("b", 64), CreatedAt: at.Add(time.Second)}
	tx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		if err := tx.TokenInsert(ctx, b); err != nil {
			return err
		}
		return tx.TokenInsert(ctx, a)
	})
	got, err := s.TokenGetByHash(ctx, a.Hash)
	if err != nil || got.ID != "tok-a" || got.Name != "alice" || got.Role != coordination.RoleAdmin || got.Hash != a.Hash || !got.CreatedAt.Equal(at) {
		t.Fatalf("TokenGetByHash = %+v, %v", got, err)
	}
	if _, err := s.TokenGetByHash(ctx, strings.Repeat("c", 64)); !errors.Is(err, coordination.ErrNotFound) {
		t.Fatalf("unknown digest: %v", err)
	}
	list, err := s.TokenList(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "tok-a" || list[1].Hash != b.Hash {
		t.Fatalf("TokenList = %+v, %v", list, err)
	}
	raw, _ := json.Marshal(list)
	if strings.Contains(string(raw), a.Hash) {
		t.Fatal("a token's JSON carries its digest")
	}
	dup := &coordination.Token{ID: "tok-c", Name: "c", Role: coordination.RoleUser, Hash: a.Hash, CreatedAt: at}
	if err := s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error { return tx.TokenInsert(ctx, dup) }); !errors.Is(err, coordination.ErrConflict) {
		t.Fatalf("duplicate digest: %v", err)
	}
	revoked := at.Add(time.Hour)
	tx(t, s, func(ctx context.Context, tx coordination.Tx) error { return tx.TokenRevoke(ctx, "tok-b", revoked) })
	tx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		return tx.TokenRevoke(ctx, "tok-b", revoked.Add(time.Hour))
	})
	got, err = s.TokenGetByHash(ctx, b.Hash)
	if err != nil || !got.RevokedAt.Equal(revoked) {
		t.Fatalf("revoked token = %+v, %v", got, err)
	}
	err = s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error { return tx.TokenRevoke(ctx, "tok-zz", revoked) })
	if !errors.Is(err, coordination.ErrNotFound) || !strings.Contains(err.Error(), "tok-zz") {
		t.Fatalf("revoking an unknown token: %v", err)
	}
}
