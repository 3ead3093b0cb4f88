package coordination

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// memRevoked is the state of a revoked token's row.
const memRevoked = "revoked"

// The token's Hash is not part of its JSON (it must never reach an API
// response); the row keeps it in key.
func memTokenRow(t *Token) *memRow {
	r := &memRow{key: t.Hash, at: t.CreatedAt}
	if t.Revoked() {
		r.state = memRevoked
	}
	return r
}

// TokenInsert stores a token; its hash must be unique.
func (t *memTx) TokenInsert(_ context.Context, tok *Token) error {
	if tok.Hash == "" {
		return fmt.Errorf("insert token %q: %w: hash is empty", tok.ID, ErrInvalidInput)
	}
	dup := false
	if err := t.scan(memToken, func(r *memRow) { dup = dup || r.key == tok.Hash }); err != nil {
		return fmt.Errorf("insert token %q: %w", tok.ID, err)
	}
	if dup {
		return fmt.Errorf("insert token %q: hash already stored: %w", tok.ID, ErrConflict)
	}
	return t.put(memToken, tok.ID, nil, true, tok, memTokenRow(tok))
}

// TokenRevoke marks the token revoked at at (the first revocation stays).
func (t *memTx) TokenRevoke(_ context.Context, id string, at time.Time) error {
	r, err := t.row(memToken, id)
	if err != nil {
		return fmt.Errorf("revoke token %q: %w", id, err)
	}
	if r == nil {
		return fmt.Errorf("revoke: %w", notFound("token", id))
	}
	if r.state == memRevoked {
		return nil
	}
	var tok Token
	if err := json.Unmarshal(r.data, &tok); err != nil {
		return fmt.Errorf("revoke token %q: decode: %w", id, err)
	}
	tok.RevokedAt = at
	data, err := json.Marshal(&tok)
	if err != nil {
		return fmt.Errorf("revoke token %q: encode: %w", id, err)
	}
	nr := &memRow{id: id, data: data, key: r.key, at: r.at, state: memRevoked}
	t.rows[memToken][id] = nr
	return nil
}

func memTokenDecode(r *memRow) (*Token, error) {
	tok, err := memDecode[Token](memToken, r)
	if err != nil {
		return nil, err
	}
	tok.Hash = r.key
	return tok, nil
}

// TokenGetByHash returns the token with this digest or an ErrNotFound error.
func (v memView) TokenGetByHash(_ context.Context, hash string) (*Token, error) {
	var found *memRow
	if err := v.scan(memToken, func(r *memRow) {
		if r.key == hash {
			found = r
		}
	}); err != nil {
		return nil, fmt.Errorf("get token: %w", err)
	}
	if found == nil {
		return nil, fmt.Errorf("token: %w", ErrNotFound)
	}
	return memTokenDecode(found)
}

// TokenList returns every token, oldest first.
func (v memView) TokenList(ctx context.Context) ([]*Token, error) {
	var rows []*memRow
	if err := v.scan(memToken, func(r *memRow) { rows = append(rows, r) }); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	toks, err := memList[Token](v, memToken, memAll, memOldestFirst, 0)
	if err != nil {
		return nil, err
	}
	hash := make(map[string]string, len(rows))
	for _, r := range rows {
		hash[r.id] = r.key
	}
	for _, t := range toks {
		t.Hash = hash[t.ID]
	}
	return toks, nil
}
