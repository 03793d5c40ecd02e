package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/stackkit/stackkit/kit/db"
	"github.com/stackkit/stackkit/kit/db/migrate"
	"github.com/stackkit/stackkit/kit/registry"
)

// migrateFlags are the flags every migrate command shares.
type migrateFlags struct {
	databaseURL string
	dir         string
	lockTimeout time.Duration
	outOfOrder  bool
}

func (a *app) migrateCommand() *cobra.Command {
	var f migrateFlags
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply, roll back and inspect database migrations",
		Long: `Apply, roll back and inspect database migrations.

Migrations are SQL files named NNNN_name.up.sql and NNNN_name.down.sql in the migrations
directory, plus any migrations a service binary registers in Go. Each runs in its own
transaction unless its file has a "-- kit:no-transaction" line. "up" and "down" take a lock
that waits for other migrators, so every replica of a deployment may run "migrate up" at start.`,
	}
	group(cmd)
	pf := cmd.PersistentFlags()
	// The URL's default is resolved at run time, so a password in KIT_DATABASE_URL never shows in help.
	pf.StringVar(&f.databaseURL, "database-url", "", "database URL (env KIT_DATABASE_URL; default "+db.DefaultURL+")")
	pf.StringVar(&f.dir, "migrations", "", "directory of SQL migrations (env KIT_MIGRATIONS_DIR; default ./migrations)")
	pf.DurationVar(&f.lockTimeout, "lock-timeout", migrate.DefaultLockTimeout, "how long up, down and repair wait for another migrator's lock")
	pf.BoolVar(&f.outOfOrder, "allow-out-of-order", false, "let up apply pending migrations older than the newest applied one")
	cmd.AddCommand(
		a.migrateUp(&f), a.migrateDown(&f), a.migrateStatus(&f), a.migratePlan(&f),
		a.migrateCheck(&f), a.migrateCreate(&f), a.migrateRepair(&f),
	)
	return cmd
}

// onDB names the (redacted) database in a migration error, so a message from one of many
// environments says which database it was about.
func (f *migrateFlags) onDB(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w (database %s)", err, registry.Redact(f.url()))
}

func (f *migrateFlags) url() string {
	if f.databaseURL != "" {
		return f.databaseURL
	}
	return envOr("KIT_DATABASE_URL", db.DefaultURL)
}

// source picks the migration directory: the flag, the environment, the binary's embedded
// migrations, or ./migrations, in that order.
func (a *app) source(f *migrateFlags) (fs.FS, string, error) {
	dir := f.dir
	if dir == "" {
		dir = os.Getenv("KIT_MIGRATIONS_DIR")
	}
	if dir == "" && a.migrationsFS != nil {
		return a.migrationsFS, "embedded migrations", nil
	}
	if dir == "" {
		dir = "./migrations"
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		if len(a.goMigrations) > 0 && f.dir == "" && errors.Is(err, fs.ErrNotExist) {
			return nil, "", nil // Go migrations only
		}
		return nil, "", fmt.Errorf("migrations directory %q not found (set --migrations or KIT_MIGRATIONS_DIR)", dir)
	}
	return os.DirFS(dir), dir, nil
}

// migrator opens the database and builds a Migrator; close releases the database.
func (a *app) migrator(cmd *cobra.Command, f *migrateFlags) (m *migrate.Migrator, closeDB func(), err error) {
	logger, err := a.logger(cmd.ErrOrStderr())
	if err != nil {
		return nil, nil, err
	}
	if f.lockTimeout <= 0 {
		return nil, nil, usagef("--lock-timeout must be positive, got %s", f.lockTimeout)
	}
	fsys, _, err := a.source(f)
	if err != nil {
		return nil, nil, err
	}
	bdb, err := db.Open(cmd.Context(), f.url(), db.WithLogger(logger))
	if err != nil {
		return nil, nil, err
	}
	opts := []migrate.Option{
		migrate.WithLogger(logger), migrate.WithLockTimeout(f.lockTimeout),
		migrate.WithAllowOutOfOrder(f.outOfOrder), migrate.WithMigrations(a.goMigrations...),
	}
	if fsys != nil {
		opts = append(opts, migrate.WithFS(fsys))
	}
	m, err = migrate.New(bdb, opts...)
	if err != nil {
		_ = bdb.Close()
		return nil, nil, err
	}
	return m, func() { _ = bdb.Close() }, nil
}

// parseVersion reads a target version: "zero", a number, or a migration ID such as 0003_add_orders.
func parseVersion(s string) (int64, error) {
	if s == "zero" {
		return migrate.Zero, nil
	}
	num, _, _ := strings.Cut(s, "_")
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v < 0 {
		return 0, usagef("version %q: want a migration number such as 3 or 0003_add_orders, or zero", s)
	}
	return v, nil
}

// upTarget is "up" to the --to version, or to the latest when --to is empty.
func upTarget(to string) (migrate.Target, error) {
	target := migrate.Target{Direction: migrate.Up, Version: migrate.Latest}
	if to != "" {
		v, err := parseVersion(to)
		if err != nil {
			return target, err
		}
		target.Version = v
	}
	return target, nil
}

func (a *app) migrateUp(f *migrateFlags) *cobra.Command {
	var to string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Apply pending migrations (all, or up to --to)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			target, err := upTarget(to)
			if err != nil {
				return err
			}
			return a.run(cmd, f, target, dryRun)
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "apply up to and including this version")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be applied, and apply nothing")
	return cmd
}

func (a *app) migrateDown(f *migrateFlags) *cobra.Command {
	var to string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "down [N]",
		Short: "Roll back the newest N applied migrations (default 1), or down to --to VERSION|zero",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target := migrate.Target{Direction: migrate.Down, Steps: 1}
			switch {
			case len(args) == 1 && to != "":
				return usagef("give either a number of steps or --to, not both")
			case len(args) == 1:
				n, err := strconv.Atoi(args[0])
				if err != nil || n <= 0 {
					return usagef("steps %q: want a positive number", args[0])
				}
				target.Steps = n
			case to != "":
				v, err := parseVersion(to)
				if err != nil {
					return err
				}
				target.Steps, target.Version = 0, v
			}
			return a.run(cmd, f, target, dryRun)
		},
	}
	cmd.Flags().StringVar(&to, "to", "", `roll back every migration above this version ("zero" for all)`)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be rolled back, and roll back nothing")
	return cmd
}

func (a *app) migratePlan(f *migrateFlags) *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Print the migrations up would apply, without applying them (as up --dry-run)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			target, err := upTarget(to)
			if err != nil {
				return err
			}
			return a.run(cmd, f, target, true)
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "plan up to and including this version")
	return cmd
}

// run plans or performs a migration run and reports it on stdout.
func (a *app) run(cmd *cobra.Command, f *migrateFlags, target migrate.Target, dryRun bool) error {
	m, closeDB, err := a.migrator(cmd, f)
	if err != nil {
		return err
	}
	defer closeDB()
	out := cmd.OutOrStdout()
	verb := map[migrate.Direction]string{migrate.Up: "apply", migrate.Down: "roll back"}[target.Direction]
	if dryRun {
		steps, err := m.Plan(cmd.Context(), target)
		if err != nil {
			return f.onDB(err)
		}
		if len(steps) == 0 {
			fmt.Fprintf(out, "nothing to %s (%s)\n", verb, registry.Redact(f.url()))
			return nil
		}
		fmt.Fprintf(out, "would %s %d migration(s) on %s:\n", verb, len(steps), registry.Redact(f.url()))
		for _, s := range steps {
			fmt.Fprintf(out, "  %s %s\n", s.Direction, s.Migration.ID())
		}
		return nil
	}
	steps, err := m.Migrate(cmd.Context(), target)
	for _, s := range steps {
		fmt.Fprintf(out, "%-4s %s (%s)\n", s.Direction, s.Migration.ID(), s.Duration.Truncate(time.Microsecond))
	}
	if err != nil {
		return f.onDB(err)
	}
	if len(steps) == 0 {
		fmt.Fprintf(out, "nothing to %s (%s)\n", verb, registry.Redact(f.url()))
	}
	return nil
}

func (a *app) migrateStatus(f *migrateFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "List every migration and whether it is applied, pending, changed (drift) or missing",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, closeDB, err := a.migrator(cmd, f)
			if err != nil {
				return err
			}
			defer closeDB()
			sts, err := m.Status(cmd.Context())
			if err != nil {
				return f.onDB(err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Database   string           `json:"database"`
					Migrations []migrate.Status `json:"migrations"`
				}{registry.Redact(f.url()), sts})
			}
			fmt.Fprintf(out, "database: %s\n", registry.Redact(f.url()))
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tNAME\tSTATE\tAPPLIED AT\tDURATION")
			for _, s := range sts {
				applied, took := "-", "-"
				if !s.AppliedAt.IsZero() {
					applied, took = s.AppliedAt.UTC().Format(time.RFC3339), s.Duration.String()
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", s.Version, s.Name, s.State, applied, took)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts")
	return cmd
}

func (a *app) migrateCheck(f *migrateFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Exit 0 if the database is up to date, 3 if migrations are pending, 1 on drift or missing migrations",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, closeDB, err := a.migrator(cmd, f)
			if err != nil {
				return err
			}
			defer closeDB()
			err = m.Check(cmd.Context())
			if errors.Is(err, migrate.ErrPending) {
				return exitError{code: ExitPending, err: f.onDB(err)}
			}
			if err == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "up to date (%s)\n", registry.Redact(f.url()))
			}
			return f.onDB(err)
		},
	}
}

func (a *app) migrateCreate(f *migrateFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "create NAME",
		Short: "Write the next pair of empty migration files into the migrations directory",
		Args:  exactArgs(1, "a migration name, e.g. add_orders"),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := f.dir
			if dir == "" {
				dir = envOr("KIT_MIGRATIONS_DIR", "./migrations")
			}
			up, down, err := migrate.Create(dir, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s\ncreated %s\n", up, down)
			return nil
		},
	}
}

func (a *app) migrateRepair(f *migrateFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "repair",
		Short: "Accept changed migration files: record their new checksums without re-running them",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, closeDB, err := a.migrator(cmd, f)
			if err != nil {
				return err
			}
			defer closeDB()
			repaired, err := m.Repair(cmd.Context())
			for _, mg := range repaired {
				fmt.Fprintf(cmd.OutOrStdout(), "accepted %s\n", mg.ID())
			}
			if err == nil && len(repaired) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "nothing to repair")
			}
			return f.onDB(err)
		},
	}
}
