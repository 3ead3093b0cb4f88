package coordination

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Token is an API bearer token. Only the SHA-256 digest of its secret is
// stored; the secret is shown once, when the token is created.
type Token struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Hash      string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// Revoked reports whether the token was revoked.
func (t *Token) Revoked() bool { return !t.RevokedAt.IsZero() }

// PrefixToken starts every token secret, so that leaked tokens are easy to
// recognise and scan for.
const PrefixToken = "tc_"

// NewToken returns a fresh token secret: "tc_" and 32 random bytes (256 bits)
// in unpadded base64url.
func NewToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return PrefixToken + base64.RawURLEncoding.EncodeToString(b[:])
}

// HashToken returns the stored digest of a token secret.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// ErrUnauthenticated is returned by Authenticate for a missing, unknown or
// revoked token. It wraps ErrNotFound.
var ErrUnauthenticated = fmt.Errorf("unauthenticated: %w", ErrNotFound)

var tokenNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9@._:-]{0,99}$`)

// CreateToken creates a token for name with role and returns its secret,
// which is never shown again. Only admins manage tokens, and a token can
// never be granted a role its creator lacks.
func (c *LifecycleCoordinator) CreateToken(ctx context.Context, name string, role Role) (string, *Token, error) {
	actor, err := authorize(ctx, PermTokensManage, "")
	if err != nil {
		return "", nil, fmt.Errorf("create token: %w", err)
	}
	if !tokenNameRE.MatchString(name) {
		return "", nil, fmt.Errorf("create token: %w", invalidInput("name", "%q must be 1-100 letters, digits or @._:-", name))
	}
	if !role.Valid() {
		return "", nil, fmt.Errorf("create token: %w", invalidInput("role", "unknown role %q (want admin, user or system)", role))
	}
	if actor.Role != RoleAdmin && role != actor.Role {
		return "", nil, fmt.Errorf("create token: %w: role %q cannot grant role %q", ErrForbidden, actor.Role, role)
	}
	secret := NewToken()
	var tok *Token
	err = c.tx(ctx, func(ctx context.Context, w *txw) error {
		tok = &Token{ID: NewID("tok", w.now), Name: name, Role: role, Hash: HashToken(secret), CreatedAt: w.now, CreatedBy: actor.Name}
		if err := w.tx.TokenInsert(ctx, tok); err != nil {
			return err
		}
		return w.audit(actor, "token.create", tok.ID, map[string]any{"name": name, "role": string(role)})
	})
	if err != nil {
		return "", nil, fmt.Errorf("create token: %w", err)
	}
	return secret, tok, nil
}

// ListTokens returns every token (without secrets), oldest first.
func (c *LifecycleCoordinator) ListTokens(ctx context.Context) ([]*Token, error) {
	if _, err := authorize(ctx, PermTokensManage, ""); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return c.store.TokenList(ctx)
}

// RevokeToken revokes a token; it stops authenticating at once.
func (c *LifecycleCoordinator) RevokeToken(ctx context.Context, id string) error {
	actor, err := authorize(ctx, PermTokensManage, "")
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	err = c.tx(ctx, func(ctx context.Context, w *txw) error {
		if err := w.tx.TokenRevoke(ctx, id, w.now); err != nil {
			return err
		}
		return w.audit(actor, "token.revoke", id, nil)
	})
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	return nil
}

// Authenticate returns the actor a token secret stands for, or an error
// wrapping ErrUnauthenticated. The stored digest is compared in constant
// time.
func (c *LifecycleCoordinator) Authenticate(ctx context.Context, secret string) (Actor, error) {
	secret = strings.TrimSpace(secret)
	if secret == "" || len(secret) > 256 {
		return Actor{}, ErrUnauthenticated
	}
	h := HashToken(secret)
	tok, err := c.store.TokenGetByHash(ctx, h)
	if errors.Is(err, ErrNotFound) {
		return Actor{}, ErrUnauthenticated
	}
	if err != nil {
		return Actor{}, fmt.Errorf("authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(tok.Hash), []byte(h)) != 1 || tok.Revoked() {
		return Actor{}, ErrUnauthenticated
	}
	return Actor{Name: tok.Name, Role: tok.Role}, nil
}

// BootstrapAdminToken stores secret as the first admin token when the store
// has no token at all, and reports whether it did.
func (c *LifecycleCoordinator) BootstrapAdminToken(ctx context.Context, secret string) (bool, error) {
	if len(secret) < 16 {
		return false, fmt.Errorf("bootstrap admin token: %w", invalidInput("admin token", "shorter than 16 characters"))
	}
	created := false
	err := c.tx(ctx, func(ctx context.Context, w *txw) error {
		toks, err := w.tx.TokenList(ctx)
		if err != nil {
			return err
		}
		if len(toks) > 0 {
			return nil
		}
		tok := &Token{ID: NewID("tok", w.now), Name: "admin", Role: RoleAdmin, Hash: HashToken(secret), CreatedAt: w.now, CreatedBy: "system:bootstrap"}
		if err := w.tx.TokenInsert(ctx, tok); err != nil {
			return err
		}
		created = true
		return w.audit(SystemActor("bootstrap"), "token.create", tok.ID, map[string]any{"name": "admin", "role": "admin"})
	})
	if err != nil {
		return false, fmt.Errorf("bootstrap admin token: %w", err)
	}
	return created, nil
}
