package cli

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// reviewResponse is the answer of POST /reviews.
type reviewResponse struct {
	ReviewID string `json:"review_id"`
	Findings []struct {
		File       string `json:"file"`
		Line       int    `json:"line"`
		Severity   string `json:"severity"`
		Category   string `json:"category"`
		Rule       string `json:"rule"`
		Message    string `json:"message"`
		Suggestion string `json:"suggestion"`
	} `json:"findings"`
	Summary string `json:"summary"`
	Usage   struct {
		InputTokens  int64   `json:"input_tokens"`
		OutputTokens int64   `json:"output_tokens"`
		CostUSD      float64 `json:"cost_usd"`
	} `json:"usage"`
	LatencyMS float64 `json:"latency_ms"`
}

func (r *runner) reviewCommand() *cobra.Command {
	var diffFile, repository string
	cmd := &cobra.Command{
		Use:   "review",
		Short: "Submit a unified diff for code review and print the findings",
		Example: `  git diff main | tricycle review --diff - --repository org/repo
  tricycle review --diff change.patch`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if diffFile == "" {
				return usagef("--diff is required (a file, or - for stdin)")
			}
			diff, err := r.readInput(diffFile, "diff")
			if err != nil {
				return err
			}
			if strings.TrimSpace(string(diff)) == "" {
				return usagef("the diff %s is empty", diffFile)
			}
			body := map[string]any{"diff": string(diff)}
			if repository != "" {
				body["repository"] = repository
			}
			c, err := r.client(cmd)
			if err != nil {
				return err
			}
			raw, err := c.Do(cmd.Context(), http.MethodPost, "reviews", nil, body)
			var apiErr *APIError
			if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
				return fmt.Errorf("code review is not available on %s: its review data plane is not running (%w)", c.Server(), err)
			}
			if err != nil {
				return err
			}
			return emit(r.printer(), raw, func(rv reviewResponse) error {
				w := r.env.Stdout
				fmt.Fprintf(w, "review %s: %d finding(s) in %s ms, $%.4f (%d in / %d out tokens)\n", dash(rv.ReviewID),
					len(rv.Findings), strconv.FormatFloat(rv.LatencyMS, 'f', 0, 64), rv.Usage.CostUSD, rv.Usage.InputTokens, rv.Usage.OutputTokens)
				if rv.Summary != "" {
					fmt.Fprintln(w, oneLine(rv.Summary))
				}
				if len(rv.Findings) == 0 {
					return nil
				}
				t := newTable(w, "LOCATION", "SEVERITY", "CATEGORY", "RULE", "MESSAGE")
				for _, f := range rv.Findings {
					loc := f.File
					if f.Line > 0 {
						loc += ":" + strconv.Itoa(f.Line)
					}
					msg := f.Message
					if f.Suggestion != "" {
						msg += " — " + f.Suggestion
					}
					t.row(dash(loc), f.Severity, dash(f.Category), dash(f.Rule), msg)
				}
				return t.flush()
			})
		},
	}
	cmd.Flags().StringVar(&diffFile, "diff", "", "unified diff to review (\"-\" reads stdin)")
	cmd.Flags().StringVar(&repository, "repository", "", "repository the diff belongs to, as org/repo (routing key)")
	return cmd
}

// errEvalUnavailable is what `tricycle eval` answers until the golden-set
// evaluation ships with the review data plane.
var errEvalUnavailable = errors.New("tricycle eval is not available yet: scoring a variant on the golden set arrives with the review data plane")

func (r *runner) evalCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "eval",
		Short:              "Score a variant on the labelled golden set (not available yet)",
		DisableFlagParsing: true,
		RunE: func(*cobra.Command, []string) error {
			return errEvalUnavailable
		},
	}
}
