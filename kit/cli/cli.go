// Package cli is kitctl, Stackkit's operations CLI, built with cobra: one command group per
// module (kitctl migrate ..., later kitctl cache ..., kitctl mail ...). A service binary embeds the
// same commands, with its own embedded migrations and Go migrations:
//
//	//go:embed migrations/*.sql
//	var migrations embed.FS
//
//	func main() {
//		sub, _ := fs.Sub(migrations, "migrations")
//		root := cli.New(cli.WithName("orders"), cli.WithMigrationsFS(sub), cli.WithGoMigrations(backfill))
//		root.AddCommand(serveCommand())
//		os.Exit(cli.Execute(root))
//	}
//
// Exit codes: 0 success, 1 failure, 2 usage error, 3 "migrate check" or "check" found pending
// migrations.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/stackkit/stackkit/kit/db/migrate"

	// The database backends kitctl speaks to.
	_ "github.com/stackkit/stackkit/kit/db/mysql"
	_ "github.com/stackkit/stackkit/kit/db/postgres"
	_ "github.com/stackkit/stackkit/kit/db/sqlite"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
	ExitPending = 3
)

// Option configures the command tree.
type Option func(*app)

type app struct {
	name         string
	version      string
	migrationsFS fs.FS
	goMigrations []*migrate.Migration
	logLevel     string
	logFormat    string
}

// WithName sets the program name shown in help and messages (default "kitctl").
func WithName(name string) Option { return func(a *app) { a.name = name } }

// WithVersion sets the version "version" prints (default: the main module's version from the
// build information).
func WithVersion(v string) Option { return func(a *app) { a.version = v } }

// WithMigrationsFS makes fsys (SQL files at its root) the default migration source, instead of
// the --migrations directory; a service embeds its migrations this way.
func WithMigrationsFS(fsys fs.FS) Option { return func(a *app) { a.migrationsFS = fsys } }

// WithGoMigrations adds migrations written in Go to every migrate command.
func WithGoMigrations(ms ...*migrate.Migration) Option {
	return func(a *app) { a.goMigrations = append(a.goMigrations, ms...) }
}

// New returns the root command with every command group.
func New(opts ...Option) *cobra.Command {
	a := &app{name: "kitctl"}
	for _, o := range opts {
		o(a)
	}
	root := group(&cobra.Command{
		Use:           a.name,
		Short:         "Operations for Stackkit services: migrations and more",
		SilenceErrors: true,
		SilenceUsage:  true,
	})
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.logLevel, "log-level", envOr("KIT_LOG_LEVEL", "info"), "log level: debug, info, warn, error (env KIT_LOG_LEVEL)")
	pf.StringVar(&a.logFormat, "log-format", envOr("KIT_LOG_FORMAT", "text"), "log format: text or json (env KIT_LOG_FORMAT)")
	// Check the logging flags before any command runs, so a typo fails every command alike.
	root.PersistentPreRunE = func(*cobra.Command, []string) error { _, err := a.logger(io.Discard); return err }
	root.AddCommand(a.migrateCommand(), a.cacheCommand(), a.i18nCommand(), a.storageCommand(), a.mailCommand(),
		a.queueCommand(), a.checkCommand(), a.versionCommand())
	return root
}

// newApp is the configuration shared by a command group used outside New's root, where the
// root's --log-level and --log-format flags do not exist.
func newApp(opts []Option) *app {
	a := &app{name: "kitctl", logLevel: "info", logFormat: "text"}
	for _, o := range opts {
		o(a)
	}
	return a
}

// MigrateCommand returns the "migrate" group alone, for a service that builds its own root.
func MigrateCommand(opts ...Option) *cobra.Command { return newApp(opts).migrateCommand() }

// CacheCommand returns the "cache" group alone, for a service that builds its own root.
func CacheCommand(opts ...Option) *cobra.Command { return newApp(opts).cacheCommand() }

// I18nCommand returns the "i18n" group alone, for a service that builds its own root.
func I18nCommand(opts ...Option) *cobra.Command { return newApp(opts).i18nCommand() }

// StorageCommand returns the "storage" group alone, for a service that builds its own root.
func StorageCommand(opts ...Option) *cobra.Command { return newApp(opts).storageCommand() }

// MailCommand returns the "mail" group alone, for a service that builds its own root.
func MailCommand(opts ...Option) *cobra.Command { return newApp(opts).mailCommand() }

// QueueCommand returns the "queue" group alone, for a service that builds its own root.
func QueueCommand(opts ...Option) *cobra.Command { return newApp(opts).queueCommand() }

// CheckCommand returns the "check" command alone, for a service that builds its own root (its
// embedded migrations included, given WithMigrationsFS).
func CheckCommand(opts ...Option) *cobra.Command { return newApp(opts).checkCommand() }

// Main runs kitctl with the process's arguments and returns the exit code.
func Main(opts ...Option) int { return Execute(New(opts...)) }

// Execute runs root with os.Args, cancelling its context on SIGINT or SIGTERM, prints any error
// to stderr, and returns the exit code.
func Execute(root *cobra.Command) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return ExecuteContext(ctx, root, os.Args[1:])
}

// ExecuteContext runs root with args and returns the exit code; errors go to root's stderr.
func ExecuteContext(ctx context.Context, root *cobra.Command, args []string) int {
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(root.ErrOrStderr(), "%s: %v\n", root.Name(), err)
	var ue usageError
	var ee exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue), isCobraUsage(err):
		fmt.Fprintf(root.ErrOrStderr(), "Run '%s --help' for usage.\n", root.Name())
		return ExitUsage
	}
	return ExitFailure
}

// usageError marks a mistake in the command line: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// isCobraUsage recognises the errors cobra returns for unknown commands and bad arguments, which
// it does not type.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "requires at most", "invalid argument"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// noArgs rejects arguments to a command that takes none; for a command group, an argument is an
// unknown subcommand: "kitctl migrate upp" is a typo, not a no-op.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if !cmd.HasSubCommands() {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageError{errors.New(msg)}
}

// group makes cmd a command group: with no subcommand it prints its help, and an unknown
// subcommand is a usage error (cobra would print help and exit 0).
func group(cmd *cobra.Command) *cobra.Command {
	// Cobra's default (0 here, meaning 2 only when it runs the command lookup itself) would
	// suggest nothing for a typo such as "upp" from noArgs.
	cmd.SuggestionsMinimumDistance = 2
	cmd.Args = noArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	return cmd
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s needs %s", cmd.CommandPath(), what)
		}
		return nil
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// logger builds the logger the commands use, on stderr.
func (a *app) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(a.logLevel)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", a.logLevel)
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch a.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	}
	return nil, usagef("--log-format %q: want text or json", a.logFormat)
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := a.version
			if v == "" {
				v = "(devel)"
				if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
					v = bi.Main.Version
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s (%s, %s/%s)\n", a.name, v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
