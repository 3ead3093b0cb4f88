package scale

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// Webhook protocol constants.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the
	// request body under the shared secret.
	SignatureHeader = "X-Tricycle-Signature"
	// MinSecretBytes is the shortest shared secret NewWebhook accepts.
	MinSecretBytes = 16
	// MaxResponseBytes bounds a webhook response body.
	MaxResponseBytes = 64 << 10
	// DefaultWebhookTimeout bounds one webhook request when
	// WebhookOptions.Timeout is zero.
	DefaultWebhookTimeout = 10 * time.Second

	signaturePrefix = "sha256="
	userAgent       = "tricycle-scaler"
	snippetBytes    = 200
)

// ErrBadResponse means a webhook answered something other than the
// protocol allows: a status other than 200, another content type, a body
// too large or not exactly {"replicas": n}, or a count other than the one
// asked for.
var ErrBadResponse = errors.New("bad webhook response")

// Sign returns the value of SignatureHeader for body under secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether header is the signature of body under secret. It
// compares in constant time; receivers call it before acting on a request.
func Verify(secret, body []byte, header string) bool {
	got, ok := strings.CutPrefix(header, signaturePrefix)
	if !ok {
		return false
	}
	sum, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(sum, mac.Sum(nil))
}

// WebhookOptions configure a webhook scaler.
type WebhookOptions struct {
	// URL receives GET (read the count) and POST (set it); http or https.
	URL string
	// Secret is the shared HMAC key, at least MinSecretBytes long.
	Secret []byte
	// Timeout bounds each request; zero means DefaultWebhookTimeout.
	Timeout time.Duration
	// Client sends the requests; nil means a client with the default
	// transport. Its redirect policy is replaced: redirects are refused.
	Client *http.Client
}

// Webhook scales the gateway by calling an HTTP endpoint. It is safe for
// concurrent use.
type Webhook struct {
	url     string        // absolute http(s) URL
	display string        // url with any password redacted, for errors
	secret  []byte        // len >= MinSecretBytes
	timeout time.Duration // > 0
	client  *http.Client  // non-nil, never follows redirects
}

var _ coordination.Scaler = (*Webhook)(nil)

// NewWebhook checks opts and returns a webhook scaler. It makes no request.
func NewWebhook(opts WebhookOptions) (*Webhook, error) {
	var errs []error
	u, err := url.Parse(opts.URL)
	switch {
	case opts.URL == "":
		errs = append(errs, errors.New("url: must not be empty"))
	case err != nil:
		errs = append(errs, fmt.Errorf("url: %w", err))
	case u.Scheme != "http" && u.Scheme != "https":
		errs = append(errs, fmt.Errorf("url: scheme %q is not http or https", u.Scheme))
	case u.Host == "":
		errs = append(errs, errors.New("url: names no host"))
	}
	if len(opts.Secret) < MinSecretBytes {
		errs = append(errs, fmt.Errorf("secret: %d bytes is shorter than %d", len(opts.Secret), MinSecretBytes))
	}
	if opts.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: must not be negative, got %s", opts.Timeout))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("webhook scaler: %w: %w", coordination.ErrInvalidInput, err)
	}
	client := &http.Client{}
	if opts.Client != nil {
		c := *opts.Client
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	w := &Webhook{
		url:     u.String(),
		display: u.Redacted(),
		secret:  bytes.Clone(opts.Secret),
		timeout: opts.Timeout,
		client:  client,
	}
	if w.timeout == 0 {
		w.timeout = DefaultWebhookTimeout
	}
	return w, nil
}

// scaleRequest is the body of a POST.
type scaleRequest struct {
	Replicas int    `json:"replicas"`
	Reason   string `json:"reason"`
}

// Replicas asks the webhook for the current count: GET → 200 {"replicas": n}.
func (w *Webhook) Replicas(ctx context.Context) (int, error) {
	n, err := w.do(ctx, http.MethodGet, nil)
	if err != nil {
		return 0, fmt.Errorf("read replicas from webhook %s: %w", w.display, err)
	}
	return n, nil
}

// Scale asks the webhook to set the count: POST {"replicas", "reason"} →
// 200 {"replicas": n} with n the count asked for.
func (w *Webhook) Scale(ctx context.Context, replicas int, reason string) error {
	if replicas < 1 {
		return fmt.Errorf("scale through webhook %s to %d replicas: %w: replicas must be at least 1",
			w.display, replicas, coordination.ErrInvalidInput)
	}
	body, err := json.Marshal(scaleRequest{Replicas: replicas, Reason: reason})
	if err != nil {
		return fmt.Errorf("scale through webhook %s: encode request: %w", w.display, err)
	}
	n, err := w.do(ctx, http.MethodPost, body)
	if err == nil && n != replicas {
		err = fmt.Errorf("%w: acknowledged %d replicas, asked for %d", ErrBadResponse, n, replicas)
	}
	if err != nil {
		return fmt.Errorf("scale through webhook %s to %d replicas: %w", w.display, replicas, err)
	}
	return nil
}

// do sends one signed request and decodes the replica count it answers.
func (w *Webhook) do(ctx context.Context, method string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, w.url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("build %s request: %w", method, err)
	}
	req.Header.Set(SignatureHeader, Sign(w.secret, body))
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := w.client.Do(req)
	if err != nil {
		// The error names the URL the request went to; report ours instead,
		// without a password, and keep the cause (a timeout, a refusal).
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return 0, fmt.Errorf("%s: %w", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return 0, fmt.Errorf("%s: read response: %w", method, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %w: status %d: %q", method, ErrBadResponse, resp.StatusCode, snippet(data))
	}
	n, err := decodeReplicas(resp.Header.Get("Content-Type"), data)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", method, err)
	}
	return n, nil
}

// decodeReplicas reads a response body that must be exactly one JSON
// object {"replicas": n} with n >= 0, of type application/json, and at most
// MaxResponseBytes long. Every error wraps ErrBadResponse.
func decodeReplicas(contentType string, data []byte) (int, error) {
	if len(data) > MaxResponseBytes {
		return 0, fmt.Errorf("%w: body larger than %d bytes", ErrBadResponse, MaxResponseBytes)
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return 0, fmt.Errorf("%w: content type %q is not application/json", ErrBadResponse, contentType)
	}
	// Decode into a map, not a struct: encoding/json matches struct fields
	// case-insensitively, and the protocol has exactly one field, spelt
	// "replicas".
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&fields); err != nil {
		return 0, fmt.Errorf("%w: %v: %q", ErrBadResponse, err, snippet(data))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("%w: data after the JSON object: %q", ErrBadResponse, snippet(data))
	}
	raw, ok := fields["replicas"]
	switch {
	case fields == nil || !ok:
		return 0, fmt.Errorf("%w: no \"replicas\" field: %q", ErrBadResponse, snippet(data))
	case len(fields) != 1:
		return 0, fmt.Errorf("%w: unknown fields besides \"replicas\": %q", ErrBadResponse, snippet(data))
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fmt.Errorf("%w: replicas %s is not an integer", ErrBadResponse, raw)
	}
	if n < 0 {
		return 0, fmt.Errorf("%w: negative replica count %d", ErrBadResponse, n)
	}
	return n, nil
}

// snippet returns the start of a response body for an error message.
func snippet(data []byte) string {
	return truncate(string(data), snippetBytes)
}
