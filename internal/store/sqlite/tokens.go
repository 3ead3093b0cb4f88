package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// TokenInsert stores a token; its hash is a separate, unique column (the
// token's JSON never carries it).
func (t *tx) TokenInsert(ctx context.Context, tok *coordination.Token) error {
	if tok.Hash == "" {
		return fmt.Errorf("insert token %q: %w: hash is empty", tok.ID, coordination.ErrInvalidInput)
	}
	return t.insert(ctx, row{kind: "token", table: "platform_tokens", id: tok.ID,
		cols: []string{"hash", "created_at", "revoked_at"},
		vals: []any{tok.Hash, ts(tok.CreatedAt), nullTS(tok.RevokedAt)}, obj: tok})
}

// TokenRevoke sets the token's RevokedAt; revoking again keeps the first time.
func (t *tx) TokenRevoke(ctx context.Context, id string, at time.Time) error {
	tok, err := get[coordination.Token](ctx, t.q, "token", "platform_tokens", id)
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	if tok.Revoked() {
		return nil
	}
	tok.RevokedAt = at
	data, err := jsonString(tok)
	if err != nil {
		return fmt.Errorf("revoke token %q: %w", id, err)
	}
	if _, err := t.q.ExecContext(ctx, "UPDATE platform_tokens SET revoked_at = ?, data = ? WHERE id = ?", ts(at), data, id); err != nil {
		return fmt.Errorf("revoke token %q: %w", id, err)
	}
	return nil
}

// TokenGetByHash returns the token with this digest or an ErrNotFound error.
func (r reader) TokenGetByHash(ctx context.Context, hash string) (*coordination.Token, error) {
	var id string
	var data []byte
	err := r.q.QueryRowContext(ctx, "SELECT id, data FROM platform_tokens WHERE hash = ?", hash).Scan(&id, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("token: %w", coordination.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get token: %w", err)
	}
	tok, err := decode[coordination.Token]("token", id, data)
	if err != nil {
		return nil, err
	}
	tok.Hash = hash
	return tok, nil
}

// TokenList returns every token, oldest first.
func (r reader) TokenList(ctx context.Context) ([]*coordination.Token, error) {
	rows, err := r.q.QueryContext(ctx, "SELECT hash, data FROM platform_tokens ORDER BY created_at, id")
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := []*coordination.Token{}
	for rows.Next() {
		var hash string
		var data []byte
		if err := rows.Scan(&hash, &data); err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		tok, err := decode[coordination.Token]("token", "", data)
		if err != nil {
			return nil, err
		}
		tok.Hash = hash
		out = append(out, tok)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode: %w", err)
	}
	return string(b), nil
}
