package web

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestFmtDuration(t *testing.T) {
	t.Parallel()
	cases := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Hour, "0s"},
		{45*time.Second + 900*time.Millisecond, "45s"},
		{90 * time.Second, "1m 30s"},
		{41 * time.Hour, "1d 17h"},
		{24 * time.Hour, "1d"},
		{72*time.Hour + 10*time.Minute, "3d 0h 10m"},
		{7 * 24 * time.Hour, "7d"},
		{5*time.Hour + 59*time.Minute + 59*time.Second, "5h 59m 59s"},
	}
	for _, tc := range cases {
		if got := fmtDuration(tc.d); got != tc.want {
			t.Errorf("fmtDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestFmtMetric(t *testing.T) {
	t.Parallel()
	cases := []struct {
		metric string
		v      float64
		want   string
	}{
		{"error_rate", 0.03, "3%"},
		{"error_rate", 0.0312, "3.12%"},
		{"accuracy_rate", 0.915, "91.5%"},
		{"accuracy", 0.9, "90%"},
		{"cpu_utilization", 0.7, "70%"},
		{"latency_p95", 1.2, "1.2 s"},
		{"latency_p95", 0.85, "850 ms"},
		{"latency_p99", 0, "0 s"},
		{"cost_per_review", 0.0123, "$0.0123"},
		{"cost_per_review", 12.345, "$12.3"},
		{"requests", 1234, "1234"},
		{"error_rate", -0.5, "-50%"},
		{"error_rate", math.NaN(), "NaN%"},
	}
	for _, tc := range cases {
		if got := fmtMetric(tc.metric, tc.v); got != tc.want {
			t.Errorf("fmtMetric(%s, %v) = %q, want %q", tc.metric, tc.v, got, tc.want)
		}
	}
}

func TestFmtTimes(t *testing.T) {
	t.Parallel()
	now := t0
	if got := fmtTime(time.Time{}); got != "—" {
		t.Errorf("zero time %q", got)
	}
	if got := fmtTime(now.In(time.FixedZone("X", 3600))); got != "2026-03-02 09:00 UTC" {
		t.Errorf("fmtTime writes %q, want UTC", got)
	}
	for _, tc := range []struct {
		got, want string
	}{
		{fmtAgo(now, now.Add(-3*time.Hour)), "3h ago"},
		{fmtAgo(now, now.Add(time.Hour)), "in 1h"},
		{fmtUntil(now, now.Add(90*24*time.Hour)), "in 90d"},
		{fmtUntil(now, now), "due now"},
		{fmtUntil(now, now.Add(-2*24*time.Hour)), "overdue by 2d"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if got := shorten(strings.Repeat("é", 30), 5); got != "ééééé…" {
		t.Errorf("shorten = %q", got)
	}
}

func TestRefreshOption(t *testing.T) {
	t.Parallel()
	cases := []struct {
		refresh time.Duration
		want    string
	}{
		{0, `<meta http-equiv="refresh" content="30">`},
		{10 * time.Second, `<meta http-equiv="refresh" content="10">`},
		{-1, "automatic reload off"},
	}
	for _, tc := range cases {
		f := setup(t, func(o *Options) { o.Refresh = tc.refresh })
		_, body := f.page(t, f.admin)
		if !strings.Contains(body, tc.want) {
			t.Errorf("Refresh %v: page lacks %q", tc.refresh, tc.want)
		}
		if tc.refresh < 0 && strings.Contains(body, `http-equiv="refresh"`) {
			t.Errorf("Refresh %v: the page still reloads itself", tc.refresh)
		}
	}
}
