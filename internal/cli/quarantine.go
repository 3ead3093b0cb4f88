package cli

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tricyclehq/tricycle/coordination"
)

func (r *runner) quarantineCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quarantine",
		Short: "Inspect and review the V3 quarantine archive",
	}
	cmd.AddCommand(r.quarantineList(), r.quarantineShow(), r.quarantineReview())
	return cmd
}

func (r *runner) quarantineList() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List quarantine records, oldest first",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := r.get(cmd, "quarantine", nil)
			if err != nil {
				return err
			}
			return emit(r.printer(), raw, func(l list[coordination.QuarantineRecord]) error {
				if len(l.Items) == 0 {
					_, err := fmt.Fprintln(r.env.Stdout, "no quarantine records")
					return err
				}
				t := newTable(r.env.Stdout, "ID", "EXPERIMENT", "FAILURE", "ROOT CAUSE", "QUARANTINED", "NEXT REVIEW")
				for _, q := range l.Items {
					t.row(q.RecordID, q.ExperimentID, string(q.FailureType), dash(q.RootCause.Category),
						stamp(q.QuarantinedAt), stamp(q.NextReviewAt))
				}
				return t.flush()
			})
		},
	}
}

// recordView is GET /quarantine/{id}: the record, with its reviews beside it
// (either inline or under "record").
type recordView struct {
	coordination.QuarantineRecord
	Record  *coordination.QuarantineRecord  `json:"record"`
	Reviews []coordination.QuarantineReview `json:"reviews"`
}

func (r *runner) quarantineShow() *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a quarantine record: evidence, root cause and reviews",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := r.get(cmd, "quarantine/"+url.PathEscape(args[0]), nil)
			if err != nil {
				return err
			}
			return emit(r.printer(), raw, func(v recordView) error {
				q := v.QuarantineRecord
				w := r.env.Stdout
				f := newFields(w)
				f.add("id", q.RecordID)
				f.add("experiment", q.ExperimentID+" — "+q.Snapshot.Title)
				f.add("failure type", string(q.FailureType))
				f.add("variant", variantText(q.Snapshot.Variant))
				f.add("criteria", criteriaText(q.Snapshot.SuccessCriteria))
				f.add("metrics at failure", metricsText(q.Evidence.MetricsAtFailure))
				f.add("root cause", joinNonEmpty(": ", q.RootCause.Category, q.RootCause.Summary))
				if len(q.RootCause.ContributingFactors) > 0 {
					f.add("contributing", strings.Join(q.RootCause.ContributingFactors, "; "))
				}
				if q.RootCause.Category != "" {
					f.add("confidence", pct(q.RootCause.Confidence)+" (rule "+dash(q.RootCause.Rule)+")")
				}
				if q.Evidence.Evaluation != nil {
					f.add("evaluation", string(q.Evidence.Evaluation.Decision)+": "+q.Evidence.Evaluation.Explanation.Summary)
				}
				if q.Evidence.ErrorLogs != "" {
					f.add("error logs", truncate(q.Evidence.ErrorLogs, 160))
				}
				f.add("quarantined", stamp(q.QuarantinedAt)+" by "+dash(q.QuarantinedBy))
				f.add("next review", stamp(q.NextReviewAt))
				f.add("content hash", q.ContentHash)
				if err := f.flush(); err != nil {
					return err
				}
				if len(v.Reviews) > 0 {
					fmt.Fprintln(w, "\nreviews:")
					t := newTable(w, "ID", "REVIEWER", "RETRY", "AT", "PROPOSAL", "NOTES")
					for _, rv := range v.Reviews {
						t.row(rv.ReviewID, rv.Reviewer, fmt.Sprint(rv.RetryApproved), stamp(rv.ReviewedAt), dash(rv.ProposalID), truncate(rv.Notes, 60))
					}
					return t.flush()
				}
				return nil
			})
		},
	}
}

func (r *runner) quarantineReview() *cobra.Command {
	var reviewer, notes string
	var retry bool
	cmd := &cobra.Command{
		Use:   "review ID",
		Short: "Record the quarterly review of a quarantine record",
		Long: `Append a review to a quarantine record. With --retry-approved the record's
blacklist entries are lifted and a retry proposal linked to the record is created.`,
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{"retry_approved": retry}
			if reviewer != "" {
				body["reviewer"] = reviewer
			}
			if notes != "" {
				body["notes"] = notes
			}
			return action(r, cmd, "quarantine/"+url.PathEscape(args[0])+"/review", body,
				func(rv coordination.QuarantineReview) string {
					s := "reviewed quarantine record " + args[0]
					if rv.ProposalID != "" {
						s += "; retry approved: proposal " + rv.ProposalID + " created"
					}
					return s
				})
		},
	}
	cmd.Flags().StringVar(&reviewer, "reviewer", "", "who reviews (default: the token's name)")
	cmd.Flags().BoolVar(&retry, "retry-approved", false, "lift the blacklist and propose a retry")
	cmd.Flags().StringVar(&notes, "notes", "", "review notes")
	return cmd
}
