package coordination

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/tricyclehq/tricycle/coordination/criteria"
	"github.com/tricyclehq/tricycle/coordination/decision"
)

// Names of the built-in validation checks.
const (
	CheckMetrics  = "metrics"
	CheckSecurity = "security"
	CheckLoadTest = "load_test"
)

// ValidationCheck is one pre-promotion check. Run returns nil when the
// candidate passes, or an error saying what failed.
type ValidationCheck struct {
	Name string
	Run  func(ctx context.Context, exp *Experiment, req *PromotionRequest) error
}

// runChecks runs metrics, security, load test and the extra checks, in that
// order, and never stops early: the request records every outcome.
func (m *PromotionManager) runChecks(ctx context.Context, e *Experiment, p *PromotionRequest) []CheckResult {
	checks := []ValidationCheck{
		{Name: CheckMetrics, Run: checkMetrics(m.c.cfg.Tolerance)},
		{Name: CheckSecurity, Run: func(_ context.Context, _ *Experiment, p *PromotionRequest) error {
			return CheckVariantSecurity(p.Candidate)
		}},
	}
	if m.c.opts.LoadTest.Run != nil {
		lt := m.c.opts.LoadTest
		if lt.Name == "" {
			lt.Name = CheckLoadTest
		}
		checks = append(checks, lt)
	}
	checks = append(checks, m.c.opts.Checks...)
	out := make([]CheckResult, 0, len(checks)+1)
	for _, ch := range checks {
		err := ch.Run(ctx, e, p)
		r := CheckResult{Name: ch.Name, Passed: err == nil, Message: "passed"}
		if err != nil {
			r.Message = err.Error()
		}
		out = append(out, r)
	}
	if m.c.opts.LoadTest.Run == nil {
		out = append(out, CheckResult{Name: CheckLoadTest, Passed: true, Message: "skipped: no load tester configured"})
	}
	return out
}

// checkMetrics re-checks the promotion's metrics against the experiment's
// criteria: supplied point metrics must still PROMOTE; without them the
// experiment's last evaluation must have been PROMOTE.
func checkMetrics(tolerance float64) func(context.Context, *Experiment, *PromotionRequest) error {
	return func(_ context.Context, e *Experiment, p *PromotionRequest) error {
		cs, err := criteria.ParseSet(e.SuccessCriteria)
		if err != nil {
			return fmt.Errorf("criteria: %w", err)
		}
		if len(p.EvaluationMetrics) > 0 {
			var known []criteria.Criterion
			for _, c := range cs {
				if _, ok := p.EvaluationMetrics[c.Metric]; ok {
					known = append(known, c)
				}
			}
			r := decision.EvaluatePoint(known, p.EvaluationMetrics, tolerance)
			if len(known) > 0 && r.Decision != decision.Promote {
				return fmt.Errorf("metrics no longer meet the criteria: %s", r.Explanation.Summary)
			}
			return nil
		}
		if e.LastEvaluation != nil && e.LastEvaluation.Decision == decision.Promote {
			return nil
		}
		if len(cs) == 0 {
			return nil
		}
		return fmt.Errorf("no metrics supplied and no PROMOTE evaluation on record")
	}
}

// secretPatterns are shapes of credentials that must never sit in a
// variant's configuration (keys belong in the environment, named by
// api_key_env).
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}`),
	regexp.MustCompile(`\bAKIA[0-9A-Z]{16}\b`),
	regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`),
	regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{30,}`),
	regexp.MustCompile(`\bxox[abpr]-[A-Za-z0-9-]{10,}`),
	regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`),
	regexp.MustCompile(`(?i)\b(?:api[_-]?key|secret|password|passwd|token)\s*[:=]\s*["']?[A-Za-z0-9/+_\-]{12,}`),
	regexp.MustCompile(`://[^/\s:@]+:[^/\s@]+@`),
}

// injectionInvitations are prompt phrases that invite reviewed code to give
// instructions.
var injectionInvitations = []string{
	"follow the instructions in the code", "follow any instructions in the diff",
	"obey comments", "execute the code", "run the code",
}

// CheckVariantSecurity is the security validation of a variant: its endpoint
// must be https (or a loopback address for local models), its configuration
// must hold no secrets, and a custom prompt must keep reviewed code fenced as
// data ({{.Diff}}) and not invite the code to instruct the model.
func CheckVariantSecurity(v Variant) error {
	var problems []string
	if v.BaseURL != "" {
		u, err := url.Parse(v.BaseURL)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("base_url %q does not parse", v.BaseURL))
		case u.User != nil:
			problems = append(problems, "base_url carries credentials")
		case u.Scheme == "https":
		case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		default:
			problems = append(problems, fmt.Sprintf("base_url %q is not https (plain http is allowed only on loopback)", v.BaseURL))
		}
	}
	fields := map[string]string{"model": v.Model, "prompt": v.Prompt, "base_url": v.BaseURL}
	keys := make([]string, 0, len(v.Parameters))
	for k := range v.Parameters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fields["parameters."+k] = fmt.Sprint(v.Parameters[k])
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, re := range secretPatterns {
			if re.MatchString(fields[name]) {
				problems = append(problems, fmt.Sprintf("%s contains what looks like a secret (use api_key_env)", name))
				break
			}
		}
	}
	if v.Prompt != "" {
		if !strings.Contains(v.Prompt, "{{.Diff}}") {
			problems = append(problems, "prompt does not place the reviewed code through {{.Diff}}, so it cannot be fenced as data")
		}
		low := strings.ToLower(v.Prompt)
		for _, ph := range injectionInvitations {
			if strings.Contains(low, ph) {
				problems = append(problems, fmt.Sprintf("prompt invites reviewed code to instruct the model (%q)", ph))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

func isLoopbackHost(h string) bool {
	return h == "localhost" || h == "::1" || strings.HasPrefix(h, "127.")
}
