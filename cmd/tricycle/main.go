// Command tricycle runs the three-version self-evolving cycle of an AI code
// review platform: `tricycle serve` runs the server, `tricycle demo` shows
// the whole cycle in about a minute, and the client commands drive a
// running server. See `tricycle --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tricyclehq/tricycle/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
