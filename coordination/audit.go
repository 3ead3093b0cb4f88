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
