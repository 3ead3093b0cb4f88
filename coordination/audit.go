package coordination

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// AuditHash computes an entry's chain hash: SHA-256 over the previous hash and
// the entry's content (seq, time, actor, role, action, target, details) in a
// canonical JSON form. Changing any of these, or the order of entries,
// changes every hash after it.
func AuditHash(e *AuditEntry) string {
	content := struct {
		Seq     int64          `json:"seq"`
		At      string         `json:"at"`
		Actor   string         `json:"actor"`
		Role    Role           `json:"role"`
		Action  string         `json:"action"`
		Target  string         `json:"target"`
		Details map[string]any `json:"details,omitempty"`
	}{e.Seq, e.At.UTC().Format(time.RFC3339Nano), e.Actor, e.Role, e.Action, e.Target, e.Details}
	raw, _ := json.Marshal(content) // plain JSON values only
	h := sha256.New()
	h.Write([]byte(e.PrevHash))
	h.Write([]byte{0})
	h.Write(raw)
	return hex.EncodeToString(h.Sum(nil))
}

// AuditVerification is the result of checking the audit chain.
type AuditVerification struct {
	OK      bool  `json:"ok"`
	Entries int64 `json:"entries"`
	// FirstBadSeq is the first entry that was altered, removed or reordered
	// (0 when OK).
	FirstBadSeq int64  `json:"first_bad_seq,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// VerifyAuditChain checks entries (in stored order, starting at seq 1) and
// names the first one that was altered, removed or reordered.
func VerifyAuditChain(entries []*AuditEntry) AuditVerification {
	prev := ""
	for i, e := range entries {
		want := int64(i + 1)
		if e.Seq != want {
			return AuditVerification{Entries: int64(len(entries)), FirstBadSeq: want,
				Reason: fmt.Sprintf("entry %d is missing or out of order (found seq %d)", want, e.Seq)}
		}
		if e.PrevHash != prev {
			return AuditVerification{Entries: int64(len(entries)), FirstBadSeq: e.Seq,
				Reason: fmt.Sprintf("entry %d does not link to entry %d (an entry was removed, reordered or altered)", e.Seq, e.Seq-1)}
		}
		if AuditHash(e) != e.Hash {
			return AuditVerification{Entries: int64(len(entries)), FirstBadSeq: e.Seq,
				Reason: fmt.Sprintf("entry %d was altered: its content does not match its hash", e.Seq)}
		}
		prev = e.Hash
	}
	return AuditVerification{OK: true, Entries: int64(len(entries))}
}

// kvAuditHead is the store key of the audit chain's head.
const kvAuditHead = "audit/head"

// auditHead is the last entry of the chain as recorded with each append.
type auditHead struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// verifyHead extends a chain verification with the recorded head: entries
// removed from the end of the log are named too.
func verifyHead(v AuditVerification, entries []*AuditEntry, head *auditHead) AuditVerification {
	if !v.OK || head == nil {
		return v
	}
	last := int64(0)
	lastHash := ""
	if n := len(entries); n > 0 {
		last, lastHash = entries[n-1].Seq, entries[n-1].Hash
	}
	switch {
	case head.Seq > last:
		return AuditVerification{Entries: v.Entries, FirstBadSeq: last + 1,
			Reason: fmt.Sprintf("entry %d was removed: the log ends at entry %d but its head records entry %d", last+1, last, head.Seq)}
	case head.Seq == last && head.Hash != lastHash:
		return AuditVerification{Entries: v.Entries, FirstBadSeq: last,
			Reason: fmt.Sprintf("entry %d was altered: it does not match the recorded head", last)}
	}
	return v
}
