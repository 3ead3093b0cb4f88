package coordination

import (
	"crypto/rand"
	"strings"
	"time"
)

// crockford is Crockford's base32 alphabet: sortable, no ambiguous letters.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID returns prefix + "-" + a 26-character sortable unique suffix in the
// ULID layout: 48 bits of milliseconds since the epoch followed by 80 random
// bits, both in Crockford base32. IDs made later sort after earlier ones
// (within a millisecond the order is random).
func NewID(prefix string, now time.Time) string {
	var b strings.Builder
	b.Grow(len(prefix) + 27)
	b.WriteString(prefix)
	b.WriteByte('-')
	ms := uint64(now.UnixMilli())
	for i := 9; i >= 0; i-- {
		b.WriteByte(crockford[(ms>>(uint(i)*5))&31])
	}
	var r [16]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails on supported platforms
	for _, x := range r {
		b.WriteByte(crockford[x&31])
	}
	return b.String()
}

// ID prefixes of the objects this package creates.
const (
	PrefixExperiment = "exp"
	PrefixPromotion  = "prm"
	PrefixRecord     = "qr"
	PrefixReview     = "rev"
	PrefixProposal   = "prop"
	PrefixRelease    = "rel"
	PrefixEvent      = "evt"
	PrefixBlacklist  = "bl"
)
