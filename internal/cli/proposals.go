package cli

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/tricyclehq/tricycle/coordination"
)

func (r *runner) proposalsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "proposals",
		Aliases: []string{"proposal"},
		Short:   "Generate, list, accept and dismiss experiment proposals",
	}
	cmd.AddCommand(r.proposalsGenerate(), r.proposalsList(), r.proposalsAccept(), r.proposalsDismiss())
	return cmd
}

// printProposals prints proposals as a table.
func (r *runner) printProposals(items []coordination.Proposal, empty string) error {
	if len(items) == 0 {
		_, err := fmt.Fprintln(r.env.Stdout, empty)
		return err
	}
	t := newTable(r.env.Stdout, "ID", "STATE", "SOURCE", "PRIORITY", "TITLE")
	for _, p := range items {
		t.row(p.ProposalID, string(p.State), p.Source, fmt.Sprintf("%.2f", p.Priority), truncate(p.Title, 70))
	}
	return t.flush()
}

func (r *runner) proposalsGenerate() *cobra.Command {
	return &cobra.Command{
		Use:   "generate",
		Short: "Ask the generator for new proposals from every source",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := r.client(cmd)
			if err != nil {
				return err
			}
			raw, err := c.Do(cmd.Context(), http.MethodPost, "proposals/generate", nil, map[string]any{})
			if err != nil {
				return err
			}
			return emit(r.printer(), raw, func(l list[coordination.Proposal]) error {
				return r.printProposals(l.Items, "no new proposals")
			})
		},
	}
}

func (r *runner) proposalsList() *cobra.Command {
	var state string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List proposals, highest priority first",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if state != "" {
				q.Set("state", state)
			}
			raw, err := r.get(cmd, "proposals", q)
			if err != nil {
				return err
			}
			return emit(r.printer(), raw, func(l list[coordination.Proposal]) error {
				return r.printProposals(l.Items, "no proposals")
			})
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "only proposals in this state (suggested, accepted, dismissed)")
	return cmd
}

func (r *runner) proposalsAccept() *cobra.Command {
	return &cobra.Command{
		Use:   "accept ID",
		Short: "Accept a proposal: it becomes a proposed experiment",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return action(r, cmd, "proposals/"+url.PathEscape(args[0])+"/accept", map[string]any{},
				func(e coordination.Experiment) string {
					if e.ID == "" {
						return "accepted proposal " + args[0]
					}
					return fmt.Sprintf("accepted proposal %s as experiment %s; start it with: tricycle experiment start %s", args[0], e.ID, e.ID)
				})
		},
	}
}

func (r *runner) proposalsDismiss() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "dismiss ID",
		Short: "Dismiss a proposal",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return action(r, cmd, "proposals/"+url.PathEscape(args[0])+"/dismiss", optional("reason", reason),
				func(coordination.Proposal) string { return "dismissed proposal " + args[0] })
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why")
	return cmd
}
