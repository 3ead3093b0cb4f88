package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// The event stream (GET /api/v1/events) relays the coordinator's bus as
// server-sent events. One bus subscription feeds a hub that keeps a bounded
// ring of recent events and fans each one out to the connected streams.
//
// Resuming: a client that reconnects with Last-Event-ID receives the events
// after that ID still in the ring. An ID no longer in the ring (older than
// the ring's capacity, or from before the server started) replays nothing:
// the stream says so in a comment and continues with live events.
//
// Backpressure: the bus must never wait for a slow HTTP client, so each
// stream has a bounded queue; a stream that falls that far behind is ended
// with a comment, and the client resumes with Last-Event-ID.

// clientQueue is how many events a stream may have pending.
const clientQueue = 256

type eventsOptions struct {
	heartbeat    time.Duration
	writeTimeout time.Duration
}

// hub fans bus events out to streams and keeps the replay ring.
type hub struct {
	mu      sync.Mutex // guards every field below
	ring    []coordination.Event
	next    int // ring index of the next write
	full    bool
	ids     map[string]bool // IDs in the ring (deduplicates redeliveries)
	clients map[*streamClient]struct{}
	sub     coordination.Subscription
	done    chan struct{} // closed by close
	closed  bool
}

type streamClient struct {
	filter coordination.SubscribeOptions
	ch     chan coordination.Event
	lagged chan struct{} // closed when the queue overflowed
}

func newHub(capacity int) *hub {
	return &hub{ring: make([]coordination.Event, capacity), ids: map[string]bool{},
		clients: map[*streamClient]struct{}{}, done: make(chan struct{})}
}

func (h *hub) start(ctx context.Context, bus coordination.Bus) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errors.New("start event stream: closed")
	}
	if h.sub != nil {
		return nil
	}
	// Every server replica streams every event to its own clients, so each
	// subscribes under its own consumer name (a shared durable name would
	// split the events between replicas).
	sub, err := bus.Subscribe(ctx, coordination.SubscribeOptions{Name: "httpapi-events-" + coordination.NewID("sse", time.Now())}, h.publish)
	if err != nil {
		return fmt.Errorf("start event stream: subscribe: %w", err)
	}
	h.sub = sub
	return nil
}

func (h *hub) close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	close(h.done)
	sub := h.sub
	h.mu.Unlock()
	if sub != nil {
		if err := sub.Close(); err != nil {
			return fmt.Errorf("close event stream: %w", err)
		}
	}
	return nil
}

// publish is the bus handler: it never blocks on a client.
func (h *hub) publish(_ context.Context, ev coordination.Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ids[ev.ID] {
		return nil // a redelivery
	}
	if old := h.ring[h.next]; h.full {
		delete(h.ids, old.ID)
	}
	h.ring[h.next] = ev
	h.ids[ev.ID] = true
	h.next++
	if h.next == len(h.ring) {
		h.next, h.full = 0, true
	}
	for c := range h.clients {
		if !c.filter.Matches(ev.Type) {
			continue
		}
		select {
		case c.ch <- ev:
		default:
			delete(h.clients, c)
			close(c.lagged)
		}
	}
	return nil
}

// ordered returns the ring's events, oldest first. Callers hold mu.
func (h *hub) ordered() []coordination.Event {
	if !h.full {
		return h.ring[:h.next]
	}
	return append(append([]coordination.Event(nil), h.ring[h.next:]...), h.ring[:h.next]...)
}

// subscribe registers a stream and returns the events after lastID to
// replay; found is false when lastID is set but no longer in the ring.
func (h *hub) subscribe(filter coordination.SubscribeOptions, lastID string) (c *streamClient, replay []coordination.Event, found bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, nil, false, fmt.Errorf("%w: the server is shutting down", ErrUnavailable)
	}
	c = &streamClient{filter: filter, ch: make(chan coordination.Event, clientQueue), lagged: make(chan struct{})}
	if lastID != "" && h.ids[lastID] {
		found = true
		evs := h.ordered()
		for i, ev := range evs {
			if ev.ID != lastID {
				continue
			}
			for _, e := range evs[i+1:] {
				if filter.Matches(e.Type) {
					replay = append(replay, e)
				}
			}
			break
		}
	}
	h.clients[c] = struct{}{}
	return c, replay, found, nil
}

func (h *hub) unsubscribe(c *streamClient) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.clients, c)
}

// maxLastEventIDLen bounds the Last-Event-ID header.
const maxLastEventIDLen = 200

// parseTypeFilter reads ?type=a,b.* into bus subscribe options.
func parseTypeFilter(r *http.Request) (coordination.SubscribeOptions, error) {
	var opts coordination.SubscribeOptions
	v := r.URL.Query().Get("type")
	if v == "" {
		return opts, nil
	}
	for part := range strings.SplitSeq(v, ",") {
		p := strings.TrimSpace(part)
		if p == "" || strings.Count(p, "*") > 1 || (strings.Contains(p, "*") && !strings.HasSuffix(p, "*")) {
			return opts, invalid("type", "%q is not an event type or a prefix ending in *", p)
		}
		opts.Types = append(opts.Types, p)
	}
	return opts, nil
}

func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	filter, err := parseTypeFilter(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	lastID := r.Header.Get("Last-Event-ID")
	if len(lastID) > maxLastEventIDLen {
		WriteError(w, r, invalid("Last-Event-ID", "longer than %d bytes", maxLastEventIDLen))
		return
	}
	c, replay, found, err := s.hub.subscribe(filter, lastID)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	defer s.hub.unsubscribe(c)
	rc := http.NewResponseController(w)
	// The server's read timeout would end the stream: the connection is
	// only written to from here on.
	_ = rc.SetReadDeadline(time.Time{})
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	write := func(format string, args ...any) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(s.events.writeTimeout))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	writeEvent := func(ev coordination.Event) bool {
		data, err := json.Marshal(ev)
		if err != nil {
			return write(": event %s could not be encoded\n\n", sanitizeField(ev.ID))
		}
		return write("id: %s\nevent: %s\ndata: %s\n\n", sanitizeField(ev.ID), sanitizeField(ev.Type), data)
	}

	if !write("retry: 3000\n: connected\n\n") {
		return
	}
	if lastID != "" && !found {
		if !write(": last event id %q is not among the %d most recent events; nothing replayed\n\n",
			sanitizeField(lastID), len(s.hub.ring)) {
			return
		}
	}
	for _, ev := range replay {
		if !writeEvent(ev) {
			return
		}
	}
	tick := time.NewTicker(s.events.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.hub.done:
			write(": server shutting down\n\n")
			return
		case <-c.lagged:
			write(": too far behind; reconnect with Last-Event-ID\n\n")
			return
		case ev := <-c.ch:
			if !writeEvent(ev) {
				return
			}
		case <-tick.C:
			if !write(": heartbeat\n\n") {
				return
			}
		}
	}
}

// sanitizeField keeps an SSE field value on one line.
func sanitizeField(s string) string {
	return strings.NewReplacer("\r", "", "\n", "").Replace(s)
}
