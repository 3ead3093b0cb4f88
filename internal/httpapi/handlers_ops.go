package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"github.com/tricyclehq/tricycle/coordination"
)

func (s *Server) status(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	st, err := s.coord.SystemStatus(r.Context())
	return http.StatusOK, st, err
}

func (s *Server) alerts(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	as, err := s.coord.Health().GetActiveAlerts(r.Context())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, listOf(as), nil
}

func (s *Server) slo(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	c, err := s.coord.Health().CalculateSLOCompliance(r.Context())
	return http.StatusOK, c, err
}

// Audit paging bounds.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

func (s *Server) audit(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	var after int64
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, nil, invalid("after", "%q is not a non-negative integer (an entry's seq)", v)
		}
		after = n
	}
	limit, err := queryLimit(r, maxAuditLimit)
	if err != nil {
		return 0, nil, err
	}
	if limit == 0 {
		limit = defaultAuditLimit
	}
	es, err := s.coord.AuditLog(r.Context(), after, limit)
	if err != nil {
		return 0, nil, err
	}
	page := AuditPage{Items: es, NextAfter: after}
	if page.Items == nil {
		page.Items = []*coordination.AuditEntry{}
	}
	if n := len(es); n > 0 {
		page.NextAfter = es[n-1].Seq
	}
	return http.StatusOK, page, nil
}

func (s *Server) verifyAudit(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	v, err := s.coord.VerifyAudit(r.Context())
	return http.StatusOK, v, err
}

// allPermissions lists every permission of the RBAC table.
var allPermissions = []coordination.Permission{
	coordination.PermExperimentsRead, coordination.PermExperimentsWrite, coordination.PermExperimentsStart,
	coordination.PermExperimentsEvaluate, coordination.PermPromotionsRead, coordination.PermPromotionsApprove,
	coordination.PermPromotionsRollback, coordination.PermQuarantineRead, coordination.PermQuarantineWrite,
	coordination.PermQuarantineReview, coordination.PermProposalsRead, coordination.PermProposalsGenerate,
	coordination.PermProposalsAccept, coordination.PermStatusRead, coordination.PermHealthRead,
	coordination.PermAuditRead, coordination.PermTokensManage, coordination.PermReviewsSubmit,
	coordination.PermReviewsRead, coordination.PermReviewsFeedback, coordination.PermEventsRead,
}

// covers reports whether creator holds every permission of role, and names
// the first one it lacks.
func covers(creator, role coordination.Role) (coordination.Permission, bool) {
	for _, p := range allPermissions {
		if role.Allowed(p) && !creator.Allowed(p) {
			return p, false
		}
	}
	return "", true
}

// maxTokenNameLen bounds a token's name.
const maxTokenNameLen = 100

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var req CreateTokenRequest
	if err := s.decode(w, r, &req, false); err != nil {
		return 0, nil, err
	}
	req.Name = strings.TrimSpace(req.Name)
	switch {
	case req.Name == "":
		return 0, nil, invalid("name", "must not be empty")
	case len(req.Name) > maxTokenNameLen:
		return 0, nil, invalid("name", "longer than %d bytes", maxTokenNameLen)
	case strings.ContainsFunc(req.Name, unicode.IsControl):
		return 0, nil, invalid("name", "must not contain control characters")
	}
	if !req.Role.Valid() {
		return 0, nil, invalid("role", "unknown role %q (want admin, user or system)", req.Role)
	}
	creator := coordination.ActorFrom(r.Context())
	if p, ok := covers(creator.Role, req.Role); !ok {
		return 0, nil, fmt.Errorf("%w: role %q cannot create a %q token: it lacks permission %q",
			coordination.ErrForbidden, creator.Role, req.Role, p)
	}
	plain, tok, err := s.coord.CreateToken(r.Context(), req.Name, req.Role)
	if err != nil {
		return 0, nil, err
	}
	w.Header().Set("Location", apiPrefix+"/tokens/"+tok.ID)
	return http.StatusCreated, TokenCreated{Token: plain, TokenView: tokenView(tok)}, nil
}

func (s *Server) listTokens(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	ts, err := s.coord.ListTokens(r.Context())
	if err != nil {
		return 0, nil, err
	}
	out := make([]TokenView, 0, len(ts))
	for _, t := range ts {
		out = append(out, tokenView(t))
	}
	return http.StatusOK, listOf(out), nil
}

func (s *Server) revokeToken(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	if err := s.coord.RevokeToken(r.Context(), r.PathValue("id")); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}
