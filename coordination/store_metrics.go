package coordination

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"
)

// MetricBucket is one persisted time bucket of a measured series: the
// data plane's aggregate of every review outcome of Series recorded in the
// bucket that starts at Start. Data is the recorder's encoding of the
// aggregate (counters and a latency sketch); the store keeps it as opaque
// bytes. A series and a start identify a bucket.
type MetricBucket struct {
	Series string    `json:"series"`
	Start  time.Time `json:"start"`
	Data   []byte    `json:"data"`
}

// Feedback verdicts on a finding.
const (
	// VerdictAccepted means the user agreed with the finding.
	VerdictAccepted = "accepted"
	// VerdictDismissed means the user rejected the finding.
	VerdictDismissed = "dismissed"
)

// FindingFeedback is a user's verdict on one finding of a review.
type FindingFeedback struct {
	ID       string `json:"id"`
	ReviewID string `json:"review_id"`
	// Finding is the index of the finding in the review's findings.
	Finding  int    `json:"finding"`
	Category string `json:"category"`
	// Verdict is VerdictAccepted or VerdictDismissed.
	Verdict string `json:"verdict"`
	// Text is the user's comment; a dismissal with a comment is a complaint.
	Text string    `json:"text,omitempty"`
	By   string    `json:"by"`
	At   time.Time `json:"at"`
}

// Complaint reports whether the feedback is a complaint: a dismissal the
// user explained in words.
func (f *FindingFeedback) Complaint() bool { return f.Verdict == VerdictDismissed && f.Text != "" }

// Validate reports the first field a store would refuse: an ID that is
// empty or not UTF-8, or an unknown verdict (ErrInvalidInput).
func (f *FindingFeedback) Validate() error {
	if f.ID == "" || !utf8.ValidString(f.ID) {
		return fmt.Errorf("feedback %q: %w", f.ID, invalidInput("id", "must be non-empty UTF-8"))
	}
	if f.Verdict != VerdictAccepted && f.Verdict != VerdictDismissed {
		return fmt.Errorf("feedback %q: %w", f.ID, invalidInput("verdict", "%q is not %s or %s", f.Verdict, VerdictAccepted, VerdictDismissed))
	}
	return nil
}

// ValidMetricSeries reports an ErrInvalidInput error unless series is a
// non-empty UTF-8 name.
func ValidMetricSeries(series string) error {
	if series == "" || !utf8.ValidString(series) {
		return invalidInput("series", "%q must be non-empty UTF-8", series)
	}
	return nil
}

// MetricReader is the read half of the metric seam, part of Reader.
type MetricReader interface {
	// MetricBuckets returns series' buckets with Start at or after from,
	// oldest first (an empty, non-nil slice when there are none).
	MetricBuckets(ctx context.Context, series string, from time.Time) ([]MetricBucket, error)
	// MetricSeries returns the names of every series with a stored bucket,
	// sorted.
	MetricSeries(ctx context.Context) ([]string, error)
	// FeedbackSince returns the feedback given at or after since, oldest
	// first (then by ID).
	FeedbackSince(ctx context.Context, since time.Time) ([]*FindingFeedback, error)
}

// MetricWriter is the write half of the metric seam, part of Tx.
type MetricWriter interface {
	// MetricBucketPut stores b, replacing the bucket with the same Series
	// and Start; at is the time of the write. Series must be non-empty
	// UTF-8 (ErrInvalidInput).
	MetricBucketPut(ctx context.Context, b MetricBucket, at time.Time) error
	// MetricBucketsDelete removes every bucket, of every series, that starts
	// before before and returns how many it removed (retention).
	MetricBucketsDelete(ctx context.Context, before time.Time) (int, error)
	// FeedbackInsert stores f. ID must be non-empty UTF-8 and Verdict one of
	// the verdicts (ErrInvalidInput); a stored ID is ErrConflict.
	FeedbackInsert(ctx context.Context, f *FindingFeedback) error
}
