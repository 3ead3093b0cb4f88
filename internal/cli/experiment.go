package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/decision"
)

func (r *runner) experimentCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "experiment",
		Aliases: []string{"experiments", "exp"},
		Short:   "Create, start, evaluate and inspect V1 experiments",
	}
	cmd.AddCommand(r.experimentCreate(), r.experimentList(), r.experimentShow(), r.experimentStart(),
		r.experimentEvaluate(), r.experimentReject(), r.experimentQuarantine())
	return cmd
}

// experimentRequest is the body of POST /experiments.
type experimentRequest struct {
	Title           string                `json:"title"`
	Hypothesis      string                `json:"hypothesis,omitempty"`
	SuccessCriteria map[string]string     `json:"success_criteria,omitempty"`
	Variant         *coordination.Variant `json:"variant,omitempty"`
	BudgetUSD       float64               `json:"budget_usd,omitempty"`
}

func (r *runner) experimentCreate() *cobra.Command {
	var (
		file, title, hypothesis, variantFile, provider, model, promptFile, name string
		crits                                                                   []string
		budget                                                                  float64
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a proposed experiment",
		Long: `Create a proposed experiment from flags or from a JSON file (-f, "-" for stdin).

The variant comes from --variant-file (YAML or JSON) or from --provider, --model
and --prompt-file. Criteria are repeatable: --criterion 'accuracy=> 90%'.`,
		Example: `  tricycle experiment create --title "Try model X" --hypothesis "X is more accurate" \
    --criterion 'accuracy=> 90%' --criterion 'latency_p95=< 3s' --provider openai --model x-large
  tricycle experiment create -f experiment.json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var body any
			if file != "" {
				for _, f := range []string{"title", "hypothesis", "criterion", "variant-file", "provider", "model", "prompt-file", "variant-name", "budget"} {
					if cmd.Flags().Changed(f) {
						return usagef("-f cannot be combined with --%s: put everything in the file", f)
					}
				}
				raw, err := r.readInput(file, "experiment file")
				if err != nil {
					return err
				}
				var probe map[string]json.RawMessage
				if err := json.Unmarshal(raw, &probe); err != nil {
					return fmt.Errorf("experiment file %s: not a JSON object: %w", file, err)
				}
				body = json.RawMessage(raw)
			} else {
				if strings.TrimSpace(title) == "" {
					return usagef("--title is required (or pass the whole experiment with -f)")
				}
				sc, err := parseCriteria(crits)
				if err != nil {
					return usageError{err}
				}
				v, err := r.variantFromFlags(cmd, variantFile, provider, model, promptFile, name)
				if err != nil {
					return err
				}
				if budget < 0 {
					return usagef("--budget %v must not be negative", budget)
				}
				body = experimentRequest{Title: title, Hypothesis: hypothesis, SuccessCriteria: sc, Variant: v, BudgetUSD: budget}
			}
			c, err := r.client(cmd)
			if err != nil {
				return err
			}
			raw, err := c.Do(cmd.Context(), http.MethodPost, "experiments", nil, body)
			if err != nil {
				return err
			}
			return emit(r.printer(), raw, func(e coordination.Experiment) error {
				state := string(e.State)
				if state == "" {
					state = string(coordination.ExperimentProposed)
				}
				fmt.Fprintf(r.env.Stdout, "created experiment %s (%s): %s\nstart it with: tricycle experiment start %s\n",
					e.ID, state, e.Title, e.ID)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "experiment as JSON (\"-\" reads stdin)")
	f.StringVar(&title, "title", "", "title")
	f.StringVar(&hypothesis, "hypothesis", "", "hypothesis")
	f.StringArrayVar(&crits, "criterion", nil, "success criterion 'metric=> value' (repeatable)")
	f.StringVar(&variantFile, "variant-file", "", "variant configuration (YAML or JSON)")
	f.StringVar(&provider, "provider", "", "variant provider: builtin, simulated, openai or anthropic")
	f.StringVar(&model, "model", "", "variant model")
	f.StringVar(&promptFile, "prompt-file", "", "variant prompt template file")
	f.StringVar(&name, "variant-name", "", "variant name (default: the experiment id)")
	f.Float64Var(&budget, "budget", 0, "spend budget for shadow calls in US dollars (0: none)")
	return cmd
}

// variantFromFlags builds the variant from --variant-file or from the
// individual flags; nil when none was given.
func (r *runner) variantFromFlags(cmd *cobra.Command, file, provider, model, promptFile, name string) (*coordination.Variant, error) {
	if file != "" {
		for _, f := range []string{"provider", "model", "prompt-file"} {
			if cmd.Flags().Changed(f) {
				return nil, usagef("--variant-file cannot be combined with --%s", f)
			}
		}
		data, err := r.readInput(file, "variant file")
		if err != nil {
			return nil, err
		}
		v, err := parseVariant(data)
		if err != nil {
			return nil, fmt.Errorf("variant file %s: %w", file, err)
		}
		if name != "" {
			v.Name = name
		}
		return &v, nil
	}
	if provider == "" && model == "" && promptFile == "" && name == "" {
		return nil, nil
	}
	v := coordination.Variant{Name: name, Provider: provider, Model: model}
	if promptFile != "" {
		data, err := r.readInput(promptFile, "prompt file")
		if err != nil {
			return nil, err
		}
		v.Prompt = string(data)
	}
	if err := v.Validate(); err != nil {
		return nil, usageError{err}
	}
	return &v, nil
}

// readInput reads a file, or stdin for "-".
func (r *runner) readInput(path, what string) ([]byte, error) {
	if path == "-" {
		return readLimited(r.env.Stdin, what+" from stdin")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", what, err)
	}
	defer f.Close()
	return readLimited(f, what+" "+path)
}

func (r *runner) experimentList() *cobra.Command {
	var state string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List experiments, oldest first",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := r.client(cmd)
			if err != nil {
				return err
			}
			q := url.Values{}
			if state != "" {
				q.Set("state", state)
			}
			raw, err := c.Do(cmd.Context(), http.MethodGet, "experiments", q, nil)
			if err != nil {
				return err
			}
			return emit(r.printer(), raw, func(l list[coordination.Experiment]) error {
				if len(l.Items) == 0 {
					_, err := fmt.Fprintln(r.env.Stdout, "no experiments")
					return err
				}
				t := newTable(r.env.Stdout, "ID", "STATE", "DECISION", "VARIANT", "CREATED", "TITLE")
				for _, e := range l.Items {
					t.row(e.ID, string(e.State), dash(string(e.Decision)), dash(e.Variant.Name), stamp(e.CreatedAt), truncate(e.Title, 60))
				}
				return t.flush()
			})
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "only experiments in this state (proposed, running, held, …)")
	return cmd
}

func (r *runner) experimentShow() *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show one experiment with its last evaluation",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client(cmd)
			if err != nil {
				return err
			}
			raw, err := c.Do(cmd.Context(), http.MethodGet, "experiments/"+url.PathEscape(args[0]), nil, nil)
			if err != nil {
				return err
			}
			return emit(r.printer(), raw, func(e coordination.Experiment) error {
				f := newFields(r.env.Stdout)
				f.add("id", e.ID)
				f.add("title", e.Title)
				f.add("state", string(e.State))
				f.add("hypothesis", e.Hypothesis)
				f.add("criteria", criteriaText(e.SuccessCriteria))
				f.add("variant", variantText(e.Variant))
				f.add("shadow traffic", pct(e.ShadowPercent/100))
				if e.BudgetUSD > 0 {
					f.add("budget", fmt.Sprintf("$%.2f (spent $%.2f)", e.BudgetUSD, e.SpentUSD))
				}
				f.add("evaluation period", days(e.EvaluationMin.D())+" – "+days(e.EvaluationMax.D()))
				f.add("created", stamp(e.CreatedAt)+" by "+dash(e.CreatedBy))
				if !e.StartedAt.IsZero() {
					f.add("started", stamp(e.StartedAt)+" by "+dash(e.StartedBy))
				}
				f.add("promotion", e.PromotionID)
				f.add("quarantine record", e.RecordID)
				f.add("retry of", e.RetryOf)
				if err := f.flush(); err != nil {
					return err
				}
				if ev := e.LastEvaluation; ev != nil {
					fmt.Fprintf(r.env.Stdout, "\nlast evaluation: %s at %s by %s\n", ev.Decision, stamp(ev.At), dash(ev.By))
					return r.printExplanation(ev.Explanation)
				}
				return nil
			})
		},
	}
}

// variantText is a one-line description of a variant.
func variantText(v coordination.Variant) string {
	if v.IsZero() && v.Name == "" {
		return ""
	}
	parts := []string{dash(v.Name)}
	if v.Provider != "" {
		parts = append(parts, "provider "+v.Provider)
	}
	if v.Model != "" {
		parts = append(parts, "model "+v.Model)
	}
	if v.Strategy != "" {
		parts = append(parts, "strategy "+v.Strategy)
	}
	return strings.Join(parts, ", ")
}

func (r *runner) experimentStart() *cobra.Command {
	var approver string
	cmd := &cobra.Command{
		Use:   "start ID",
		Short: "Start a proposed or held experiment on shadow traffic",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return action(r, cmd, "experiments/"+url.PathEscape(args[0])+"/start", optional("approver", approver),
				func(e coordination.Experiment) string {
					if e.ID == "" {
						return fmt.Sprintf("started experiment %s", args[0])
					}
					return fmt.Sprintf("started experiment %s (%s, %s of production traffic as shadow copies)", e.ID, e.State, pct(e.ShadowPercent/100))
				})
		},
	}
	cmd.Flags().StringVar(&approver, "approver", "", "who approves the start (recorded in the audit log)")
	return cmd
}

// evaluateResponse is the answer of POST /experiments/{id}/evaluate.
type evaluateResponse struct {
	ExperimentID string                       `json:"experiment_id"`
	Decision     coordination.Decision        `json:"decision"`
	Explanation  decision.Explanation         `json:"explanation"`
	State        coordination.ExperimentState `json:"state"`
	PromotionID  string                       `json:"promotion_id"`
	RecordID     string                       `json:"record_id"`
}

func (r *runner) experimentEvaluate() *cobra.Command {
	var metrics []string
	cmd := &cobra.Command{
		Use:   "evaluate ID",
		Short: "Ask the evaluator for PROMOTE, HOLD or QUARANTINE",
		Long: `Evaluate an experiment. Without --metric the evaluator decides from the samples
measured on shadow traffic (running experiments only); with --metric it decides
from values measured elsewhere, in base units (fractions, seconds, dollars).`,
		Example: "  tricycle experiment evaluate exp-01J… --metric accuracy=0.92 --metric latency_p95=2.5 --metric cost_per_review=0.12",
		Args:    exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := parseMetrics(metrics)
			if err != nil {
				return usageError{err}
			}
			body := map[string]any{}
			if m != nil {
				body["metrics"] = m
			}
			c, err := r.client(cmd)
			if err != nil {
				return err
			}
			raw, err := c.Do(cmd.Context(), http.MethodPost, "experiments/"+url.PathEscape(args[0])+"/evaluate", nil, body)
			if err != nil {
				return err
			}
			return emit(r.printer(), raw, func(ev evaluateResponse) error {
				id := ev.ExperimentID
				if id == "" {
					id = args[0]
				}
				fmt.Fprintf(r.env.Stdout, "%s: %s\n", id, ev.Decision)
				switch {
				case ev.PromotionID != "":
					fmt.Fprintf(r.env.Stdout, "promotion %s requested; approve it with: tricycle promotion approve %s\n", ev.PromotionID, ev.PromotionID)
				case ev.RecordID != "":
					fmt.Fprintf(r.env.Stdout, "quarantined as record %s; see: tricycle quarantine show %s\n", ev.RecordID, ev.RecordID)
				}
				return r.printExplanation(ev.Explanation)
			})
		},
	}
	cmd.Flags().StringArrayVar(&metrics, "metric", nil, "measured value name=value, e.g. accuracy=0.92 (repeatable)")
	return cmd
}

func (r *runner) experimentReject() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "reject ID",
		Short: "Decline a proposed, running or held experiment",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return action(r, cmd, "experiments/"+url.PathEscape(args[0])+"/reject", optional("reason", reason),
				func(coordination.Experiment) string { return "rejected experiment " + args[0] })
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit log)")
	return cmd
}

func (r *runner) experimentQuarantine() *cobra.Command {
	var failureType, logsFile string
	var metrics []string
	cmd := &cobra.Command{
		Use:   "quarantine ID",
		Short: "Archive an experiment in V3 (quarantine) by hand",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := parseMetrics(metrics)
			if err != nil {
				return usageError{err}
			}
			body := map[string]any{"failure_type": failureType}
			if m != nil {
				body["metrics_at_failure"] = m
			}
			if logsFile != "" {
				data, err := r.readInput(logsFile, "error logs")
				if err != nil {
					return err
				}
				body["error_logs"] = string(data)
			}
			return action(r, cmd, "experiments/"+url.PathEscape(args[0])+"/quarantine", body,
				func(rec coordination.QuarantineRecord) string {
					if rec.RecordID == "" {
						return "quarantined experiment " + args[0]
					}
					return fmt.Sprintf("quarantined experiment %s as record %s (%s): %s", args[0], rec.RecordID, rec.FailureType, rec.RootCause.Summary)
				})
		},
	}
	cmd.Flags().StringVar(&failureType, "failure-type", string(coordination.FailureManual), "failure type (accuracy_degradation, error_spike, manual, …)")
	cmd.Flags().StringVar(&logsFile, "error-logs", "", "file of error logs to keep as evidence (\"-\" reads stdin)")
	cmd.Flags().StringArrayVar(&metrics, "metric", nil, "metric at failure name=value (repeatable)")
	return cmd
}

// optional returns a body holding key when value is set, else an empty body.
func optional(key, value string) map[string]any {
	if value == "" {
		return map[string]any{}
	}
	return map[string]any{key: value}
}

// action POSTs body to path and prints the answer: the API's JSON, or one
// line from describe.
func action[T any](r *runner, cmd *cobra.Command, path string, body any, describe func(T) string) error {
	c, err := r.client(cmd)
	if err != nil {
		return err
	}
	raw, err := c.Do(cmd.Context(), http.MethodPost, path, nil, body)
	if err != nil {
		return err
	}
	return emit(r.printer(), raw, func(v T) error {
		_, err := fmt.Fprintln(r.env.Stdout, describe(v))
		return err
	})
}
