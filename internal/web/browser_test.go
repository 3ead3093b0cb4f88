package web

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium returns the path of a Chromium binary, or "" when none is
// installed.
func chromium() string {
	if p := os.Getenv("TRICYCLE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestBrowserDashboard signs in through the form in headless Chromium,
// reads the promotion's traffic split and time left and the error budget
// from the DOM, compares them with the coordinator's own values, checks
// that the page runs clean under its Content-Security-Policy, and saves
// full-page screenshots to testdata/artifacts (dashboard.png, login.png).
func TestBrowserDashboard(t *testing.T) {
	bin := chromium()
	if bin == "" {
		if os.Getenv("TRICYCLE_REQUIRE_SERVICES") == "1" {
			t.Fatal("chromium is not installed and TRICYCLE_REQUIRE_SERVICES=1")
		}
		t.Skip("chromium is not installed (apt-get install -y chromium)")
	}
	f := setup(t)
	srv := httptest.NewServer(f.h)
	defer srv.Close()

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1360, 900),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
	defer cancel()

	// Collect what the browser complains about (CSP violations, failed loads).
	var mu sync.Mutex
	var complaints []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				complaints = append(complaints, ev.Entry.Text)
			}
		case *runtime.EventExceptionThrown:
			complaints = append(complaints, ev.ExceptionDetails.Text)
		}
	}); err != nil {
		t.Fatalf("start the browser: %v", err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enable the log domain: %v", err)
	}

	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	step("open the dashboard", chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("token"))))
	loginTitle, err := chromedp.Run(ctx, chromedp.Title())
	step("read the title", err)
	if loginTitle != "Sign in · tricycle" {
		t.Errorf("the first page is %q, want the sign-in page", loginTitle)
	}
	loginShot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	step("take a screenshot of the sign-in page", err)
	step("sign in", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("token"), f.admin),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("v2")),
	))
	card := `[data-promotion="` + f.promotionID + `"]`
	attrOf := func(sel, name string) string {
		t.Helper()
		r, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
		step("read "+sel+"@"+name, err)
		if !r.Exists {
			t.Errorf("%s has no attribute %s", sel, name)
		}
		return r.Value
	}
	textOf := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		step("read "+sel, err)
		return strings.TrimSpace(v)
	}
	traffic, stable := attrOf(card+" .traffic-candidate", "data-percent"), textOf(card+" .traffic-stable")
	seconds, timeLeft := attrOf(card+" .time-left", "data-seconds"), textOf(card+" .time-left")
	budget, budgetFraction := textOf("#slo-budget"), attrOf("#slo-budget", "data-fraction")
	// Devtools evaluation is not bound by the page's CSP.
	cookies, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	step("read document.cookie", err)
	radius, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".card")).borderTopLeftRadius`))
	step("read the computed style", err)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	step("take a screenshot", err)

	pr, err := f.c.Promotion().GetPromotion(f.ctx, f.promotionID)
	mustDo(t, "get promotion", err)
	left := pr.Remaining(f.c.Clock().Now())
	if traffic != strconv.Itoa(pr.TrafficPercent) || stable != strconv.Itoa(100-pr.TrafficPercent)+"%" {
		t.Errorf("traffic in the page: candidate %q, stable %q; the coordinator says %d%%", traffic, stable, pr.TrafficPercent)
	}
	if seconds != strconv.FormatInt(int64(left/time.Second), 10) || timeLeft != fmtDuration(left) {
		t.Errorf("time left in the page: %q (%s s); the coordinator says %v", timeLeft, seconds, left)
	}
	slo, err := f.c.Health().CalculateSLOCompliance(f.ctx)
	mustDo(t, "SLO", err)
	if got, _ := strconv.ParseFloat(budgetFraction, 64); got != slo.BudgetRemaining || budget != fmtPercent(slo.BudgetRemaining) {
		t.Errorf("error budget in the page: %q (%s); the coordinator says %v", budget, budgetFraction, slo.BudgetRemaining)
	}
	if cookies != "" {
		t.Errorf("page script can read cookies %q; the session cookie must be HttpOnly", cookies)
	}
	if radius != "8px" {
		t.Errorf("the stylesheet did not apply (card radius %q)", radius)
	}
	mu.Lock()
	for _, c := range complaints {
		if !strings.Contains(c, "favicon") {
			t.Errorf("browser error: %s", c)
		}
	}
	mu.Unlock()

	dir := filepath.Join("testdata", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, png := range map[string][]byte{"dashboard.png": shot, "login.png": loginShot} {
		if len(png) < 8 || string(png[1:4]) != "PNG" {
			t.Errorf("%s is not a PNG (%d bytes)", name, len(png))
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
