package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// frame is one server-sent event, or a run of comment lines.
type frame struct {
	id, event, data string
	comments        []string
}

// stream is a connected event stream read by a goroutine.
type stream struct {
	frames chan frame
	cancel context.CancelFunc
	resp   *http.Response
}

// failsafe bounds how long a test waits for an expected frame.
const failsafe = 10 * time.Second

func openStream(t *testing.T, f *fixture, base, query, lastID string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/events"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.tok["system"])
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		t.Fatalf("events: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &stream{frames: make(chan frame, 64), cancel: cancel, resp: resp}
	t.Cleanup(func() { cancel(); _ = resp.Body.Close() })
	go func() {
		defer close(s.frames)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var fr frame
		empty := true
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				if !empty {
					s.frames <- fr
				}
				fr, empty = frame{}, true
				continue
			}
			empty = false
			switch {
			case strings.HasPrefix(line, ":"):
				fr.comments = append(fr.comments, strings.TrimSpace(line[1:]))
			case strings.HasPrefix(line, "id: "):
				fr.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				fr.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				fr.data = line[6:]
			}
		}
	}()
	// The first frame says the stream is registered with the hub.
	if fr := s.next(t); !containsComment(fr, "connected") {
		t.Fatalf("first frame %+v, want the connected comment", fr)
	}
	return s
}

func (s *stream) next(t *testing.T) frame {
	t.Helper()
	select {
	case fr, ok := <-s.frames:
		if !ok {
			t.Fatal("the stream ended")
		}
		return fr
	case <-time.After(failsafe):
		t.Fatal("no frame within the failsafe timeout")
	}
	return frame{}
}

// nextEvent skips comment-only frames (heartbeats).
func (s *stream) nextEvent(t *testing.T) frame {
	t.Helper()
	for {
		if fr := s.next(t); fr.id != "" {
			return fr
		}
	}
}

func containsComment(fr frame, sub string) bool {
	for _, c := range fr.comments {
		if strings.Contains(c, sub) {
			return true
		}
	}
	return false
}

// startServer serves the fixture's API over HTTP with the event stream on.
func startServer(t *testing.T, f *fixture) string {
	t.Helper()
	if err := f.srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(f.srv.Handler())
	t.Cleanup(func() {
		_ = f.srv.Close() // end the streams before closing the server
		ts.Close()
	})
	return ts.URL
}

func (f *fixture) relay() {
	f.t.Helper()
	if _, err := f.coord.RelayOnce(local); err != nil {
		f.t.Fatal(err)
	}
}

func TestEventsDeliveryFilterAndResume(t *testing.T) {
	t.Parallel()
	f := setup(t)
	base := startServer(t, f)
	s := openStream(t, f, base, "?type=experiment.created,promotion.*", "")

	var ids []string
	for range 3 {
		id := f.experiment()
		ids = append(ids, id)
		if err := f.coord.StartExperiment(local, id, "root"); err != nil { // experiment.started: filtered out
			t.Fatal(err)
		}
	}
	f.relay()
	var got []frame
	for i := range 3 {
		fr := s.nextEvent(t)
		got = append(got, fr)
		var ev coordination.Event
		if err := json.Unmarshal([]byte(fr.data), &ev); err != nil {
			t.Fatalf("data is not a CloudEvent: %v: %s", err, fr.data)
		}
		if fr.event != coordination.EventExperimentCreated || ev.Type != fr.event || ev.ID != fr.id ||
			ev.SpecVersion != "1.0" || ev.Subject != ids[i] || ev.Source != coordination.EventSource {
			t.Fatalf("frame %d = %+v (event %+v), want experiment.created about %s", i, fr, ev, ids[i])
		}
	}

	// Resume after the first event: the two later ones are replayed, then
	// live events follow without duplicates.
	r := openStream(t, f, base, "?type=experiment.created", got[0].id)
	for i := 1; i < 3; i++ {
		if fr := r.nextEvent(t); fr.id != got[i].id {
			t.Fatalf("replayed %s, want %s", fr.id, got[i].id)
		}
	}
	live := f.experiment()
	f.relay()
	if fr := r.nextEvent(t); !strings.Contains(fr.data, live) {
		t.Fatalf("after the replay got %+v, want the live event about %s", fr, live)
	}
	if fr := s.nextEvent(t); !strings.Contains(fr.data, live) {
		t.Fatalf("the first stream got %+v, want the live event about %s", fr, live)
	}

	// An ID that is no longer (or never was) in the ring replays nothing and
	// says so.
	u := openStream(t, f, base, "", "evt-long-gone")
	if fr := u.next(t); !containsComment(fr, "nothing replayed") {
		t.Fatalf("frame %+v, want a comment that nothing was replayed", fr)
	}
	promo := f.promotion()
	f.relay()
	if fr := u.nextEvent(t); fr.event != coordination.EventExperimentCreated {
		t.Fatalf("unfiltered stream got %+v first, want experiment.created", fr)
	}
	seen := false
	for !seen {
		fr := s.nextEvent(t)
		seen = fr.event == coordination.EventPromotionRequested && strings.Contains(fr.data, promo)
		if !strings.HasPrefix(fr.event, "promotion.") && fr.event != coordination.EventExperimentCreated {
			t.Fatalf("filtered stream got %s", fr.event)
		}
	}
}

func TestEventsHeartbeatAndShutdown(t *testing.T) {
	t.Parallel()
	f := setup(t, func(o *Options) { o.EventsHeartbeat = 5 * time.Millisecond })
	base := startServer(t, f)
	s := openStream(t, f, base, "", "")
	if fr := s.next(t); !containsComment(fr, "heartbeat") {
		t.Fatalf("frame %+v, want a heartbeat", fr)
	}
	if err := f.srv.Close(); err != nil {
		t.Fatal(err)
	}
	for {
		fr, ok := <-s.frames
		if !ok {
			t.Fatal("the stream ended without saying the server is shutting down")
		}
		if containsComment(fr, "shutting down") {
			break
		}
	}
	select {
	case _, ok := <-s.frames:
		if ok {
			t.Fatal("a frame after the shutdown comment")
		}
	case <-time.After(failsafe):
		t.Fatal("the stream did not end at shutdown")
	}
	// A stream opened after Close is refused.
	w := f.serve(f.req("GET", "/api/v1/events", "admin", ""))
	if code, _ := errorOf(t, w); w.Code != http.StatusServiceUnavailable || code != "unavailable" {
		t.Errorf("a stream after Close: %d %q", w.Code, w.Body)
	}
}

func TestEventsClientGoneUnsubscribes(t *testing.T) {
	t.Parallel()
	f := setup(t)
	w := f.serve(f.req("GET", "/api/v1/events", "system", ""))
	if w.Code != 200 || !strings.HasPrefix(w.Body.String(), "retry: 3000\n: connected\n\n") {
		t.Fatalf("stream: %d %q", w.Code, w.Body)
	}
	f.srv.hub.mu.Lock()
	n := len(f.srv.hub.clients)
	f.srv.hub.mu.Unlock()
	if n != 0 {
		t.Errorf("%d clients still registered after the request ended", n)
	}
}

func event(i int, typ string) coordination.Event {
	return coordination.Event{SpecVersion: "1.0", ID: fmt.Sprintf("evt-%04d", i), Type: typ}
}

func TestHubRingAndLag(t *testing.T) {
	t.Parallel()
	h := newHub(4)
	ctx := context.Background()
	for i := range 6 {
		_ = h.publish(ctx, event(i, "experiment.created"))
	}
	_ = h.publish(ctx, event(5, "experiment.created")) // a redelivery
	// The ring holds the last four: 2..5.
	if _, replay, found, _ := h.subscribe(coordination.SubscribeOptions{}, "evt-0001"); found || replay != nil {
		t.Errorf("an evicted id replayed %d events (found %v)", len(replay), found)
	}
	c, replay, found, err := h.subscribe(coordination.SubscribeOptions{}, "evt-0002")
	if err != nil {
		t.Fatal(err)
	}
	if !found || len(replay) != 3 || replay[0].ID != "evt-0003" || replay[2].ID != "evt-0005" {
		t.Fatalf("replay after evt-0002 = %v (found %v), want evt-0003..evt-0005 once each", replay, found)
	}
	_, filtered, _, _ := h.subscribe(coordination.SubscribeOptions{Types: []string{"promotion.*"}}, "evt-0002")
	if len(filtered) != 0 {
		t.Errorf("filtered replay = %v, want none", filtered)
	}
	// A stream that does not read falls behind and is ended; the bus
	// handler never blocks.
	for i := 100; i < 100+clientQueue+1; i++ {
		_ = h.publish(ctx, event(i, "monitoring.alert"))
	}
	select {
	case <-c.lagged:
	default:
		t.Fatal("a stream that fell behind was not ended")
	}
}

func TestParseTypeFilter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		query string
		want  []string
		ok    bool
	}{
		{"", nil, true},
		{"?type=promotion.*", []string{"promotion.*"}, true},
		{"?type=experiment.created,%20monitoring.alert", []string{"experiment.created", "monitoring.alert"}, true},
		{"?type=*", []string{"*"}, true},
		{"?type=a,,b", nil, false},
		{"?type=pro*motion", nil, false},
		{"?type=a**", nil, false},
	}
	for _, tt := range tests {
		got, err := parseTypeFilter(httptest.NewRequest("GET", "/api/v1/events"+tt.query, nil))
		if (err == nil) != tt.ok || (tt.ok && strings.Join(got.Types, "|") != strings.Join(tt.want, "|")) {
			t.Errorf("parseTypeFilter(%q) = %v, %v; want %v (ok %v)", tt.query, got.Types, err, tt.want, tt.ok)
		}
	}
}
