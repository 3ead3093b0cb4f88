package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tricyclehq/tricycle/coordination"
)

func (r *runner) promotionCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "promotion",
		Aliases: []string{"promotions"},
		Short:   "Approve, reject, roll back and inspect V1 → V2 promotions",
	}
	cmd.AddCommand(r.promotionList(), r.promotionShow(), r.promotionApprove(), r.promotionReject(), r.promotionRollback())
	return cmd
}

func (r *runner) promotionList() *cobra.Command {
	var state string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List promotion requests, oldest first",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if state != "" {
				q.Set("state", state)
			}
			raw, err := r.get(cmd, "promotions", q)
			if err != nil {
				return err
			}
			return emit(r.printer(), raw, func(l list[coordination.PromotionRequest]) error {
				if len(l.Items) == 0 {
					_, err := fmt.Fprintln(r.env.Stdout, "no promotions")
					return err
				}
				t := newTable(r.env.Stdout, "ID", "EXPERIMENT", "STATE", "TRAFFIC", "CANDIDATE", "REQUESTED", "PHASE DUE")
				for _, p := range l.Items {
					due := "-"
					if p.State.Phase() > 0 {
						due = stamp(p.PhaseDueAt)
					}
					t.row(p.RequestID, p.ExperimentID, string(p.State), fmt.Sprintf("%d%%", p.TrafficPercent),
						dash(p.Candidate.Name), stamp(p.RequestedAt), due)
				}
				return t.flush()
			})
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "only promotions in this state (awaiting_approval, phase_1, …)")
	return cmd
}

func (r *runner) promotionShow() *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show one promotion with its validation and phases",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := r.get(cmd, "promotions/"+url.PathEscape(args[0]), nil)
			if err != nil {
				return err
			}
			return emit(r.printer(), raw, func(p coordination.PromotionRequest) error {
				w := r.env.Stdout
				f := newFields(w)
				f.add("id", p.RequestID)
				f.add("experiment", p.ExperimentID)
				f.add("state", string(p.State))
				f.add("traffic", fmt.Sprintf("%d%%", p.TrafficPercent))
				f.add("candidate", variantText(p.Candidate))
				f.add("confidence", num(p.ConfidenceScore))
				f.add("metrics", metricsText(p.EvaluationMetrics))
				f.add("requested", stamp(p.RequestedAt)+" by "+dash(p.RequestedBy))
				if !p.ApprovedAt.IsZero() {
					f.add("approved", stamp(p.ApprovedAt)+" by "+dash(p.ApprovedBy))
				}
				if p.State.Phase() > 0 {
					f.add("phase due", stamp(p.PhaseDueAt))
				}
				f.add("from release", p.FromReleaseID)
				f.add("to release", p.ToReleaseID)
				if !p.CompletedAt.IsZero() {
					f.add("completed", stamp(p.CompletedAt))
				}
				if !p.RolledBackAt.IsZero() {
					f.add("rolled back", stamp(p.RolledBackAt))
				}
				f.add("reason", p.Reason)
				if err := f.flush(); err != nil {
					return err
				}
				if len(p.Validation) > 0 {
					fmt.Fprintln(w, "\nvalidation:")
					t := newTable(w, "CHECK", "PASSED", "MESSAGE")
					for _, c := range p.Validation {
						t.row(c.Name, fmt.Sprint(c.Passed), c.Message)
					}
					if err := t.flush(); err != nil {
						return err
					}
				}
				if len(p.Phases) > 0 {
					fmt.Fprintln(w, "\nphases:")
					t := newTable(w, "PHASE", "TRAFFIC", "STARTED", "DUE", "ENDED", "ANALYSIS")
					for _, ph := range p.Phases {
						t.row(fmt.Sprint(ph.Phase), fmt.Sprintf("%d%%", ph.Percent), stamp(ph.StartedAt), stamp(ph.DueAt),
							stamp(ph.EndedAt), dash(ph.Analysis))
					}
					return t.flush()
				}
				return nil
			})
		},
	}
}

func (r *runner) promotionApprove() *cobra.Command {
	var approver string
	cmd := &cobra.Command{
		Use:   "approve ID",
		Short: "Approve a validated promotion: its canary starts with phase 1",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return action(r, cmd, "promotions/"+url.PathEscape(args[0])+"/approve", optional("approver", approver),
				func(p coordination.PromotionRequest) string {
					if p.State == "" {
						return "approved promotion " + args[0]
					}
					return fmt.Sprintf("approved promotion %s: %s at %d%% of traffic", args[0], p.State, p.TrafficPercent)
				})
		},
	}
	cmd.Flags().StringVar(&approver, "approver", "", "who approves (recorded in the audit log)")
	return cmd
}

func (r *runner) promotionReject() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "reject ID",
		Short: "Decline a promotion before its canary starts",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return action(r, cmd, "promotions/"+url.PathEscape(args[0])+"/reject", optional("reason", reason),
				func(coordination.PromotionRequest) string { return "rejected promotion " + args[0] })
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit log)")
	return cmd
}

func (r *runner) promotionRollback() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "rollback ID",
		Short: "Send all traffic back to the old release and quarantine the experiment",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return action(r, cmd, "promotions/"+url.PathEscape(args[0])+"/rollback", optional("reason", reason),
				func(coordination.PromotionRequest) string {
					return "rolled back promotion " + args[0] + ": all traffic is on the previous release"
				})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit log and the quarantine record)")
	return cmd
}

// get GETs path with query.
func (r *runner) get(cmd *cobra.Command, path string, q url.Values) ([]byte, error) {
	c, err := r.client(cmd)
	if err != nil {
		return nil, err
	}
	return c.Do(cmd.Context(), http.MethodGet, path, q, nil)
}

// joinNonEmpty joins the non-empty parts with sep.
func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}
