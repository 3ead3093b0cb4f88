package coordination

import (
	"context"
	"fmt"
)

// Permission names one thing an actor may do.
type Permission string

// Permissions of the RBAC table.
const (
	PermExperimentsRead     Permission = "experiments:read"
	PermExperimentsWrite    Permission = "experiments:write"
	PermExperimentsStart    Permission = "experiments:start"
	PermExperimentsEvaluate Permission = "experiments:evaluate"
	PermPromotionsRead      Permission = "promotions:read"
	PermPromotionsApprove   Permission = "promotions:approve"
	PermPromotionsRollback  Permission = "promotions:rollback"
	PermQuarantineRead      Permission = "quarantine:read"
	PermQuarantineWrite     Permission = "quarantine:write"
	PermQuarantineReview    Permission = "quarantine:review"
	PermProposalsRead       Permission = "proposals:read"
	PermProposalsGenerate   Permission = "proposals:generate"
	PermProposalsAccept     Permission = "proposals:accept"
	PermStatusRead          Permission = "status:read"
	PermHealthRead          Permission = "health:read"
	PermAuditRead           Permission = "audit:read"
	PermTokensManage        Permission = "tokens:manage"
	PermReviewsSubmit       Permission = "reviews:submit"
	PermReviewsRead         Permission = "reviews:read"
	PermReviewsFeedback     Permission = "reviews:feedback"
	PermEventsRead          Permission = "events:read"
)

// rolePermissions is PRODUCT.md's role table. Admin may do everything; what a
// role is not granted here is denied.
var rolePermissions = map[Role]map[Permission]bool{
	RoleUser: {
		// V2 R through the API: submit code, read own results, give feedback,
		// and read production's health.
		PermReviewsSubmit: true, PermReviewsRead: true, PermReviewsFeedback: true,
		PermHealthRead: true,
	},
	RoleSystem: {
		// V1 R, V2 R, V3 RW: evaluate, recommend, quarantine.
		PermExperimentsRead: true, PermExperimentsEvaluate: true,
		PermPromotionsRead: true, PermStatusRead: true, PermHealthRead: true,
		PermQuarantineRead: true, PermQuarantineWrite: true, PermQuarantineReview: true,
		PermProposalsRead: true, PermProposalsGenerate: true, PermEventsRead: true,
		PermReviewsSubmit: true, PermReviewsRead: true,
	},
}

// Allowed reports whether role may use perm.
func (r Role) Allowed(perm Permission) bool {
	if r == RoleAdmin {
		return true
	}
	return rolePermissions[r][perm]
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleUser || r == RoleSystem }

type actorKey struct{}

// WithActor returns a context that carries the actor on whose behalf calls
// are made; the coordinator checks its role and records it in the audit log.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor carried by ctx. Without one, the caller is the
// embedding program itself: an admin named "local".
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Actor{Name: "local", Role: RoleAdmin}
}

// authorize returns the context's actor, renamed to name when name is set
// (the seed's approver strings), or an ErrForbidden error naming perm.
func authorize(ctx context.Context, perm Permission, name string) (Actor, error) {
	a := ActorFrom(ctx)
	if !a.Role.Allowed(perm) {
		return a, fmt.Errorf("%w: role %q lacks permission %q", ErrForbidden, a.Role, perm)
	}
	if name != "" && a.Role == RoleAdmin && a.Name == "local" {
		a.Name = name
	}
	return a, nil
}
