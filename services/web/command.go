package web

import (
	"github.com/spf13/cobra"
	"github.com/stackkit/stackkit/kit/cli"
)

// Command returns the binary's root command: `web serve`, and kitctl's command groups (`web
// migrate up`, `web check`, ...) with the service's migrations embedded as their default source.
func Command() *cobra.Command {
	root := cli.New(cli.WithName("web"), cli.WithMigrationsFS(Migrations()))
	root.AddCommand(serveCommand())
	return root
}
