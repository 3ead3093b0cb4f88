package coordination

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
	"unicode/utf8"
)

// memKind names one of the memory store's object tables.
type memKind int

const (
	memExperiment memKind = iota
	memPromotion
	memRelease
	memRecord
	memReview
	memBlacklist
	memProposal
	memToken
	memKinds
)

// memKindNames are the object names used in error messages.
var memKindNames = [memKinds]string{"experiment", "promotion", "release", "quarantine record",
	"quarantine review", "blacklist entry", "proposal", "token"}

// memLifted is the state of a lifted blacklist entry's row.
const memLifted = "lifted"

// memRow is one stored object: its JSON (never handed out, only decoded) and
// the fields that filters and orderings use, like the columns of the SQL
// stores. A row is never modified once stored; a change stores a new row.
type memRow struct {
	id      string
	data    []byte
	version int64
	state   string    // state; memLifted for a lifted blacklist entry
	owner   string    // experiment_id (promotions, records) or record_id (reviews, blacklist)
	key     string    // blacklist key
	at      time.Time // the ordering time
	due     time.Time // next review (records, reviews)
	prio    float64   // proposal priority
}

// memLog is an audit entry (with its hash) or an outbox event, by seq.
type memLog struct {
	seq  int64
	hash string
	data []byte
}

// memData is a set of rows: the committed state, or a transaction's writes.
type memData struct {
	rows     [memKinds]map[string]*memRow
	audit    []memLog // in seq order
	outbox   []memLog // in seq order; committed: unpublished only
	eventIDs map[string]struct{}
	kv       map[string][]byte
}

func newMemData() memData {
	d := memData{eventIDs: map[string]struct{}{}, kv: map[string][]byte{}}
	for k := range d.rows {
		d.rows[k] = map[string]*memRow{}
	}
	return d
}

// memoryStore is the in-memory Store. Objects are kept as JSON so that callers
// can never mutate stored state. Transactions are serialized by txMu and write
// into an overlay (memTx) that is applied to the committed state under mu at
// commit, so reads outside a transaction see committed data only and never
// wait for a transaction to finish.
type memoryStore struct {
	memView
	txMu      sync.Mutex   // held for the whole of InTx
	mu        sync.RWMutex // guards the fields below
	memData                // committed
	lastSeq   int64        // last outbox seq committed
	consumers map[[2]string]struct{}
}

var _ Store = (*memoryStore)(nil)

// NewMemoryStore returns an empty in-memory Store, safe for concurrent use. It
// follows the same contract as the SQL stores (optimistic versions,
// append-only quarantine records, reviews and audit entries, a hash-chained
// audit log, one active release) and loses everything when the process
// exits. A Tx it hands to InTx is for the goroutine running fn.
func NewMemoryStore() Store {
	s := &memoryStore{memData: newMemData(), consumers: map[[2]string]struct{}{}}
	s.memView = memView{s: s}
	return s
}

// InTx runs fn with exclusive write access; its writes are applied only when
// fn returns nil and ctx is still live.
func (s *memoryStore) InTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	s.txMu.Lock()
	defer s.txMu.Unlock()
	t := &memTx{memData: newMemData()}
	t.memView = memView{s: s, t: t}
	err := fn(ctx, t)
	t.done = true
	if err != nil {
		return err // the caller's own error: it already says what failed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, rows := range t.rows {
		for id, r := range rows {
			s.rows[k][id] = r
		}
	}
	s.audit = append(s.audit, t.audit...)
	s.outbox = append(s.outbox, t.outbox...)
	s.lastSeq += int64(len(t.outbox))
	for id := range t.eventIDs {
		s.eventIDs[id] = struct{}{}
	}
	for k, v := range t.kv {
		s.kv[k] = v
	}
	return nil
}

// OutboxPending returns up to limit (0 = all) unpublished events in commit order.
func (s *memoryStore) OutboxPending(_ context.Context, limit int) ([]Event, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []Event{}
	for _, o := range s.outbox {
		if limit > 0 && len(out) >= limit {
			break
		}
		var ev Event
		if err := json.Unmarshal(o.data, &ev); err != nil {
			return nil, fmt.Errorf("decode outbox event %d: %w", o.seq, err)
		}
		ev.Seq = o.seq
		out = append(out, ev)
	}
	return out, nil
}

// OutboxMarkPublished drops the events from the pending list; unknown or
// already published sequence numbers are ignored.
func (s *memoryStore) OutboxMarkPublished(_ context.Context, seqs []int64, _ time.Time) error {
	done := make(map[int64]bool, len(seqs))
	for _, q := range seqs {
		done[q] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outbox = slices.DeleteFunc(s.outbox, func(o memLog) bool { return done[o.seq] })
	return nil
}

// ConsumerMarkProcessed records (consumer, eventID) and reports whether it was new.
func (s *memoryStore) ConsumerMarkProcessed(_ context.Context, consumer, eventID string, _ time.Time) (bool, error) {
	k := [2]string{consumer, eventID}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.consumers[k]; ok {
		return false, nil
	}
	s.consumers[k] = struct{}{}
	return true, nil
}

// Close does nothing: the memory store holds no external resources.
func (s *memoryStore) Close() error { return nil }

// memTx is a memory store transaction: an overlay of new rows on the
// committed state, discarded on rollback. Only the goroutine running the
// transaction's fn uses it, and only while fn runs (done after).
type memTx struct {
	memView
	memData
	done bool
}

var _ Tx = (*memTx)(nil)

var errMemTxDone = errors.New("transaction has already finished")

// memView reads committed state (t == nil) or a transaction's writes over it.
type memView struct {
	s *memoryStore
	t *memTx
}

func (v memView) row(k memKind, id string) (*memRow, error) {
	if v.t != nil {
		if v.t.done {
			return nil, errMemTxDone
		}
		if r, ok := v.t.rows[k][id]; ok {
			return r, nil
		}
	}
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	return v.s.rows[k][id], nil
}

// scan calls fn for every row of kind k, in no particular order.
func (v memView) scan(k memKind, fn func(*memRow)) error {
	var over map[string]*memRow
	if v.t != nil {
		if v.t.done {
			return errMemTxDone
		}
		over = v.t.rows[k]
	}
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	for id, r := range v.s.rows[k] {
		if _, ok := over[id]; !ok {
			fn(r)
		}
	}
	for _, r := range over {
		fn(r)
	}
	return nil
}

// lastAudit returns the last entry of the chain (zero when it is empty).
func (v memView) lastAudit() memLog {
	if n := len(v.t.audit); n > 0 {
		return v.t.audit[n-1]
	}
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	if n := len(v.s.audit); n > 0 {
		return v.s.audit[n-1]
	}
	return memLog{}
}

// put stores obj as a row of kind k. With insert it refuses an existing id and
// sets *version to 1; otherwise it requires the stored version to equal
// *version and increments it. version is nil for unversioned kinds. On error
// obj is left as it was.
func (t *memTx) put(k memKind, id string, version *int64, insert bool, obj any, r *memRow) error {
	name, verb := memKindNames[k], "update"
	if insert {
		verb = "insert"
	}
	if id == "" || !utf8.ValidString(id) {
		return fmt.Errorf("%s %s %q: %w: id must be non-empty UTF-8", verb, name, id, ErrInvalidInput)
	}
	old, err := t.row(k, id)
	switch {
	case err != nil:
		return fmt.Errorf("%s %s %q: %w", verb, name, id, err)
	case insert && old != nil:
		return fmt.Errorf("insert %s %q: already exists: %w", name, id, ErrConflict)
	case !insert && old == nil:
		return fmt.Errorf("update: %w", notFound(name, id))
	case !insert && old.version != *version:
		return fmt.Errorf("update %s %q: stored version is %d, not %d: %w", name, id, old.version, *version, ErrConflict)
	}
	if k == memRelease && r.state == string(ReleaseActive) {
		var other string
		_ = t.scan(k, func(o *memRow) {
			if o.id != id && o.state == string(ReleaseActive) {
				other = o.id
			}
		})
		if other != "" {
			return fmt.Errorf("%s release %q: release %q is already active: %w", verb, id, other, ErrConflict)
		}
	}
	var prev int64
	if version != nil {
		prev = *version
		*version = prev + 1
		if insert {
			*version = 1
		}
		r.version = *version
	}
	data, err := json.Marshal(obj)
	if err != nil {
		if version != nil {
			*version = prev
		}
		return fmt.Errorf("%s %s %q: encode: %w", verb, name, id, err)
	}
	r.id, r.data = id, data
	t.rows[k][id] = r
	return nil
}

// ExperimentInsert stores a new experiment with Version 1.
func (t *memTx) ExperimentInsert(_ context.Context, e *Experiment) error {
	return t.put(memExperiment, e.ID, &e.Version, true, e, &memRow{state: string(e.State), at: e.CreatedAt})
}

// ExperimentUpdate stores e if its Version is current and increments it.
func (t *memTx) ExperimentUpdate(_ context.Context, e *Experiment) error {
	return t.put(memExperiment, e.ID, &e.Version, false, e, &memRow{state: string(e.State), at: e.CreatedAt})
}

// PromotionInsert stores a new promotion with Version 1.
func (t *memTx) PromotionInsert(_ context.Context, p *PromotionRequest) error {
	return t.put(memPromotion, p.RequestID, &p.Version, true, p, memPromotionRow(p))
}

// PromotionUpdate stores p if its Version is current and increments it.
func (t *memTx) PromotionUpdate(_ context.Context, p *PromotionRequest) error {
	return t.put(memPromotion, p.RequestID, &p.Version, false, p, memPromotionRow(p))
}

func memPromotionRow(p *PromotionRequest) *memRow {
	return &memRow{state: string(p.State), owner: p.ExperimentID, at: p.RequestedAt}
}

// ReleaseInsert stores a new release with Version 1; a second active release
// is a conflict.
func (t *memTx) ReleaseInsert(_ context.Context, r *Release) error {
	return t.put(memRelease, r.ID, &r.Version, true, r, &memRow{state: string(r.State), at: r.ActivatedAt})
}

// ReleaseUpdate stores r if its Version is current and increments it.
func (t *memTx) ReleaseUpdate(_ context.Context, r *Release) error {
	return t.put(memRelease, r.ID, &r.Version, false, r, &memRow{state: string(r.State), at: r.ActivatedAt})
}

// QuarantineInsert appends an immutable quarantine record.
func (t *memTx) QuarantineInsert(_ context.Context, r *QuarantineRecord) error {
	return t.put(memRecord, r.RecordID, nil, true, r,
		&memRow{owner: r.ExperimentID, at: r.QuarantinedAt, due: r.NextReviewAt})
}

// QuarantineReviewInsert appends an immutable review of an existing record.
func (t *memTx) QuarantineReviewInsert(_ context.Context, r *QuarantineReview) error {
	rec, err := t.row(memRecord, r.RecordID)
	if err != nil {
		return fmt.Errorf("insert quarantine review %q: %w", r.ReviewID, err)
	}
	if rec == nil {
		return fmt.Errorf("insert quarantine review %q: quarantine record %q: %w", r.ReviewID, r.RecordID, ErrNotFound)
	}
	return t.put(memReview, r.ReviewID, nil, true, r,
		&memRow{owner: r.RecordID, at: r.ReviewedAt, due: r.NextReviewAt})
}

// BlacklistInsert stores a blacklist entry.
func (t *memTx) BlacklistInsert(_ context.Context, b *BlacklistEntry) error {
	return t.put(memBlacklist, b.ID, nil, true, b, memBlacklistRow(b))
}

func memBlacklistRow(b *BlacklistEntry) *memRow {
	r := &memRow{owner: b.RecordID, key: b.Key, at: b.CreatedAt}
	if !b.LiftedAt.IsZero() {
		r.state = memLifted
	}
	return r
}

// BlacklistLift marks every active entry of recordID lifted by by at at.
func (t *memTx) BlacklistLift(_ context.Context, recordID, by string, at time.Time) (int, error) {
	var active []*memRow
	if err := t.scan(memBlacklist, func(r *memRow) {
		if r.owner == recordID && r.state != memLifted {
			active = append(active, r)
		}
	}); err != nil {
		return 0, fmt.Errorf("lift blacklist of record %q: %w", recordID, err)
	}
	for _, r := range active {
		var b BlacklistEntry
		if err := json.Unmarshal(r.data, &b); err != nil {
			return 0, fmt.Errorf("lift blacklist entry %q: decode: %w", r.id, err)
		}
		b.LiftedAt, b.LiftedBy = at, by
		data, err := json.Marshal(&b)
		if err != nil {
			return 0, fmt.Errorf("lift blacklist entry %q: encode: %w", r.id, err)
		}
		nr := memBlacklistRow(&b)
		nr.id, nr.data, nr.state = r.id, data, memLifted
		t.rows[memBlacklist][r.id] = nr
	}
	return len(active), nil
}

// ProposalInsert stores a new proposal with Version 1.
func (t *memTx) ProposalInsert(_ context.Context, p *Proposal) error {
	return t.put(memProposal, p.ProposalID, &p.Version, true, p, memProposalRow(p))
}

// ProposalUpdate stores p if its Version is current and increments it.
func (t *memTx) ProposalUpdate(_ context.Context, p *Proposal) error {
	return t.put(memProposal, p.ProposalID, &p.Version, false, p, memProposalRow(p))
}

func memProposalRow(p *Proposal) *memRow {
	return &memRow{state: string(p.State), owner: p.RecordID, at: p.CreatedAt, prio: p.Priority}
}

// KVPut stores a copy of value under key.
func (t *memTx) KVPut(_ context.Context, key string, value []byte, _ time.Time) error {
	switch {
	case t.done:
		return fmt.Errorf("put state %q: %w", key, errMemTxDone)
	case key == "":
		return fmt.Errorf("put state: %w: key is empty", ErrInvalidInput)
	}
	t.kv[key] = append([]byte{}, value...)
	return nil
}

// OutboxAppend queues events for the relay and sets their Seq.
func (t *memTx) OutboxAppend(_ context.Context, events ...Event) error {
	if t.done {
		return fmt.Errorf("append events: %w", errMemTxDone)
	}
	t.s.mu.RLock()
	defer t.s.mu.RUnlock()
	next := t.s.lastSeq + int64(len(t.outbox)) + 1
	staged, batch := make([]memLog, 0, len(events)), make(map[string]bool, len(events))
	for i, ev := range events {
		_, inTx := t.eventIDs[ev.ID]
		_, inStore := t.s.eventIDs[ev.ID]
		if ev.ID == "" || !utf8.ValidString(ev.ID) {
			return fmt.Errorf("append %s event %q: %w: id must be non-empty UTF-8", ev.Type, ev.ID, ErrInvalidInput)
		} else if inTx || inStore || batch[ev.ID] {
			return fmt.Errorf("append event %q: already in the outbox: %w", ev.ID, ErrConflict)
		}
		batch[ev.ID] = true
		data, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("append event %q: encode: %w", ev.ID, err)
		}
		staged = append(staged, memLog{seq: next + int64(i), data: data})
	}
	for i, o := range staged {
		events[i].Seq = o.seq
		t.eventIDs[events[i].ID] = struct{}{}
	}
	t.outbox = append(t.outbox, staged...)
	return nil
}

// AuditAppend links e to the end of the chain and stores it.
func (t *memTx) AuditAppend(_ context.Context, e *AuditEntry) error {
	if t.done {
		return fmt.Errorf("append audit entry: %w", errMemTxDone)
	}
	last := t.lastAudit()
	entry := *e
	entry.Seq, entry.PrevHash = last.seq+1, last.hash
	// Hash the details as they will read back (a struct becomes a map with
	// sorted keys, numbers become float64), so that the chain verifies.
	raw, err := json.Marshal(entry.Details)
	entry.Details = nil
	if err == nil {
		err = json.Unmarshal(raw, &entry.Details)
	}
	if err != nil {
		return fmt.Errorf("append audit entry %s %s: details: %w", e.Action, e.Target, err)
	}
	entry.Hash = AuditHash(&entry)
	data, err := json.Marshal(&entry)
	if err != nil {
		return fmt.Errorf("append audit entry %s %s: encode: %w", entry.Action, entry.Target, err)
	}
	t.audit = append(t.audit, memLog{seq: entry.Seq, hash: entry.Hash, data: data})
	*e = entry
	return nil
}

func memGet[T any](v memView, k memKind, id string) (*T, error) {
	r, err := v.row(k, id)
	if err != nil {
		return nil, fmt.Errorf("get %s %q: %w", memKindNames[k], id, err)
	}
	if r == nil {
		return nil, notFound(memKindNames[k], id)
	}
	return memDecode[T](k, r)
}

func memDecode[T any](k memKind, r *memRow) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(r.data, v); err != nil {
		return nil, fmt.Errorf("decode %s %q: %w", memKindNames[k], r.id, err)
	}
	return v, nil
}

// memList decodes the rows of kind k that keep accepts, ordered by order and
// then by id, up to limit (0 = all).
func memList[T any](v memView, k memKind, keep func(*memRow) bool, order func(a, b *memRow) int, limit int) ([]*T, error) {
	var rows []*memRow
	if err := v.scan(k, func(r *memRow) {
		if keep(r) {
			rows = append(rows, r)
		}
	}); err != nil {
		return nil, fmt.Errorf("list %ss: %w", memKindNames[k], err)
	}
	slices.SortFunc(rows, func(a, b *memRow) int { return cmp.Or(order(a, b), cmp.Compare(a.id, b.id)) })
	if limit > 0 && len(rows) > limit {
		rows = rows[:limit]
	}
	out := make([]*T, 0, len(rows))
	for _, r := range rows {
		x, err := memDecode[T](k, r)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

func memOldestFirst(a, b *memRow) int { return a.at.Compare(b.at) }

func memAll(*memRow) bool { return true }

func memStateIn[S ~string](states []S) func(*memRow) bool {
	return func(r *memRow) bool { return len(states) == 0 || slices.Contains(states, S(r.state)) }
}

// ExperimentGet returns the experiment or an ErrNotFound error naming id.
func (v memView) ExperimentGet(_ context.Context, id string) (*Experiment, error) {
	return memGet[Experiment](v, memExperiment, id)
}

// ExperimentList returns the matching experiments, oldest first.
func (v memView) ExperimentList(_ context.Context, f ExperimentFilter) ([]*Experiment, error) {
	return memList[Experiment](v, memExperiment, memStateIn(f.States), memOldestFirst, f.Limit)
}

// PromotionGet returns the promotion or an ErrNotFound error naming id.
func (v memView) PromotionGet(_ context.Context, id string) (*PromotionRequest, error) {
	return memGet[PromotionRequest](v, memPromotion, id)
}

// PromotionList returns the matching promotions, oldest first.
func (v memView) PromotionList(_ context.Context, f PromotionFilter) ([]*PromotionRequest, error) {
	in := memStateIn(f.States)
	keep := func(r *memRow) bool { return in(r) && (f.ExperimentID == "" || r.owner == f.ExperimentID) }
	return memList[PromotionRequest](v, memPromotion, keep, memOldestFirst, f.Limit)
}

// ReleaseActive returns the active release or an ErrNotFound error.
func (v memView) ReleaseActive(_ context.Context) (*Release, error) {
	active, err := memList[Release](v, memRelease, memStateIn([]ReleaseState{ReleaseActive}), memOldestFirst, 1)
	if err != nil {
		return nil, err
	}
	if len(active) == 0 {
		return nil, fmt.Errorf("active release: %w", ErrNotFound)
	}
	return active[0], nil
}

// ReleaseGet returns the release or an ErrNotFound error naming id.
func (v memView) ReleaseGet(_ context.Context, id string) (*Release, error) {
	return memGet[Release](v, memRelease, id)
}

// ReleaseList returns every release, newest activation first.
func (v memView) ReleaseList(_ context.Context) ([]*Release, error) {
	newest := func(a, b *memRow) int { return cmp.Or(b.at.Compare(a.at), cmp.Compare(b.id, a.id)) }
	return memList[Release](v, memRelease, memAll, newest, 0)
}

// QuarantineGet returns the record or an ErrNotFound error naming id.
func (v memView) QuarantineGet(_ context.Context, id string) (*QuarantineRecord, error) {
	return memGet[QuarantineRecord](v, memRecord, id)
}

// QuarantineList returns the matching records, oldest first. A record's next
// review is its latest review's NextReviewAt when that is set, else its own;
// DueBefore compares with that, and a zero next review is never due.
func (v memView) QuarantineList(_ context.Context, f QuarantineFilter) ([]*QuarantineRecord, error) {
	latest := map[string]*memRow{}
	if !f.DueBefore.IsZero() {
		if err := v.scan(memReview, func(r *memRow) {
			if l, ok := latest[r.owner]; !ok || cmp.Or(r.at.Compare(l.at), cmp.Compare(r.id, l.id)) > 0 {
				latest[r.owner] = r
			}
		}); err != nil {
			return nil, fmt.Errorf("list quarantine records: %w", err)
		}
	}
	keep := func(r *memRow) bool {
		if f.ExperimentID != "" && r.owner != f.ExperimentID {
			return false
		}
		due := r.due
		if l, ok := latest[r.id]; ok && !l.due.IsZero() {
			due = l.due
		}
		return f.DueBefore.IsZero() || (!due.IsZero() && due.Before(f.DueBefore))
	}
	return memList[QuarantineRecord](v, memRecord, keep, memOldestFirst, f.Limit)
}

// QuarantineReviews returns the record's reviews, oldest first.
func (v memView) QuarantineReviews(_ context.Context, recordID string) ([]*QuarantineReview, error) {
	return memList[QuarantineReview](v, memReview, func(r *memRow) bool { return r.owner == recordID }, memOldestFirst, 0)
}

// BlacklistFind returns the entries, not lifted, whose Key is one of keys.
func (v memView) BlacklistFind(_ context.Context, keys []string) ([]*BlacklistEntry, error) {
	keep := func(r *memRow) bool { return r.state != memLifted && slices.Contains(keys, r.key) }
	return memList[BlacklistEntry](v, memBlacklist, keep, memOldestFirst, 0)
}

// BlacklistList returns entries, oldest first; activeOnly skips lifted ones.
func (v memView) BlacklistList(_ context.Context, activeOnly bool) ([]*BlacklistEntry, error) {
	keep := func(r *memRow) bool { return !activeOnly || r.state != memLifted }
	return memList[BlacklistEntry](v, memBlacklist, keep, memOldestFirst, 0)
}

// ProposalGet returns the proposal or an ErrNotFound error naming id.
func (v memView) ProposalGet(_ context.Context, id string) (*Proposal, error) {
	return memGet[Proposal](v, memProposal, id)
}

// ProposalList returns the matching proposals, highest priority first, then
// oldest first.
func (v memView) ProposalList(_ context.Context, f ProposalFilter) ([]*Proposal, error) {
	byPrio := func(a, b *memRow) int { return cmp.Or(cmp.Compare(b.prio, a.prio), a.at.Compare(b.at)) }
	return memList[Proposal](v, memProposal, memStateIn(f.States), byPrio, f.Limit)
}

// AuditList returns entries with Seq > f.AfterSeq in order, up to f.Limit (0 = all).
func (v memView) AuditList(_ context.Context, f AuditFilter) ([]*AuditEntry, error) {
	if v.t != nil && v.t.done {
		return nil, fmt.Errorf("list audit entries: %w", errMemTxDone)
	}
	v.s.mu.RLock()
	entries := slices.Clip(v.s.audit)
	v.s.mu.RUnlock()
	if v.t != nil {
		entries = append(entries, v.t.audit...)
	}
	out := []*AuditEntry{}
	for _, a := range entries {
		if a.seq <= f.AfterSeq {
			continue
		} else if f.Limit > 0 && len(out) >= f.Limit {
			break
		}
		var e AuditEntry
		if err := json.Unmarshal(a.data, &e); err != nil {
			return nil, fmt.Errorf("decode audit entry %d: %w", a.seq, err)
		}
		out = append(out, &e)
	}
	return out, nil
}

// KVGet returns a copy of the blob stored under key, or an ErrNotFound error.
func (v memView) KVGet(_ context.Context, key string) ([]byte, error) {
	if v.t != nil {
		if v.t.done {
			return nil, fmt.Errorf("get state %q: %w", key, errMemTxDone)
		}
		if b, ok := v.t.kv[key]; ok {
			return append([]byte{}, b...), nil
		}
	}
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	b, ok := v.s.kv[key]
	if !ok {
		return nil, notFound("state", key)
	}
	return append([]byte{}, b...), nil
}
