package coordination

import (
	"context"
	"time"
)

// Store is the storage seam. The embedded default is SQLite (internal/store/sqlite),
// the scale-out path PostgreSQL; NewMemoryStore is the in-memory default of
// Options. Every implementation passes the conformance suite in
// internal/store/storetest.
//
// Contract:
//   - Reads outside InTx see committed data only.
//   - InTx runs fn in one serializable transaction: every write made through
//     the Tx, including outbox events and audit entries, commits together or
//     not at all. If fn returns an error nothing is written and InTx returns
//     that error as it is (fn's errors already say what failed).
//     Implementations may retry fn on serialization
//     failures, so fn must have no side effects outside the Tx.
//   - Updates are optimistic: XxxUpdate writes only when the stored Version
//     equals the object's Version, then increments both; otherwise it returns
//     an error wrapping ErrConflict. Inserts set Version to 1.
//   - Getters return an error wrapping ErrNotFound naming the id when absent.
//   - Quarantine records and reviews, and audit entries, are append-only: the
//     store itself (triggers) refuses UPDATE and DELETE on them.
//   - Times are the ones passed in by the caller; the store never calls now().
type Store interface {
	Reader
	// InTx runs fn in one transaction (see the contract above).
	InTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// OutboxPending returns up to limit unpublished events in commit order.
	OutboxPending(ctx context.Context, limit int) ([]Event, error)
	// OutboxMarkPublished marks the events with these outbox sequence numbers
	// as published at time at.
	OutboxMarkPublished(ctx context.Context, seqs []int64, at time.Time) error
	// ConsumerMarkProcessed records that consumer handled eventID and reports
	// whether this is the first time (false means a duplicate delivery).
	ConsumerMarkProcessed(ctx context.Context, consumer, eventID string, at time.Time) (bool, error)
	// Close releases the store's resources.
	Close() error
}

// Reader is the read half of the seam, available on the Store and in a Tx.
type Reader interface {
	MetricReader
	ReviewReader

	ExperimentGet(ctx context.Context, id string) (*Experiment, error)
	// ExperimentList returns experiments matching the filter, oldest first.
	ExperimentList(ctx context.Context, f ExperimentFilter) ([]*Experiment, error)

	PromotionGet(ctx context.Context, id string) (*PromotionRequest, error)
	// PromotionList returns promotions matching the filter, oldest first.
	PromotionList(ctx context.Context, f PromotionFilter) ([]*PromotionRequest, error)

	// ReleaseActive returns the release serving production (ErrNotFound before
	// the first release is stored).
	ReleaseActive(ctx context.Context) (*Release, error)
	ReleaseGet(ctx context.Context, id string) (*Release, error)
	// ReleaseList returns every release, newest activation first.
	ReleaseList(ctx context.Context) ([]*Release, error)

	QuarantineGet(ctx context.Context, id string) (*QuarantineRecord, error)
	// QuarantineList returns records, oldest first; ExperimentID filters when set.
	QuarantineList(ctx context.Context, f QuarantineFilter) ([]*QuarantineRecord, error)
	// QuarantineReviews returns a record's reviews, oldest first.
	QuarantineReviews(ctx context.Context, recordID string) ([]*QuarantineReview, error)

	// BlacklistFind returns the entries, not lifted, whose Key is one of keys.
	BlacklistFind(ctx context.Context, keys []string) ([]*BlacklistEntry, error)
	// BlacklistList returns entries, oldest first; activeOnly skips lifted ones.
	BlacklistList(ctx context.Context, activeOnly bool) ([]*BlacklistEntry, error)

	ProposalGet(ctx context.Context, id string) (*Proposal, error)
	// ProposalList returns proposals, highest priority first; States filters when set.
	ProposalList(ctx context.Context, f ProposalFilter) ([]*Proposal, error)

	// AuditList returns audit entries with Seq > f.AfterSeq in order, up to f.Limit.
	AuditList(ctx context.Context, f AuditFilter) ([]*AuditEntry, error)

	// TokenGetByHash returns the token whose secret has this SHA-256 digest
	// (revoked ones too); ErrNotFound when none.
	TokenGetByHash(ctx context.Context, hash string) (*Token, error)
	// TokenList returns every token, oldest first.
	TokenList(ctx context.Context) ([]*Token, error)

	// KVGet returns a small state blob (alert evaluator state, scaler cooldown,
	// …); ErrNotFound when absent.
	KVGet(ctx context.Context, key string) ([]byte, error)
}

// Tx is a transaction: reads see its own writes.
type Tx interface {
	Reader
	MetricWriter
	ReviewWriter
	ExperimentInsert(ctx context.Context, e *Experiment) error
	ExperimentUpdate(ctx context.Context, e *Experiment) error
	PromotionInsert(ctx context.Context, p *PromotionRequest) error
	PromotionUpdate(ctx context.Context, p *PromotionRequest) error
	ReleaseInsert(ctx context.Context, r *Release) error
	ReleaseUpdate(ctx context.Context, r *Release) error
	QuarantineInsert(ctx context.Context, r *QuarantineRecord) error
	QuarantineReviewInsert(ctx context.Context, r *QuarantineReview) error
	BlacklistInsert(ctx context.Context, b *BlacklistEntry) error
	// BlacklistLift marks every active entry of recordID lifted and returns how many.
	BlacklistLift(ctx context.Context, recordID, by string, at time.Time) (int, error)
	ProposalInsert(ctx context.Context, p *Proposal) error
	ProposalUpdate(ctx context.Context, p *Proposal) error
	KVPut(ctx context.Context, key string, value []byte, at time.Time) error
	// TokenInsert stores a token with its Hash (unique: a duplicate is ErrConflict).
	TokenInsert(ctx context.Context, t *Token) error
	// TokenRevoke sets the token's RevokedAt (ErrNotFound naming id when absent;
	// revoking again keeps the first time).
	TokenRevoke(ctx context.Context, id string, at time.Time) error
	// OutboxAppend stores events to be relayed to the bus after commit; it
	// sets each event's Seq.
	OutboxAppend(ctx context.Context, events ...Event) error
	// AuditAppend links e to the chain: it sets e.Seq, e.PrevHash and e.Hash
	// (with AuditHash) from the last stored entry, then stores it.
	AuditAppend(ctx context.Context, e *AuditEntry) error
}

// ExperimentFilter selects experiments. Zero fields do not filter.
type ExperimentFilter struct {
	States []ExperimentState
	Limit  int
}

// PromotionFilter selects promotions. Zero fields do not filter.
type PromotionFilter struct {
	States       []PromotionState
	ExperimentID string
	Limit        int
}

// QuarantineFilter selects quarantine records. Zero fields do not filter.
type QuarantineFilter struct {
	ExperimentID string
	// DueBefore selects records whose next review is before it (non-zero):
	// the latest review's NextReviewAt when the record has reviews, else the
	// record's own.
	DueBefore time.Time
	Limit     int
}

// ProposalFilter selects proposals. Zero fields do not filter.
type ProposalFilter struct {
	States []ProposalState
	Limit  int
}

// AuditFilter pages through the audit log.
type AuditFilter struct {
	AfterSeq int64
	Limit    int
}
