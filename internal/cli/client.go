package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// DefaultServer is the API address client commands use when neither
// --server nor TRICYCLE_SERVER is given.
const DefaultServer = "http://127.0.0.1:8080"

// maxResponseBytes bounds what the client reads of one API response.
const maxResponseBytes = 32 << 20

// ClientOptions configure an API client.
type ClientOptions struct {
	// Server is the base URL of the tricycle server (scheme and host, with an
	// optional path prefix).
	Server string
	// Token is the bearer token; empty sends no Authorization header.
	Token string
	// ConnectTimeout bounds dialing the server (default 5s).
	ConnectTimeout time.Duration
	// Timeout bounds a whole request, response body included (default 30s).
	Timeout time.Duration
	// UserAgent is sent with every request (default "tricycle/<version>").
	UserAgent string
	// Transport replaces the HTTP transport (tests); nil builds one with
	// ConnectTimeout.
	Transport http.RoundTripper
}

// Client talks to the HTTP API under /api/v1. It never writes the token
// anywhere but the Authorization header. It is safe for concurrent use.
type Client struct {
	base  *url.URL // non-nil; no user info, no trailing slash in Path
	token string
	agent string
	http  *http.Client // non-nil
}

// NewClient checks the server URL and builds a client.
func NewClient(opts ClientOptions) (*Client, error) {
	raw := strings.TrimSpace(opts.Server)
	if raw == "" {
		raw = DefaultServer
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("server address %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("server address %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("server address %q: missing host", raw)
	}
	if u.User != nil {
		return nil, errors.New("server address must not carry credentials: pass the token with --token or TRICYCLE_TOKEN")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("server address %q: must not have a query or fragment", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	if strings.ContainsAny(opts.Token, "\r\n") {
		return nil, errors.New("token must be a single line")
	}
	connect := opts.ConnectTimeout
	if connect <= 0 {
		connect = 5 * time.Second
	}
	total := opts.Timeout
	if total <= 0 {
		total = 30 * time.Second
	}
	rt := opts.Transport
	if rt == nil {
		rt = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   connect,
			ResponseHeaderTimeout: total,
			MaxIdleConns:          4,
			IdleConnTimeout:       30 * time.Second,
		}
	}
	agent := opts.UserAgent
	if agent == "" {
		agent = "tricycle/" + Version()
	}
	return &Client{base: u, token: strings.TrimSpace(opts.Token), agent: agent,
		http: &http.Client{Transport: rt, Timeout: total,
			// Never follow redirects: a redirect to another host would carry
			// the bearer token along.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}}, nil
}

// Server returns the server's base URL as given.
func (c *Client) Server() string { return c.base.String() }

// APIError is an error answered by the server: {"error": {"code", "message"}}.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Code is the machine-readable code ("not_found", "forbidden", …).
	Code string
	// Message is the server's human-readable message.
	Message string
}

// Error returns the server's message, or the status when it sent none.
func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = fmt.Sprintf("server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	switch e.Status {
	case http.StatusUnauthorized:
		return msg + " (pass --token or set TRICYCLE_TOKEN)"
	default:
		return msg
	}
}

// UnreachableError says the server could not be reached at all.
type UnreachableError struct {
	// Server is the base URL that was tried.
	Server string
	// Err is the underlying network error.
	Err error
}

// Error names the server and suggests starting one.
func (e *UnreachableError) Error() string {
	why := "connection failed"
	var opErr *net.OpError
	switch {
	case errors.Is(e.Err, syscall.ECONNREFUSED):
		why = "connection refused"
	case errors.Is(e.Err, context.DeadlineExceeded), errors.As(e.Err, &opErr) && opErr.Timeout():
		why = "timed out"
	default:
		var dnsErr *net.DNSError
		if errors.As(e.Err, &dnsErr) {
			why = "unknown host " + dnsErr.Name
		}
	}
	return fmt.Sprintf("cannot reach the tricycle server at %s (%s); start one with `tricycle serve` or point --server (TRICYCLE_SERVER) at it", e.Server, why)
}

// Unwrap returns the network error.
func (e *UnreachableError) Unwrap() error { return e.Err }

// Do sends a request to path (relative to /api/v1, e.g. "experiments") with
// query and an optional JSON body, and returns the raw JSON answer of a 2xx
// response. Other statuses become an *APIError; network failures an
// *UnreachableError.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body any) (json.RawMessage, error) {
	u := *c.base
	u.Path = c.base.Path + "/api/v1/" + strings.TrimLeft(path, "/")
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request body: %w", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("User-Agent", c.agent)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", method, u.Path, ctx.Err())
		}
		return nil, &UnreachableError{Server: c.Server(), Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read response: %w", method, u.Path, err)
	}
	if len(raw) > maxResponseBytes {
		return nil, fmt.Errorf("%s %s: response larger than %d bytes", method, u.Path, maxResponseBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, decodeAPIError(resp.StatusCode, raw)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("{}"), nil
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("%s %s: the server answered something other than JSON (is %s a tricycle server?)", method, u.Path, c.Server())
	}
	return raw, nil
}

// decodeAPIError reads {"error": {"code", "message"}}, falling back to the
// status line when the body is not that shape.
func decodeAPIError(status int, raw []byte) *APIError {
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	e := &APIError{Status: status}
	if err := json.Unmarshal(raw, &env); err == nil {
		e.Code, e.Message = env.Error.Code, oneLine(env.Error.Message)
	}
	return e
}

// oneLine folds a message onto a single line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
