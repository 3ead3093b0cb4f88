package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tricyclehq/tricycle/coordination"
)

func (r *runner) statusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Overview of V1, V2, V3, alerts and SLOs",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := r.get(cmd, "status", nil)
			if err != nil {
				return err
			}
			return emit(r.printer(), raw, func(s coordination.SystemStatus) error {
				f := newFields(r.env.Stdout)
				if s.Production != nil {
					f.add("V2 production", fmt.Sprintf("%s (release %s, since %s)", variantText(s.Production.Variant), s.Production.ID, stamp(s.Production.ActivatedAt)))
				} else {
					f.add("V2 production", "none")
				}
				for _, p := range s.ActivePromotions {
					f.add("promotion", fmt.Sprintf("%s of %s: %s at %d%%", p.RequestID, p.ExperimentID, p.State, p.TrafficPercent))
				}
				states := make([]string, 0, len(s.ExperimentsByState))
				for _, st := range coordination.ExperimentStates {
					if n := s.ExperimentsByState[st]; n > 0 {
						states = append(states, fmt.Sprintf("%s %d", st, n))
					}
				}
				f.add("V1 experiments", dash(strings.Join(states, ", ")))
				f.add("V3 quarantine", fmt.Sprintf("%d records, %d blacklist entries", s.QuarantineRecords, s.BlacklistEntries))
				f.add("proposals pending", strconv.Itoa(s.PendingProposals))
				f.add("active alerts", strconv.Itoa(len(s.ActiveAlerts)))
				f.add("SLO", fmt.Sprintf("compliant=%t, error budget %s left", s.SLO.Compliant, pct(s.SLO.BudgetRemaining)))
				return f.flush()
			})
		},
	}
}

func (r *runner) alertsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "alerts",
		Short: "List pending and firing health alerts",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := r.get(cmd, "alerts", nil)
			if err != nil {
				return err
			}
			return emit(r.printer(), raw, func(l list[coordination.Alert]) error {
				if len(l.Items) == 0 {
					_, err := fmt.Fprintln(r.env.Stdout, "no active alerts")
					return err
				}
				t := newTable(r.env.Stdout, "ALERT", "STATE", "VALUE", "THRESHOLD", "SINCE", "REMEDIATION")
				for _, a := range l.Items {
					since := a.ActiveAt
					if !a.FiredAt.IsZero() {
						since = a.FiredAt
					}
					t.row(a.ID, string(a.State), num(a.Value), num(a.Threshold), stamp(since), dash(string(a.Remediation)))
				}
				return t.flush()
			})
		},
	}
}

func (r *runner) sloCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "slo",
		Short: "Production's SLO compliance and error budget",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := r.get(cmd, "slo", nil)
			if err != nil {
				return err
			}
			return emit(r.printer(), raw, func(s coordination.SLOCompliance) error {
				fmt.Fprintf(r.env.Stdout, "compliant: %t over %s (%d requests), error budget %s left\n",
					s.Compliant, days(s.Window.D()), s.Requests, pct(s.BudgetRemaining))
				if len(s.Details) == 0 {
					return nil
				}
				t := newTable(r.env.Stdout, "SLO", "VALUE", "TARGET", "COMPLIANT", "BUDGET LEFT")
				for _, k := range sortedKeys(s.Details) {
					d := s.Details[k]
					t.row(k, sloValue(k, d.Value), "< "+sloValue(k, d.Target), fmt.Sprint(d.Compliant), pct(d.BudgetRemaining))
				}
				return t.flush()
			})
		},
	}
}

// sloValue formats an SLO's value in its unit: seconds for latency, a
// percentage for rates.
func sloValue(name string, v float64) string {
	if strings.Contains(name, "latency") {
		return num(v) + "s"
	}
	return pct(v)
}

func (r *runner) rollbackCommand() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Emergency rollback: the active canary, or the latest promotion within its window",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(reason) == "" {
				return usagef("--reason is required for an emergency rollback")
			}
			return action(r, cmd, "rollback", map[string]any{"reason": reason},
				func(v struct {
					Production *coordination.Release `json:"production"`
				}) string {
					if v.Production == nil {
						return "rolled back: all traffic is on the previous release"
					}
					return fmt.Sprintf("rolled back: production is %s (release %s)", v.Production.Variant.Name, v.Production.ID)
				})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; recorded in the audit log)")
	return cmd
}

func (r *runner) auditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read and verify the hash-chained audit log",
	}
	var after int64
	var limit int
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "List audit entries in order",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if after < 0 || limit < 0 {
				return usagef("--after and --limit must not be negative")
			}
			q := url.Values{}
			if after > 0 {
				q.Set("after", strconv.FormatInt(after, 10))
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			raw, err := r.get(cmd, "audit", q)
			if err != nil {
				return err
			}
			return emit(r.printer(), raw, func(l list[coordination.AuditEntry]) error {
				if len(l.Items) == 0 {
					_, err := fmt.Fprintln(r.env.Stdout, "no audit entries")
					return err
				}
				t := newTable(r.env.Stdout, "SEQ", "AT", "ACTOR", "ROLE", "ACTION", "TARGET")
				for _, e := range l.Items {
					t.row(strconv.FormatInt(e.Seq, 10), e.At.UTC().Format(time.RFC3339), e.Actor, string(e.Role), e.Action, dash(e.Target))
				}
				return t.flush()
			})
		},
	}
	listCmd.Flags().Int64Var(&after, "after", 0, "only entries after this sequence number")
	listCmd.Flags().IntVar(&limit, "limit", 0, "at most this many entries (0: the server's default)")
	verifyCmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit chain; name the first altered or removed entry",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := r.get(cmd, "audit/verify", nil)
			if err != nil {
				return err
			}
			var v coordination.AuditVerification
			if err := json.Unmarshal(raw, &v); err != nil {
				return fmt.Errorf("decode the server's answer: %w", err)
			}
			switch {
			case r.output == formatJSON:
				if err := r.printer().json(raw); err != nil {
					return err
				}
			case v.OK:
				fmt.Fprintf(r.env.Stdout, "audit chain verified: %d entries intact\n", v.Entries)
			}
			if !v.OK {
				return fmt.Errorf("audit chain broken at entry %d of %d: %s", v.FirstBadSeq, v.Entries, v.Reason)
			}
			return nil
		},
	}
	cmd.AddCommand(listCmd, verifyCmd)
	return cmd
}

// tokenView is a token as the API lists it (never with its secret).
type tokenView struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Role      coordination.Role `json:"role"`
	CreatedAt time.Time         `json:"created_at"`
	CreatedBy string            `json:"created_by"`
	RevokedAt time.Time         `json:"revoked_at"`
}

func (r *runner) tokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "token",
		Aliases: []string{"tokens"},
		Short:   "Create, list and revoke API tokens",
	}
	var name, role string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a token; its secret is shown once",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(name) == "" {
				return usagef("--name is required")
			}
			if !coordination.Role(role).Valid() {
				return usagef("--role %q: want admin, user or system", role)
			}
			c, err := r.client(cmd)
			if err != nil {
				return err
			}
			raw, err := c.Do(cmd.Context(), http.MethodPost, "tokens", nil, map[string]any{"name": name, "role": role})
			if err != nil {
				return err
			}
			return emit(r.printer(), raw, func(t struct {
				Token string `json:"token"`
				tokenView
			}) error {
				fmt.Fprintf(r.env.Stdout, "created %s token %s (%s)\n%s\nstore it now: it is not shown again\n", t.Role, dash(t.ID), t.Name, t.Token)
				return nil
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "who or what uses the token (required)")
	create.Flags().StringVar(&role, "role", string(coordination.RoleUser), "role: admin, user or system")
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := r.get(cmd, "tokens", nil)
			if err != nil {
				return err
			}
			return emit(r.printer(), raw, func(l list[tokenView]) error {
				if len(l.Items) == 0 {
					_, err := fmt.Fprintln(r.env.Stdout, "no tokens")
					return err
				}
				t := newTable(r.env.Stdout, "ID", "NAME", "ROLE", "CREATED", "BY", "REVOKED")
				for _, k := range l.Items {
					t.row(k.ID, k.Name, string(k.Role), stamp(k.CreatedAt), dash(k.CreatedBy), stamp(k.RevokedAt))
				}
				return t.flush()
			})
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client(cmd)
			if err != nil {
				return err
			}
			raw, err := c.Do(cmd.Context(), http.MethodDelete, "tokens/"+url.PathEscape(args[0]), nil, nil)
			if err != nil {
				return err
			}
			return emit(r.printer(), raw, func(map[string]any) error {
				_, err := fmt.Fprintln(r.env.Stdout, "revoked token "+args[0])
				return err
			})
		},
	}
	cmd.AddCommand(create, listCmd, revoke)
	return cmd
}
