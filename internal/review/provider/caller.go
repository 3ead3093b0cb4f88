package provider

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrTimeout means one attempt took longer than RetryPolicy.PerCallTimeout.
var ErrTimeout = errors.New("provider call timed out")

// ErrBadResponse means a provider answered with a body that is not the
// response format of its API (malformed JSON, missing fields, too large).
// It is not retried.
var ErrBadResponse = errors.New("malformed provider response")

// StatusError is a response with a non-2xx status.
type StatusError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// RetryAfter is the wait the response asked for (zero when none).
	RetryAfter time.Duration
	// Body is the start of the response body, for diagnosis.
	Body string
}

// Error describes the status and the start of the body.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Retryable reports whether the status may succeed on a later attempt: 429
// and 5xx.
func (e *StatusError) Retryable() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// RetryPolicy bounds a Caller's retries; zero fields take the documented
// defaults.
type RetryPolicy struct {
	// MaxAttempts is the most attempts per call, the first included. Default 3.
	MaxAttempts int
	// PerCallTimeout bounds one attempt, reading the body included. Default 60s.
	PerCallTimeout time.Duration
	// MaxTotal bounds a call's attempts and waits together. Default 2m.
	MaxTotal time.Duration
	// BaseBackoff is the wait before the second attempt. Default 500ms.
	BaseBackoff time.Duration
	// MaxBackoff caps the exponential backoff (not Retry-After). Default 20s.
	MaxBackoff time.Duration
}

// withDefaults fills zero fields and validates the rest.
func (p RetryPolicy) withDefaults() (RetryPolicy, error) {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = 3
	}
	def(&p.PerCallTimeout, 60*time.Second)
	def(&p.MaxTotal, 2*time.Minute)
	def(&p.BaseBackoff, 500*time.Millisecond)
	def(&p.MaxBackoff, 20*time.Second)
	switch {
	case p.MaxAttempts < 0:
		return p, fmt.Errorf("retry max attempts %d must be > 0", p.MaxAttempts)
	case p.PerCallTimeout < 0, p.MaxTotal < 0, p.BaseBackoff < 0, p.MaxBackoff < 0:
		return p, errors.New("retry durations must be > 0")
	case p.MaxBackoff < p.BaseBackoff:
		return p, fmt.Errorf("retry max backoff %s is below base backoff %s", p.MaxBackoff, p.BaseBackoff)
	}
	return p, nil
}

// CallerConfig configures a Caller; every field is optional.
type CallerConfig struct {
	// Client sends requests; nil means a client without its own timeout
	// (attempts are bounded by RetryPolicy.PerCallTimeout).
	Client *http.Client
	// Clock measures time and waits between attempts; nil means the system clock.
	Clock Clock
	// Rand is the jitter source; nil means one seeded from crypto/rand.
	// Tests pass a seeded source for reproducible waits.
	Rand *mrand.Rand
	// Retry bounds attempts and waits.
	Retry RetryPolicy
	// Breaker tunes the caller's circuit breaker.
	Breaker BreakerConfig
	// MaxResponseBytes bounds a response body; larger ones fail with
	// ErrBadResponse. Default 16 MiB.
	MaxResponseBytes int64
}

// HTTPRequest is one request a Caller sends, possibly several times.
type HTTPRequest struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

// HTTPResponse is a successful (2xx) response with its body read.
type HTTPResponse struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Caller sends HTTP requests to one provider with timeouts, retries and a
// circuit breaker. It is safe for concurrent use.
type Caller struct {
	client  *http.Client // non-nil
	clock   Clock        // non-nil
	retry   RetryPolicy  // defaults applied
	breaker *Breaker     // non-nil
	maxBody int64

	mu  sync.Mutex
	rng *mrand.Rand // guarded by mu
}

// NewCaller returns a Caller with its own circuit breaker.
func NewCaller(cfg CallerConfig) (*Caller, error) {
	retry, err := cfg.Retry.withDefaults()
	if err != nil {
		return nil, err
	}
	clock := clockOr(cfg.Clock)
	br, err := NewBreaker(cfg.Breaker, clock)
	if err != nil {
		return nil, err
	}
	c := &Caller{client: cfg.Client, clock: clock, retry: retry, breaker: br, maxBody: cfg.MaxResponseBytes, rng: cfg.Rand}
	if c.client == nil {
		c.client = &http.Client{}
	}
	if c.maxBody == 0 {
		c.maxBody = 16 << 20
	}
	if c.maxBody < 0 {
		return nil, fmt.Errorf("max response bytes %d must be > 0", c.maxBody)
	}
	if c.rng == nil {
		var seed [16]byte
		if _, err := rand.Read(seed[:]); err != nil {
			return nil, fmt.Errorf("seed jitter source: %w", err)
		}
		c.rng = mrand.New(mrand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
	}
	return c, nil
}

// Breaker returns the caller's circuit breaker.
func (c *Caller) Breaker() *Breaker { return c.breaker }

// Clock returns the caller's clock.
func (c *Caller) Clock() Clock { return c.clock }

// attemptKind classifies how one attempt ended.
type attemptKind int

const (
	attemptOK        attemptKind = iota // 2xx
	attemptRetryable                    // may succeed later
	attemptFinal                        // retrying cannot help
	attemptCancelled                    // the caller's context ended
)

// Do sends req, retrying as RetryPolicy and the package documentation say,
// and returns the first 2xx response. A non-2xx final answer is a
// *StatusError; an open circuit wraps ErrCircuitOpen; an attempt timeout
// wraps ErrTimeout. The error names the method and URL without its query.
func (c *Caller) Do(ctx context.Context, req HTTPRequest) (HTTPResponse, error) {
	where := req.Method + " " + safeURL(req.URL)
	start := c.clock.Now()
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return HTTPResponse{}, fmt.Errorf("%s: %w", where, err)
		}
		done, err := c.breaker.Allow()
		if err != nil {
			return HTTPResponse{}, fmt.Errorf("%s: attempt %d: %w", where, attempt, err)
		}
		timeout := min(c.retry.PerCallTimeout, c.retry.MaxTotal-c.clock.Now().Sub(start))
		resp, kind, retryAfter, err := c.attempt(ctx, req, timeout)
		done(outcomeOf(kind, err))
		switch kind {
		case attemptOK:
			return resp, nil
		case attemptFinal, attemptCancelled:
			return HTTPResponse{}, fmt.Errorf("%s: attempt %d: %w", where, attempt, err)
		}
		if attempt >= c.retry.MaxAttempts {
			return HTTPResponse{}, fmt.Errorf("%s: giving up after %d attempts: %w", where, attempt, err)
		}
		wait := retryAfter
		if wait <= 0 {
			wait = c.backoff(attempt)
		}
		if elapsed := c.clock.Now().Sub(start); elapsed+wait >= c.retry.MaxTotal {
			return HTTPResponse{}, fmt.Errorf("%s: giving up after %d attempts: waiting %s more would exceed the %s budget: %w",
				where, attempt, wait, c.retry.MaxTotal, err)
		}
		select {
		case <-ctx.Done():
			return HTTPResponse{}, fmt.Errorf("%s: waiting to retry: %w (last error: %w)", where, ctx.Err(), err)
		case <-c.clock.After(wait):
		}
	}
}

// outcomeOf tells the breaker what an attempt said about the provider.
func outcomeOf(kind attemptKind, err error) Outcome {
	switch kind {
	case attemptRetryable:
		return OutcomeFailure
	case attemptCancelled:
		return OutcomeIgnored
	}
	if isCertError(err) {
		return OutcomeIgnored
	}
	return OutcomeSuccess
}

// attempt sends req once within timeout.
func (c *Caller) attempt(ctx context.Context, req HTTPRequest, timeout time.Duration) (HTTPResponse, attemptKind, time.Duration, error) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(actx, req.Method, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return HTTPResponse{}, attemptFinal, 0, fmt.Errorf("build request: %w", err)
	}
	hreq.Header = req.Header.Clone()
	if hreq.Header == nil {
		hreq.Header = http.Header{}
	}
	resp, err := c.client.Do(hreq)
	if err != nil {
		kind, err := c.transportFailure(ctx, actx, timeout, err)
		return HTTPResponse{}, kind, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		se := &StatusError{
			StatusCode: resp.StatusCode,
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), c.clock.Now()),
			Body:       strings.TrimSpace(string(snippet)),
		}
		if se.Retryable() {
			return HTTPResponse{}, attemptRetryable, se.RetryAfter, se
		}
		return HTTPResponse{}, attemptFinal, 0, se
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		kind, err := c.transportFailure(ctx, actx, timeout, fmt.Errorf("read response body: %w", err))
		return HTTPResponse{}, kind, 0, err
	}
	if int64(len(body)) > c.maxBody {
		return HTTPResponse{}, attemptFinal, 0, fmt.Errorf("%w: body larger than %d bytes", ErrBadResponse, c.maxBody)
	}
	return HTTPResponse{StatusCode: resp.StatusCode, Header: resp.Header, Body: body}, attemptOK, 0, nil
}

// transportFailure classifies an error from sending a request or reading
// its body.
func (c *Caller) transportFailure(ctx, actx context.Context, timeout time.Duration, err error) (attemptKind, error) {
	switch {
	case ctx.Err() != nil:
		return attemptCancelled, err
	case actx.Err() != nil:
		return attemptRetryable, fmt.Errorf("%w after %s: %w", ErrTimeout, timeout, err)
	case isCertError(err):
		return attemptFinal, err
	}
	return attemptRetryable, err
}

// isCertError reports whether err is a TLS certificate verification failure,
// which no retry can fix.
func isCertError(err error) bool {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		cerr x509.CertificateInvalidError
	)
	return err != nil && (errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &cerr))
}

// backoff returns the jittered wait after the given failed attempt: half of
// min(MaxBackoff, BaseBackoff·2^(attempt-1)) plus a random part of the other half.
func (c *Caller) backoff(attempt int) time.Duration {
	d := c.retry.BaseBackoff
	for i := 1; i < attempt && d < c.retry.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.retry.MaxBackoff)
	half := d / 2
	if half <= 0 {
		return d
	}
	c.mu.Lock()
	j := time.Duration(c.rng.Int64N(int64(half) + 1))
	c.mu.Unlock()
	return d - half + j
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
// It returns zero when the header is absent, malformed or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 || secs > int64(24*time.Hour/time.Second) {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// safeURL strips the query and user info from u, which may carry keys.
func safeURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(invalid URL)"
	}
	p.RawQuery, p.Fragment, p.User = "", "", nil
	return p.String()
}

// ParseBaseURL validates an http(s) base URL from configuration and returns
// it without a trailing slash.
func ParseBaseURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("parse base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("base URL %q: scheme must be http or https", safeURL(base))
	}
	if u.Host == "" {
		return "", fmt.Errorf("base URL %q has no host", safeURL(base))
	}
	if u.User != nil || u.RawQuery != "" {
		return "", fmt.Errorf("base URL %q must not carry credentials or a query", safeURL(base))
	}
	return strings.TrimRight(base, "/"), nil
}
