package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/tricyclehq/tricycle/internal/config"
	"github.com/tricyclehq/tricycle/internal/gateway"
	"github.com/tricyclehq/tricycle/internal/review/golden"
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

func (r *runner) evalCommand() *cobra.Command {
	var variant, cfgPath, dir string
	cmd := &cobra.Command{
		Use:   "eval --variant NAME",
		Short: "Score a variant on the labelled golden set: precision, recall and F1 (the product's accuracy)",
		Long: `eval runs a variant of the configuration (or the builtin reviewer) on every case of the
labelled golden set and prints precision, recall and F1, overall and by category and language.
It runs locally: provider variants call their endpoints with the API key their api_key_env names.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := config.Default()
			if cfgPath == "" {
				if v, ok := r.env.LookupEnv("TRICYCLE_CONFIG"); ok {
					cfgPath = strings.TrimSpace(v)
				}
			}
			if cfgPath != "" {
				var err error
				if cfg, err = config.Load(cfgPath); err != nil {
					return err
				}
			}
			reg, err := gateway.NewRegistry(gateway.RegistryOptions{Variants: cfg.Variants, LookupEnv: r.env.LookupEnv})
			if err != nil {
				return err
			}
			v, ok := reg.Variant(variant)
			if !ok {
				names := make([]string, 0, len(cfg.Variants))
				for _, x := range cfg.Variants {
					names = append(names, x.Name)
				}
				return usagef("--variant %q: not a variant of the configuration (known: %s)", variant, strings.Join(names, ", "))
			}
			cases, err := golden.Load(dir)
			if err != nil {
				return fmt.Errorf("golden set: %w", err)
			}
			rep, err := gateway.Eval(cmd.Context(), reg, v, cases)
			if err != nil {
				return err
			}
			p := r.printer()
			if p.format == formatJSON {
				raw, err := json.Marshal(rep)
				if err != nil {
					return err
				}
				return p.json(raw)
			}
			fmt.Fprintf(p.w, "variant %s on %d golden cases (%s)\n", v.Name, len(cases), dir)
			fmt.Fprintf(p.w, "precision %.3f  recall %.3f  F1 (accuracy) %.3f  (TP %d, FP %d, FN %d; %d cases exact, %d errors)\n\n",
				rep.Overall.Precision, rep.Overall.Recall, rep.Overall.F1, rep.Overall.TP, rep.Overall.FP, rep.Overall.FN, rep.Passed, rep.Errors)
			return rep.WriteText(p.w)
		},
	}
	cmd.Flags().StringVar(&variant, "variant", "baseline", "variant to score (a name from the configuration's variants)")
	cmd.Flags().StringVar(&cfgPath, "config", "", "configuration file with the variants (env TRICYCLE_CONFIG; default: the built-in baseline)")
	cmd.Flags().StringVar(&dir, "golden", "testdata/golden", "folder of labelled golden cases")
	return cmd
}
