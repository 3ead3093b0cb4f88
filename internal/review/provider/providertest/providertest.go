// Package providertest provides fakes for testing model providers: a clock
// whose waits return at once, and a loopback HTTP server that plays back
// scripted replies and records what it received.
package providertest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Clock is a fake provider.Clock. After fires at once and moves the fake
// time forward by the waited duration, recording it, so code that backs off
// or sleeps runs instantly and tests can assert the waits. It is safe for
// concurrent use.
type Clock struct {
	mu    sync.Mutex
	now   time.Time       // guarded by mu
	waits []time.Duration // guarded by mu
}

// Epoch is a fixed start time for fake clocks.
var Epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// NewClock returns a clock showing start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After records d, advances the fake time by d and returns a channel that
// already holds the new time.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(max(d, 0))
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// Advance moves the fake time forward by d without recording a wait.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Waits returns every duration passed to After, in order.
func (c *Clock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// Reply is one scripted answer of a Server.
type Reply struct {
	// Status is the HTTP status; 0 means 200.
	Status int
	// Header is added to the response.
	Header map[string]string
	// Body is the response body.
	Body string
	// Truncate announces a Content-Length longer than Body, sends Body and
	// closes the connection, so the client sees the body cut short.
	Truncate bool
	// Hang answers nothing until the client gives up.
	Hang bool
}

// Received is one request a Server got.
type Received struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// Server is a fake provider endpoint on loopback. It answers the n-th
// request with the n-th reply, repeating the last one.
type Server struct {
	// URL is the server's base URL, without a trailing slash.
	URL string

	srv     *httptest.Server
	stop    chan struct{}
	mu      sync.Mutex
	replies []Reply    // guarded by mu
	got     []Received // guarded by mu
}

// NewServer starts a Server that plays replies; it is closed when the test ends.
func NewServer(t testing.TB, replies ...Reply) *Server {
	t.Helper()
	if len(replies) == 0 {
		t.Fatal("providertest.NewServer needs at least one reply")
	}
	s := &Server{replies: replies, stop: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(func() {
		close(s.stop)
		s.srv.Close()
	})
	return s
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.got...)
}

// serve records r and plays the next reply.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	rep := s.replies[min(len(s.got), len(s.replies)-1)]
	s.got = append(s.got, Received{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	s.mu.Unlock()

	if rep.Hang {
		select {
		case <-r.Context().Done():
		case <-s.stop:
		}
		return
	}
	status := rep.Status
	if status == 0 {
		status = http.StatusOK
	}
	if rep.Truncate {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(fmt.Sprintf("providertest: hijack: %v", err))
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			status, http.StatusText(status), len(rep.Body)+100, rep.Body)
		buf.Flush()
		return
	}
	for k, v := range rep.Header {
		w.Header().Set(k, v)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(rep.Body)))
	w.WriteHeader(status)
	io.WriteString(w, rep.Body)
}
