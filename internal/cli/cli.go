// Package cli implements the tricycle command line: `serve`, `demo` and the
// client commands that talk to the HTTP API. It parses flags and prints
// results; the work is done by internal/app, internal/demo and the server.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Exit codes of Run.
const (
	// ExitOK means the command succeeded.
	ExitOK = 0
	// ExitError means the command failed.
	ExitError = 1
	// ExitUsage means the command line was malformed.
	ExitUsage = 2
)

// Env is what a command may touch of its process: standard streams and the
// environment. Tests pass their own.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// LookupEnv reads an environment variable (os.LookupEnv in Run).
	LookupEnv func(key string) (string, bool)
}

// Run runs the command line args (without the program name) with the
// process's environment and returns the exit code. Errors are printed to
// stderr as one line starting with "error: ".
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return Execute(ctx, args, Env{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr, LookupEnv: os.LookupEnv})
}

// Execute is Run with an explicit environment.
func Execute(ctx context.Context, args []string, env Env) int {
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if env.LookupEnv == nil {
		env.LookupEnv = func(string) (string, bool) { return "", false }
	}
	r := &runner{env: env}
	root := r.rootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		err = errors.New("interrupted")
	}
	fmt.Fprintln(env.Stderr, "error: "+oneLine(err.Error()))
	var u usageError
	if errors.As(err, &u) {
		return ExitUsage
	}
	return ExitError
}

// Version returns the binary's module version ("dev" for a local build).
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// usageError marks a malformed command line (exit code 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// runner holds one invocation's environment and global flags.
type runner struct {
	env     Env
	server  string
	token   string
	output  string
	timeout time.Duration
}

func (r *runner) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "tricycle",
		Short: "Run the three-version self-evolving cycle of an AI code review platform",
		Long: `tricycle runs experiments (V1) on shadow traffic judged by an automated evaluator,
promotes winners to production (V2) through canary phases with automatic rollback,
and archives failures in quarantine (V3).

Start a server with "tricycle serve", watch the whole cycle with "tricycle demo",
and drive a running server with the client commands.`,
		Version:       Version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if r.output != formatTable && r.output != formatJSON {
				return usagef("--output %q: want %q or %q", r.output, formatTable, formatJSON)
			}
			return nil
		},
	}
	root.SetIn(r.env.Stdin)
	root.SetOut(r.env.Stdout)
	root.SetErr(r.env.Stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.CompletionOptions.DisableDefaultCmd = true

	pf := root.PersistentFlags()
	pf.StringVar(&r.server, "server", "", "tricycle server URL (env TRICYCLE_SERVER, default "+DefaultServer+")")
	pf.StringVar(&r.token, "token", "", "API bearer token (env TRICYCLE_TOKEN)")
	pf.StringVarP(&r.output, "output", "o", formatTable, "output format: table or json")
	pf.DurationVar(&r.timeout, "timeout", 30*time.Second, "time limit of one API request")

	root.AddGroup(&cobra.Group{ID: "server", Title: "Server:"}, &cobra.Group{ID: "cycle", Title: "The cycle:"},
		&cobra.Group{ID: "ops", Title: "Operations:"}, &cobra.Group{ID: "data", Title: "Code review:"})
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("server", r.serveCommand(), r.demoCommand())
	add("cycle", r.experimentCommand(), r.promotionCommand(), r.quarantineCommand(), r.proposalsCommand())
	add("ops", r.statusCommand(), r.alertsCommand(), r.sloCommand(), r.rollbackCommand(),
		r.auditCommand(), r.tokenCommand())
	add("data", r.reviewCommand(), r.evalCommand())
	// Unknown subcommands are usage errors, and a group without a
	// subcommand says which ones it has.
	for _, c := range append(root.Commands(), root) {
		if c.HasSubCommands() {
			c.Args = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return usagef("unknown command %q for %q (want one of: %s)", args[0], cmd.CommandPath(), subNames(cmd))
				}
				return nil
			}
			c.RunE = func(cmd *cobra.Command, _ []string) error {
				if cmd == root {
					return cmd.Help()
				}
				return usagef("%q needs a subcommand (%s)", cmd.CommandPath(), subNames(cmd))
			}
		}
	}
	return root
}

func subNames(cmd *cobra.Command) string {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return strings.Join(names, ", ")
}

// client builds the API client from --server/--token, then TRICYCLE_SERVER
// and TRICYCLE_TOKEN, then the default server.
func (r *runner) client(cmd *cobra.Command) (*Client, error) {
	server, token := r.server, r.token
	if !cmd.Flags().Changed("server") {
		if v, ok := r.env.LookupEnv("TRICYCLE_SERVER"); ok && strings.TrimSpace(v) != "" {
			server = v
		}
	}
	if !cmd.Flags().Changed("token") {
		if v, ok := r.env.LookupEnv("TRICYCLE_TOKEN"); ok {
			token = v
		}
	}
	c, err := NewClient(ClientOptions{Server: server, Token: token, Timeout: r.timeout})
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// printer returns the printer for the selected output format.
func (r *runner) printer() printer {
	return printer{w: r.env.Stdout, format: r.output}
}

// exactArgs is cobra.ExactArgs with a message naming what is missing.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usagef("%s takes %d argument(s): %s (got %d)", cmd.CommandPath(), len(names),
				strings.Join(names, " "), len(args))
		}
		return nil
	}
}
