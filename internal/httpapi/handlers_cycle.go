package httpapi

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/tricyclehq/tricycle/coordination"
)

// maxListLimit bounds ?limit= on list endpoints.
const maxListLimit = 10000

// queryLimit reads ?limit= (0 when absent).
func queryLimit(r *http.Request, max int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, invalid("limit", "%q is not an integer within 1-%d", v, max)
	}
	return n, nil
}

// queryStates reads ?state= as a comma-separated list of states that valid
// accepts.
func queryStates[S ~string](r *http.Request, valid func(S) bool, known string) ([]S, error) {
	v := r.URL.Query().Get("state")
	if v == "" {
		return nil, nil
	}
	var out []S
	for part := range strings.SplitSeq(v, ",") {
		st := S(strings.TrimSpace(part))
		if !valid(st) {
			return nil, invalid("state", "unknown state %q (want %s)", st, known)
		}
		out = append(out, st)
	}
	return out, nil
}

func joinStates[S ~string](ss []S) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}

// decode reads the route's JSON body into dst.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, dst any, optional bool) error {
	return DecodeJSON(w, r, dst, s.maxBody, optional)
}

// actorName is the name of the request's actor, the default approver and
// reviewer.
func actorName(r *http.Request) string { return coordination.ActorFrom(r.Context()).Name }

// --- V1: experiments ---

func (s *Server) createExperiment(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var req CreateExperimentRequest
	if err := s.decode(w, r, &req, false); err != nil {
		return 0, nil, err
	}
	p, err := s.coord.CreateExperiment(r.Context(), coordination.ExperimentSpec{
		Title: req.Title, Hypothesis: req.Hypothesis, SuccessCriteria: req.SuccessCriteria, Variant: req.Variant,
		ShadowPercent: req.ShadowPercent, BudgetUSD: req.BudgetUSD,
		EvaluationMin: req.EvaluationMin.D(), EvaluationMax: req.EvaluationMax.D(),
	})
	if err != nil {
		return 0, nil, err
	}
	e, err := s.coord.GetExperiment(r.Context(), p.ExperimentID)
	if err != nil {
		return 0, nil, err
	}
	w.Header().Set("Location", apiPrefix+"/experiments/"+e.ID)
	return http.StatusCreated, e, nil
}

func (s *Server) listExperiments(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	states, err := queryStates(r, coordination.ExperimentState.Valid, joinStates(coordination.ExperimentStates))
	if err != nil {
		return 0, nil, err
	}
	limit, err := queryLimit(r, maxListLimit)
	if err != nil {
		return 0, nil, err
	}
	es, err := s.coord.ListExperiments(r.Context(), coordination.ExperimentFilter{States: states, Limit: limit})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, listOf(es), nil
}

func (s *Server) getExperiment(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	e, err := s.coord.GetExperiment(r.Context(), r.PathValue("id"))
	return http.StatusOK, e, err
}

func (s *Server) startExperiment(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var req StartRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return 0, nil, err
	}
	if req.Approver == "" {
		req.Approver = actorName(r)
	}
	id := r.PathValue("id")
	if err := s.coord.StartExperiment(r.Context(), id, req.Approver); err != nil {
		return 0, nil, err
	}
	e, err := s.coord.GetExperiment(r.Context(), id)
	return http.StatusOK, e, err
}

func (s *Server) evaluateExperiment(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var req EvaluateRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return 0, nil, err
	}
	id := r.PathValue("id")
	ev, err := s.coord.EvaluateExperimentDetailed(r.Context(), id, req.Metrics)
	if err != nil {
		return 0, nil, err
	}
	e, err := s.coord.GetExperiment(r.Context(), id)
	if err != nil {
		return 0, nil, err
	}
	resp := EvaluateResponse{ExperimentID: id, Decision: ev.Decision, Explanation: ev.Explanation, At: ev.At,
		By: ev.By, Metrics: ev.Metrics, State: e.State}
	switch ev.Decision {
	case coordination.Promote:
		resp.PromotionID = e.PromotionID
	case coordination.Quarantine:
		resp.RecordID = e.RecordID
	}
	return http.StatusOK, resp, nil
}

func (s *Server) rejectExperiment(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var req ReasonRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return 0, nil, err
	}
	id := r.PathValue("id")
	if err := s.coord.RejectExperiment(r.Context(), id, req.Reason); err != nil {
		return 0, nil, err
	}
	e, err := s.coord.GetExperiment(r.Context(), id)
	return http.StatusOK, e, err
}

func (s *Server) quarantineExperiment(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var req QuarantineRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return 0, nil, err
	}
	rec, err := s.coord.Quarantine().QuarantineExperiment(r.Context(), coordination.QuarantineSpec{
		ExperimentID: r.PathValue("id"), FailureType: req.FailureType, FailureEvidence: req.FailureEvidence,
		ErrorLogs: req.ErrorLogs, MetricsAtFailure: req.MetricsAtFailure,
	})
	if err != nil {
		return 0, nil, err
	}
	w.Header().Set("Location", apiPrefix+"/quarantine/"+rec.RecordID)
	return http.StatusCreated, rec, nil
}

// --- V2: promotions ---

func validPromotionState(s coordination.PromotionState) bool {
	return slices.Contains(coordination.PromotionStates, s) || s.Phase() > 0
}

func (s *Server) listPromotions(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	states, err := queryStates(r, validPromotionState, joinStates(coordination.PromotionStates))
	if err != nil {
		return 0, nil, err
	}
	limit, err := queryLimit(r, maxListLimit)
	if err != nil {
		return 0, nil, err
	}
	ps, err := s.coord.Promotion().ListPromotions(r.Context(), coordination.PromotionFilter{
		States: states, ExperimentID: r.URL.Query().Get("experiment_id"), Limit: limit})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, listOf(ps), nil
}

func (s *Server) getPromotion(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	p, err := s.coord.Promotion().GetPromotion(r.Context(), r.PathValue("id"))
	return http.StatusOK, p, err
}

func (s *Server) approvePromotion(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var req ApproveRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return 0, nil, err
	}
	if req.Approver == "" {
		req.Approver = actorName(r)
	}
	id := r.PathValue("id")
	if err := s.coord.Promotion().ApprovePromotion(r.Context(), id, req.Approver); err != nil {
		return 0, nil, err
	}
	return s.getPromotion(w, r)
}

func (s *Server) rejectPromotion(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var req ReasonRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return 0, nil, err
	}
	if err := s.coord.Promotion().RejectPromotion(r.Context(), r.PathValue("id"), req.Reason); err != nil {
		return 0, nil, err
	}
	return s.getPromotion(w, r)
}

func (s *Server) rollbackPromotion(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var req RollbackRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return 0, nil, err
	}
	if err := s.coord.Promotion().Rollback(r.Context(), r.PathValue("id"), req.Reason); err != nil {
		return 0, nil, err
	}
	return s.getPromotion(w, r)
}

func (s *Server) listReleases(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	rs, err := s.coord.Releases(r.Context())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, listOf(rs), nil
}

func (s *Server) emergencyRollback(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var req RollbackRequest
	if err := s.decode(w, r, &req, false); err != nil {
		return 0, nil, err
	}
	if err := s.coord.EmergencyRollback(r.Context(), req.Reason, actorName(r)); err != nil {
		return 0, nil, err
	}
	routing, err := s.coord.Routing(r.Context())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, RollbackResponse{RolledBack: true, Reason: req.Reason, Production: routing.Production}, nil
}

// --- V3: quarantine ---

func (s *Server) listQuarantine(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	limit, err := queryLimit(r, maxListLimit)
	if err != nil {
		return 0, nil, err
	}
	rs, err := s.coord.Quarantine().ListRecords(r.Context(), coordination.QuarantineFilter{
		ExperimentID: r.URL.Query().Get("experiment_id"), Limit: limit})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, listOf(rs), nil
}

func (s *Server) getQuarantine(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	q := s.coord.Quarantine()
	rec, err := q.GetRecord(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	revs, err := q.Reviews(r.Context(), rec.RecordID)
	if err != nil {
		return 0, nil, err
	}
	if revs == nil {
		revs = []*coordination.QuarantineReview{}
	}
	return http.StatusOK, QuarantineRecordResponse{QuarantineRecord: rec, Reviews: revs}, nil
}

func (s *Server) reviewQuarantine(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var req ReviewRequest
	if err := s.decode(w, r, &req, false); err != nil {
		return 0, nil, err
	}
	rev, err := s.coord.Quarantine().Review(r.Context(), coordination.ReviewSpec{RecordID: r.PathValue("id"),
		Reviewer: req.Reviewer, RetryApproved: req.RetryApproved, Notes: req.Notes})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, rev, nil
}

// --- proposals ---

var proposalStates = []coordination.ProposalState{
	coordination.ProposalSuggested, coordination.ProposalAccepted, coordination.ProposalDismissed,
}

func (s *Server) listProposals(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	states, err := queryStates(r, func(st coordination.ProposalState) bool { return slices.Contains(proposalStates, st) },
		joinStates(proposalStates))
	if err != nil {
		return 0, nil, err
	}
	limit, err := queryLimit(r, maxListLimit)
	if err != nil {
		return 0, nil, err
	}
	ps, err := s.coord.Generator().ListProposals(r.Context(), coordination.ProposalFilter{States: states, Limit: limit})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, listOf(ps), nil
}

func (s *Server) getProposal(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	p, err := s.coord.Generator().GetProposal(r.Context(), r.PathValue("id"))
	return http.StatusOK, p, err
}

func (s *Server) generateProposals(w http.ResponseWriter, r *http.Request) (int, any, error) {
	if err := s.decode(w, r, &struct{}{}, true); err != nil {
		return 0, nil, err
	}
	ps, err := s.coord.Generator().GenerateProposals(r.Context())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, listOf(ps), nil
}

func (s *Server) acceptProposal(w http.ResponseWriter, r *http.Request) (int, any, error) {
	if err := s.decode(w, r, &struct{}{}, true); err != nil {
		return 0, nil, err
	}
	e, err := s.coord.Generator().AcceptProposal(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	w.Header().Set("Location", apiPrefix+"/experiments/"+e.ID)
	return http.StatusCreated, e, nil
}

func (s *Server) dismissProposal(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var req ReasonRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return 0, nil, err
	}
	if err := s.coord.Generator().DismissProposal(r.Context(), r.PathValue("id"), req.Reason); err != nil {
		return 0, nil, err
	}
	return s.getProposal(w, r)
}
