package coordination

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// QuarantineManager handles V1 → V3: evidence capture, root-cause analysis,
// the immutable archive, the blacklist and quarterly reviews.
type QuarantineManager struct {
	c *LifecycleCoordinator // non-nil
}

// QuarantineSpec asks for an experiment to be quarantined.
type QuarantineSpec struct {
	ExperimentID     string
	FailureType      string
	FailureEvidence  map[string]any
	ErrorLogs        string
	MetricsAtFailure map[string]float64
}

// ReviewSpec is a review of a quarantine record.
type ReviewSpec struct {
	RecordID      string
	Reviewer      string
	RetryApproved bool
	Notes         string
}

// QuarantineExperiment archives an experiment in V3: snapshot, evidence (error
// logs capped at MaxErrorLogBytes), root cause, content hash, next review in
// 90 days, and blacklist entries. An experiment in a canary is rolled back
// first; one whose promotion awaits approval has it rejected.
func (m *QuarantineManager) QuarantineExperiment(ctx context.Context, spec QuarantineSpec) (*QuarantineRecord, error) {
	actor, err := authorize(ctx, PermQuarantineWrite, "")
	if err != nil {
		return nil, fmt.Errorf("quarantine experiment %s: %w", spec.ExperimentID, err)
	}
	r, err := m.quarantine(ctx, actor, spec, 0)
	if err != nil {
		return nil, fmt.Errorf("quarantine experiment %s: %w", spec.ExperimentID, err)
	}
	return r, nil
}

// quarantine quarantines in its own transaction; expectVersion > 0 refuses
// when the experiment changed since it was read.
func (m *QuarantineManager) quarantine(ctx context.Context, actor Actor, spec QuarantineSpec, expectVersion int64) (*QuarantineRecord, error) {
	if spec.FailureType == "" {
		spec.FailureType = string(FailureManual)
	}
	if !FailureType(spec.FailureType).Valid() {
		return nil, invalidInput("failure_type", "unknown failure type %q (want one of %v)", spec.FailureType, FailureTypes)
	}
	if err := checkEvidence(spec.FailureEvidence); err != nil {
		return nil, err
	}
	var rec *QuarantineRecord
	err := m.c.tx(ctx, func(ctx context.Context, w *txw) error {
		e, err := w.tx.ExperimentGet(ctx, spec.ExperimentID)
		if err != nil {
			return err
		}
		if expectVersion > 0 && e.Version != expectVersion {
			return fmt.Errorf("%w: experiment changed while it was being evaluated", ErrConflict)
		}
		rec, err = m.quarantineTx(ctx, w, actor, e, ActionQuarantine, spec, e.LastEvaluation)
		return err
	})
	return rec, err
}

// checkEvidence refuses evidence that cannot be stored as JSON or is too large.
func checkEvidence(ev map[string]any) error {
	raw, err := json.Marshal(ev)
	if err != nil {
		return invalidInput("failure_evidence", "not representable as JSON: %v", err)
	}
	if len(raw) > 256<<10 {
		return invalidInput("failure_evidence", "larger than 256 KiB")
	}
	return nil
}

// quarantineTx does the work of quarantining e inside w.
func (m *QuarantineManager) quarantineTx(ctx context.Context, w *txw, actor Actor, e *Experiment, action ExperimentAction, spec QuarantineSpec, ev *Evaluation) (*QuarantineRecord, error) {
	ft := FailureType(spec.FailureType)
	if ft == "" {
		ft = FailureManual
	}
	fromState := e.State
	if e.State == ExperimentPromoted {
		// Only a rollback may quarantine the production release's experiment,
		// and rollbackTx has already moved its promotion to rolled_back.
		p, err := w.tx.PromotionGet(ctx, e.PromotionID)
		if err != nil || p.State != PromotionRolledBack {
			return nil, fmt.Errorf("%w: experiment %s is in production (state %q); roll back its promotion instead", ErrInvalidTransition, e.ID, e.State)
		}
	}
	next, err := ExperimentTransition(e.State, action)
	if err != nil {
		return nil, err
	}
	if e.State == ExperimentPromoting && e.PromotionID != "" {
		p, err := w.tx.PromotionGet(ctx, e.PromotionID)
		if err != nil {
			return nil, err
		}
		switch {
		case p.State.InPhases():
			// rollbackTx quarantines the experiment itself.
			if err := m.c.promotion.rollbackTx(ctx, w, actor, p, "experiment quarantined: "+string(ft), ft, spec.FailureEvidence); err != nil {
				return nil, err
			}
			cur, err := w.tx.ExperimentGet(ctx, e.ID)
			if err != nil {
				return nil, err
			}
			return w.tx.QuarantineGet(ctx, cur.RecordID)
		case p.State.Active():
			p.State, p.Reason, p.UpdatedAt = PromotionRejected, "experiment quarantined", w.now
			if err := w.tx.PromotionUpdate(ctx, p); err != nil {
				return nil, err
			}
		}
	}
	if err := w.emit(EventQuarantineRequested, e.ID, map[string]any{
		"experiment_id": e.ID, "failure_type": ft, "requested_by": actor.Name}); err != nil {
		return nil, err
	}
	baseline := Variant{}
	if rel, err := w.tx.ReleaseActive(ctx); err == nil {
		baseline = rel.Variant
	}
	logs, truncated := capLogs(spec.ErrorLogs)
	rec := &QuarantineRecord{
		RecordID: NewID(PrefixRecord, w.now), ExperimentID: e.ID,
		Snapshot: Snapshot{ExperimentID: e.ID, Title: e.Title, Hypothesis: e.Hypothesis,
			SuccessCriteria: copyStrings(e.SuccessCriteria), Variant: e.Variant, State: fromState, Baseline: baseline},
		FailureType: ft,
		Evidence: Evidence{FailureEvidence: spec.FailureEvidence, MetricsAtFailure: copyFloats(spec.MetricsAtFailure),
			ErrorLogs: logs, ErrorLogsTruncated: truncated, Evaluation: ev},
		QuarantinedAt: w.now, QuarantinedBy: actor.Name,
		NextReviewAt: w.now.Add(m.c.cfg.ReviewInterval.D()),
	}
	rec.RootCause = AnalyzeRootCause(rec.FailureType, rec.Evidence, e.Variant, baseline)
	rec.ContentHash = rec.ComputeHash()
	if err := w.tx.QuarantineInsert(ctx, rec); err != nil {
		return nil, err
	}
	for _, b := range blacklistEntries(rec, w.now) {
		if err := w.tx.BlacklistInsert(ctx, b); err != nil {
			return nil, err
		}
	}
	e.State, e.RecordID, e.UpdatedAt = next, rec.RecordID, w.now
	if err := w.tx.ExperimentUpdate(ctx, e); err != nil {
		return nil, err
	}
	if err := w.emit(EventQuarantineCompleted, rec.RecordID, map[string]any{
		"record_id": rec.RecordID, "experiment_id": e.ID, "failure_type": ft,
		"root_cause": rec.RootCause, "next_review_at": rec.NextReviewAt, "content_hash": rec.ContentHash}); err != nil {
		return nil, err
	}
	return rec, w.audit(actor, "quarantine.create", rec.RecordID, map[string]any{
		"experiment_id": e.ID, "failure_type": string(ft), "root_cause": rec.RootCause.Category})
}

// capLogs keeps at most MaxErrorLogBytes of logs, cut on a rune boundary.
func capLogs(s string) (string, bool) {
	if len(s) <= MaxErrorLogBytes {
		return s, false
	}
	cut := MaxErrorLogBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut], true
}

// ComputeHash returns the SHA-256 of the record's content: every field but
// ContentHash, in canonical JSON.
func (r *QuarantineRecord) ComputeHash() string {
	cp := *r
	cp.ContentHash = ""
	cp.QuarantinedAt = cp.QuarantinedAt.UTC()
	cp.NextReviewAt = cp.NextReviewAt.UTC()
	raw, _ := json.Marshal(cp) // the record was built from JSON-safe values
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// blacklistEntries are the entries a record adds: the variant fingerprint and
// the same model with the same prompt. A record of an experiment without a
// concrete variant blocks nothing.
func blacklistEntries(r *QuarantineRecord, now time.Time) []*BlacklistEntry {
	v := r.Snapshot.Variant
	if v.IsZero() {
		return nil
	}
	out := []*BlacklistEntry{{ID: NewID(PrefixBlacklist, now), RecordID: r.RecordID, Kind: BlacklistFingerprint,
		Key: string(BlacklistFingerprint) + ":" + v.Fingerprint(), CreatedAt: now}}
	if k := v.ModelPromptKey(); k != "" {
		out = append(out, &BlacklistEntry{ID: NewID(PrefixBlacklist, now), RecordID: r.RecordID,
			Kind: BlacklistModelPrompt, Key: string(BlacklistModelPrompt) + ":" + k, CreatedAt: now})
	}
	return out
}

// blacklistKeys are the keys a variant would be blocked by.
func blacklistKeys(v Variant) []string {
	if v.IsZero() {
		return nil
	}
	keys := []string{string(BlacklistFingerprint) + ":" + v.Fingerprint()}
	if k := v.ModelPromptKey(); k != "" {
		keys = append(keys, string(BlacklistModelPrompt)+":"+k)
	}
	return keys
}

// checkBlacklist refuses a variant that a quarantine record blocks, naming
// the record.
func (m *QuarantineManager) checkBlacklist(ctx context.Context, r Reader, v Variant) error {
	keys := blacklistKeys(v)
	if len(keys) == 0 {
		return nil
	}
	hits, err := r.BlacklistFind(ctx, keys)
	if err != nil {
		return fmt.Errorf("check blacklist: %w", err)
	}
	if len(hits) == 0 {
		return nil
	}
	var what []string
	for _, h := range hits {
		desc := "the same variant configuration"
		if h.Kind == BlacklistModelPrompt {
			desc = "the same model with the same prompt"
		}
		what = append(what, fmt.Sprintf("quarantine record %s (%s)", h.RecordID, desc))
	}
	return fmt.Errorf("%w: variant %q is blocked by %s; review the record with retry approved to lift it",
		ErrBlacklisted, v.Name, strings.Join(what, " and "))
}

// CheckBlacklist reports whether a variant is blocked, as an ErrBlacklisted
// error naming the record, or nil.
func (m *QuarantineManager) CheckBlacklist(ctx context.Context, v Variant) error {
	return m.checkBlacklist(ctx, m.c.store, v)
}

// ReviewQuarantined appends a review to a record. With RetryApproved it lifts
// the record's blacklist entries and creates a new proposal linked to the
// record.
func (m *QuarantineManager) ReviewQuarantined(ctx context.Context, spec ReviewSpec) error {
	_, err := m.Review(ctx, spec)
	return err
}

// Review is ReviewQuarantined returning the stored review.
func (m *QuarantineManager) Review(ctx context.Context, spec ReviewSpec) (*QuarantineReview, error) {
	actor, err := authorize(ctx, PermQuarantineReview, spec.Reviewer)
	if err != nil {
		return nil, fmt.Errorf("review quarantine record %s: %w", spec.RecordID, err)
	}
	if strings.TrimSpace(spec.Reviewer) == "" {
		spec.Reviewer = actor.Name
	}
	if len(spec.Notes) > 8000 {
		return nil, fmt.Errorf("review quarantine record %s: %w", spec.RecordID, invalidInput("notes", "longer than 8000 bytes"))
	}
	var rev *QuarantineReview
	err = m.c.tx(ctx, func(ctx context.Context, w *txw) error {
		rec, err := w.tx.QuarantineGet(ctx, spec.RecordID)
		if err != nil {
			return err
		}
		rev = &QuarantineReview{ReviewID: NewID(PrefixReview, w.now), RecordID: rec.RecordID,
			Reviewer: spec.Reviewer, RetryApproved: spec.RetryApproved, Notes: spec.Notes,
			ReviewedAt: w.now, NextReviewAt: w.now.Add(m.c.cfg.ReviewInterval.D())}
		lifted := 0
		if spec.RetryApproved {
			if lifted, err = w.tx.BlacklistLift(ctx, rec.RecordID, spec.Reviewer, w.now); err != nil {
				return err
			}
			s := rec.Snapshot
			p := &Proposal{ProposalID: NewID(PrefixProposal, w.now), Title: "Retry: " + s.Title,
				Hypothesis: s.Hypothesis, SuccessCriteria: copyStrings(s.SuccessCriteria), Variant: s.Variant,
				Source: SourceRetry, Priority: 0.5, State: ProposalSuggested, RecordID: rec.RecordID,
				Rationale: []string{"retry approved by " + spec.Reviewer, spec.Notes},
				DedupeKey: "retry:" + rec.RecordID, CreatedAt: w.now, UpdatedAt: w.now}
			if err := w.tx.ProposalInsert(ctx, p); err != nil {
				return err
			}
			rev.ProposalID = p.ProposalID
		}
		if err := w.tx.QuarantineReviewInsert(ctx, rev); err != nil {
			return err
		}
		if err := w.emit(EventQuarantineReviewed, rec.RecordID, map[string]any{
			"record_id": rec.RecordID, "reviewer": spec.Reviewer, "retry_approved": spec.RetryApproved,
			"notes": spec.Notes, "proposal_id": rev.ProposalID, "blacklist_lifted": lifted,
			"next_review_at": rev.NextReviewAt}); err != nil {
			return err
		}
		return w.audit(actor, "quarantine.review", rec.RecordID, map[string]any{
			"retry_approved": spec.RetryApproved, "proposal_id": rev.ProposalID, "blacklist_lifted": lifted})
	})
	if err != nil {
		return nil, fmt.Errorf("review quarantine record %s: %w", spec.RecordID, err)
	}
	return rev, nil
}

// GetRecord returns one quarantine record.
func (m *QuarantineManager) GetRecord(ctx context.Context, id string) (*QuarantineRecord, error) {
	if _, err := authorize(ctx, PermQuarantineRead, ""); err != nil {
		return nil, fmt.Errorf("get quarantine record %s: %w", id, err)
	}
	r, err := m.c.store.QuarantineGet(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get quarantine record: %w", err)
	}
	return r, nil
}

// ListRecords returns quarantine records, oldest first.
func (m *QuarantineManager) ListRecords(ctx context.Context, f QuarantineFilter) ([]*QuarantineRecord, error) {
	if _, err := authorize(ctx, PermQuarantineRead, ""); err != nil {
		return nil, fmt.Errorf("list quarantine records: %w", err)
	}
	return m.c.store.QuarantineList(ctx, f)
}

// Reviews returns a record's reviews, oldest first.
func (m *QuarantineManager) Reviews(ctx context.Context, recordID string) ([]*QuarantineReview, error) {
	if _, err := authorize(ctx, PermQuarantineRead, ""); err != nil {
		return nil, fmt.Errorf("list reviews of %s: %w", recordID, err)
	}
	if _, err := m.c.store.QuarantineGet(ctx, recordID); err != nil {
		return nil, fmt.Errorf("list reviews: %w", err)
	}
	return m.c.store.QuarantineReviews(ctx, recordID)
}

// Blacklist returns the blacklist entries, oldest first.
func (m *QuarantineManager) Blacklist(ctx context.Context, activeOnly bool) ([]*BlacklistEntry, error) {
	if _, err := authorize(ctx, PermQuarantineRead, ""); err != nil {
		return nil, fmt.Errorf("list blacklist: %w", err)
	}
	return m.c.store.BlacklistList(ctx, activeOnly)
}

// DueRecord is a record whose quarterly review is due.
type DueRecord struct {
	Record       *QuarantineRecord
	NextReviewAt time.Time
	// Retried is true when a review already approved a retry.
	Retried bool
}

// DueForReview returns the records whose next review (the record's, or the
// latest review's) is at or before now.
func (m *QuarantineManager) DueForReview(ctx context.Context, now time.Time) ([]DueRecord, error) {
	recs, err := m.c.store.QuarantineList(ctx, QuarantineFilter{})
	if err != nil {
		return nil, fmt.Errorf("due for review: %w", err)
	}
	var out []DueRecord
	for _, r := range recs {
		revs, err := m.c.store.QuarantineReviews(ctx, r.RecordID)
		if err != nil {
			return nil, fmt.Errorf("due for review: %w", err)
		}
		d := DueRecord{Record: r, NextReviewAt: r.NextReviewAt}
		for _, rv := range revs {
			d.NextReviewAt = rv.NextReviewAt
			d.Retried = d.Retried || rv.RetryApproved
		}
		if !d.NextReviewAt.After(now) {
			out = append(out, d)
		}
	}
	return out, nil
}
