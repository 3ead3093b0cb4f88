package app

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

func TestLeaderTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value string
		want  time.Duration
		err   string
	}{
		{"", 0, ""},
		{"2s", 2 * time.Second, ""},
		{"1m", time.Minute, ""},
		{"500ms", 0, "shorter than 1s"},
		{"fifteen", 0, "not a duration"},
	}
	for _, tt := range tests {
		got, err := leaderTTL(func(string) (string, bool) { return tt.value, tt.value != "" })
		if tt.err != "" {
			if !errors.Is(err, coordination.ErrInvalidInput) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s=%q: %v, want an invalid input naming %q", EnvLeaderTTL, tt.value, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s=%q: %v, %v; want %v", EnvLeaderTTL, tt.value, got, err, tt.want)
		}
	}
}

// run runs a until the test ends and waits until it serves.
func run(t *testing.T, a *App) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case <-a.Ready():
	case <-time.After(failsafe):
		t.Fatal("not ready")
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// TestOneServerActsOnOneFile: two servers on one SQLite file: the first
// acts, the second stands by (its passes do nothing) and takes over as soon
// as the first shuts down and releases the lease.
func TestOneServerActsOnOneFile(t *testing.T) {
	t.Setenv(EnvLeaderTTL, "1s") // renewals and takeover attempts every 333ms
	cfg := testConfig(t)
	a := newApp(t, cfg, Options{})
	stopA := run(t, a)
	epoch, ok := a.Coordinator().Acting()
	if !ok || epoch != 1 {
		t.Fatalf("the first server: Acting() = %d, %v; want epoch 1", epoch, ok)
	}
	resp, err := http.Get("http://" + a.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	for _, m := range []string{"tricycle_coordinator_leader 1", "tricycle_coordinator_leader_epoch 1"} {
		if !strings.Contains(string(body), m) {
			t.Errorf("/metrics lacks %q", m)
		}
	}

	cfgB := cfg
	cfgB.Server.Addr = "127.0.0.1:0"
	b := newApp(t, cfgB, Options{})
	run(t, b)
	if _, ok := b.Coordinator().Acting(); ok {
		t.Fatal("a second server on the same file acts while the first runs")
	}
	rep, err := b.Coordinator().RunOnce(context.Background())
	if err != nil || !rep.Standby {
		t.Fatalf("the standby's pass = %+v, %v; want Standby", rep, err)
	}

	stopA()
	deadline := time.NewTimer(failsafe)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if epoch, ok := b.Coordinator().Acting(); ok {
			if epoch != 2 {
				t.Fatalf("the second server acts under epoch %d, want 2", epoch)
			}
			return
		}
		select {
		case <-deadline.C:
			t.Fatal("the second server did not take over after the first released the lease")
		case <-tick.C:
		}
	}
}

// FuzzLeaderTTL: any value of TRICYCLE_LEADER_TTL is either refused as
// invalid input or a duration of at least MinLeaderTTL, as written.
func FuzzLeaderTTL(f *testing.F) {
	for _, s := range []string{"", "15s", "1s", "999ms", "-1s", "1h30m", "1e3s", "0", "9999999999h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, err := leaderTTL(func(string) (string, bool) { return v, true })
		switch {
		case err != nil:
			if !errors.Is(err, coordination.ErrInvalidInput) {
				t.Fatalf("%q: %v is not an invalid input", v, err)
			}
		case v == "":
			if d != 0 {
				t.Fatalf("empty value: %v, want the default (0)", d)
			}
		default:
			want, perr := time.ParseDuration(v)
			if perr != nil || d != want || d < MinLeaderTTL {
				t.Fatalf("%q: accepted as %v (parse: %v, %v)", v, d, want, perr)
			}
		}
	})
}
