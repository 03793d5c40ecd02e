package web

import (
	"github.com/spf13/cobra"
	"github.com/stackkit/stackkit/kit/cli"
)

// Command returns the binary's root command: kitctl's command groups (`web migrate up`, `web
// check`, ...) with the service's migrations embedded as their default source.
func Command() *cobra.Command {
	return cli.New(cli.WithName("web"), cli.WithMigrationsFS(Migrations()))
}
