package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tricyclehq/tricycle/coordination"
)

// TokenInsert stores a token; its hash is a separate, unique column (the
// token's JSON never carries it).
func (t *tx) TokenInsert(ctx context.Context, tok *coordination.Token) error {
	if tok.Hash == "" {
		return fmt.Errorf("insert token %q: %w: hash is empty", tok.ID, coordination.ErrInvalidInput)
	}
	return t.insert(ctx, row{kind: "token", table: "platform.tokens", id: tok.ID,
		cols: []string{"hash", "created_at", "revoked_at"},
		vals: []any{col(tok.Hash), tok.CreatedAt, nullTime(tok.RevokedAt)}, obj: tok})
}

// TokenRevoke sets the token's RevokedAt; revoking again keeps the first time.
func (t *tx) TokenRevoke(ctx context.Context, id string, at time.Time) error {
	tok, err := get[coordination.Token](ctx, t, "token", "platform.tokens", id)
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	if tok.Revoked() {
		return nil
	}
	tok.RevokedAt = at
	data, err := json.Marshal(tok)
	if err != nil {
		return fmt.Errorf("revoke token %q: encode: %w", id, err)
	}
	if _, err := t.Exec(ctx, "UPDATE platform.tokens SET revoked_at = $1, data = $2 WHERE id = $3", at, data, col(id)); err != nil {
		return fmt.Errorf("revoke token %q: %w", id, err)
	}
	return nil
}

// TokenGetByHash returns the token with this digest or an ErrNotFound error.
func (r reader) TokenGetByHash(ctx context.Context, hash string) (*coordination.Token, error) {
	var id string
	var data []byte
	err := r.q.QueryRow(ctx, "SELECT id, data FROM platform.tokens WHERE hash = $1", col(hash)).Scan(&id, &data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("token: %w", coordination.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get token: %w", err)
	}
	tok, err := decode[coordination.Token]("token", uncol(id), data)
	if err != nil {
		return nil, err
	}
	tok.Hash = hash
	return tok, nil
}

// TokenList returns every token, oldest first.
func (r reader) TokenList(ctx context.Context) ([]*coordination.Token, error) {
	rows, err := r.q.Query(ctx, "SELECT id, hash, data FROM platform.tokens ORDER BY created_at, id")
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	out := []*coordination.Token{}
	for rows.Next() {
		var id, hash string
		var data []byte
		if err := rows.Scan(&id, &hash, &data); err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		tok, err := decode[coordination.Token]("token", uncol(id), data)
		if err != nil {
			return nil, err
		}
		tok.Hash = uncol(hash)
		out = append(out, tok)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}
