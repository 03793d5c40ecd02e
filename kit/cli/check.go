package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/stackkit/stackkit/kit/cache"
	"github.com/stackkit/stackkit/kit/db"
	"github.com/stackkit/stackkit/kit/db/migrate"
	"github.com/stackkit/stackkit/kit/mail"
	"github.com/stackkit/stackkit/kit/queue"
	natsq "github.com/stackkit/stackkit/kit/queue/nats"
	"github.com/stackkit/stackkit/kit/registry"
	"github.com/stackkit/stackkit/kit/storage"
)

// DefaultCheckTimeout bounds each of "kitctl check"'s checks.
const DefaultCheckTimeout = 5 * time.Second

// backendCheck is one backend "kitctl check" can look at.
type backendCheck struct {
	name, flag, env, def string
	// run opens rawURL, runs the backend's readiness check and closes it; the database check
	// also reports the migrations' state.
	run func(ctx context.Context, rawURL string, logger *slog.Logger) (checkResult, []checkResult)
	set string // the flag's value
}

// checkResult is one line of the report.
type checkResult struct {
	name    string
	where   string // the redacted URL, or what was looked at
	state   string // ok, FAILED, PENDING, skipped
	detail  string
	elapsed time.Duration
}

const (
	stateOK      = "ok"
	stateFailed  = "FAILED"
	statePending = "PENDING"
	stateSkipped = "skipped"
)

func (a *app) checkCommand() *cobra.Command {
	var (
		all     bool
		timeout time.Duration
		mf      migrateFlags
	)
	checks := []*backendCheck{
		{name: "database", flag: "database-url", env: "KIT_DATABASE_URL", def: db.DefaultURL},
		{name: "cache", flag: "cache-url", env: "KIT_CACHE_URL", def: cache.DefaultURL},
		{name: "queue", flag: "queue-url", env: "KIT_QUEUE_URL", def: natsq.DefaultURL},
		{name: "storage", flag: "storage-url", env: "KIT_STORAGE_URL", def: storage.DefaultURL},
		{name: "mail", flag: "mail-url", env: "KIT_MAIL_URL", def: mail.DefaultURL},
	}
	checks[0].run = func(ctx context.Context, u string, l *slog.Logger) (checkResult, []checkResult) {
		return a.checkDatabase(ctx, u, l, &mf)
	}
	checks[1].run = openAndCheck(func(ctx context.Context, u string, l *slog.Logger) (*cache.Cache, error) {
		return cache.Open(ctx, u, cache.WithLogger(l))
	})
	checks[2].run = openAndCheck(func(ctx context.Context, u string, l *slog.Logger) (*queue.Queue, error) {
		return queue.Open(ctx, u, queue.WithLogger(l))
	})
	checks[3].run = openAndCheck(func(ctx context.Context, u string, l *slog.Logger) (*storage.Storage, error) {
		return storage.Open(ctx, u, storage.WithLogger(l))
	})
	checks[4].run = openAndCheck(func(ctx context.Context, u string, l *slog.Logger) (*mail.Mailer, error) {
		return mail.Open(ctx, u, mail.WithLogger(l))
	})

	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check that every configured backend opens and answers, and that no migration is pending",
		Long: `Check the deployment's configuration, as Django's "check" does for settings: every backend
configured by flag or environment (database, cache, queue, storage, mail) is opened — which
validates its URL and options — and asked whether it is ready (a ping, a probe), each within
--timeout, all at once. With a database, the migrations (--migrations, KIT_MIGRATIONS_DIR, the
binary's embedded ones, or ./migrations when it exists) must all be applied.

A backend configured nowhere is skipped, unless --all checks its local default too (which may
create it: the SQLite file, the media directory, the embedded NATS store). Each backend is
opened as the service opens it: the queue's streams are created when missing, with the URL's
settings.

Exit 0 when every check passed, 1 when one failed or nothing was configured, 3 when the only
problem is pending migrations. Secrets in URLs and errors are never printed.`,
		Args:          noArgs,
		SilenceErrors: true, // as on kitctl's root, when a service mounts it as its own root
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout <= 0 {
				return usagef("--timeout must be positive, got %s", timeout)
			}
			logger, err := a.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if mf.dir != "" && checks[0].set == "" && envOr(checks[0].env, "") == "" && !all {
				return usagef("--migrations needs a database: set --database-url or KIT_DATABASE_URL")
			}
			rows := make([][]checkResult, len(checks))
			var wg sync.WaitGroup
			for i, c := range checks {
				u := c.set
				if u == "" {
					u = envOr(c.env, "")
				}
				if u == "" && !all {
					rows[i] = []checkResult{{name: c.name, where: "not configured (--" + c.flag + ", " + c.env + ")", state: stateSkipped}}
					continue
				}
				if u == "" {
					u = c.def
				}
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
					defer cancel()
					start := time.Now()
					// A client library that ignores the context (or a dial it cannot cancel)
					// must not hold the command past --timeout: wait for the check or the
					// deadline, whichever comes first.
					done := make(chan []checkResult, 1)
					go func() {
						r, more := c.run(ctx, u, logger)
						done <- append([]checkResult{r}, more...)
					}()
					var rs []checkResult
					select {
					case rs = <-done:
					case <-ctx.Done():
						rs = []checkResult{{state: stateFailed, detail: fmt.Sprintf("no answer within %s", timeout)}}
					}
					rs[0].name, rs[0].where, rs[0].elapsed = c.name, registry.Redact(u), time.Since(start)
					for j := range rs {
						rs[j].detail = scrubText(rs[j].detail, u)
					}
					rows[i] = rs
				})
			}
			wg.Wait()
			failed, pending, checked := 0, 0, 0
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, rs := range rows {
				for _, r := range rs {
					switch r.state {
					case stateFailed:
						failed++
					case statePending:
						pending++
					}
					if r.state != stateSkipped {
						checked++
					}
					result := r.state
					if r.elapsed > 0 {
						result += fmt.Sprintf(" (%s)", r.elapsed.Round(time.Millisecond))
					}
					if r.detail != "" {
						result += ": " + strings.Join(strings.Fields(r.detail), " ") // one line per check
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\n", r.name, r.where, result)
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			switch {
			case failed > 0:
				return fmt.Errorf("%d check(s) failed", failed)
			case checked == 0:
				// A deploy whose variables are all misspelled must not pass.
				return errors.New("nothing to check: no backend is configured (set the flags or KIT_*_URL, or use --all)")
			case pending > 0:
				return exitError{code: ExitPending, err: errors.New("migrations are pending")}
			}
			return nil
		},
	}
	f := cmd.Flags()
	for _, c := range checks {
		// Resolved at run time, so a password in the environment never shows in --help.
		f.StringVar(&c.set, c.flag, "", c.name+" URL (env "+c.env+")")
	}
	f.StringVar(&mf.dir, "migrations", "", "directory of SQL migrations (env KIT_MIGRATIONS_DIR; default ./migrations when it exists)")
	f.BoolVar(&all, "all", false, "also check the local default of each backend configured nowhere")
	f.DurationVar(&timeout, "timeout", DefaultCheckTimeout, "time each check may take")
	return cmd
}

// checkable is a backend's portable type: a readiness check and Close.
type checkable interface {
	Check() func(context.Context) error
	Close() error
}

// openAndCheck makes a check of a backend that opens, answers its readiness check and closes.
func openAndCheck[T checkable](open func(ctx context.Context, rawURL string, l *slog.Logger) (T, error)) func(context.Context, string, *slog.Logger) (checkResult, []checkResult) {
	return func(ctx context.Context, rawURL string, l *slog.Logger) (checkResult, []checkResult) {
		b, err := open(ctx, rawURL, l)
		if err != nil {
			return failedResult("open", err), nil
		}
		defer func() { _ = b.Close() }()
		if err := b.Check()(ctx); err != nil {
			return failedResult("check", err), nil
		}
		return checkResult{state: stateOK}, nil
	}
}

func failedResult(step string, err error) checkResult {
	return checkResult{state: stateFailed, detail: step + ": " + err.Error()}
}

// checkDatabase opens the database, pings it and, when there are migrations, checks that all
// are applied.
func (a *app) checkDatabase(ctx context.Context, rawURL string, logger *slog.Logger, mf *migrateFlags) (checkResult, []checkResult) {
	bdb, err := db.Open(ctx, rawURL, db.WithLogger(logger))
	if err != nil {
		return failedResult("open", err), nil
	}
	defer func() { _ = bdb.Close() }()
	if err := db.Check(bdb)(ctx); err != nil {
		return failedResult("check", err), nil
	}
	ok := checkResult{state: stateOK}
	fsys, where, err := a.source(mf)
	if err != nil {
		_, statErr := os.Stat("./migrations")
		if mf.dir == "" && envOr("KIT_MIGRATIONS_DIR", "") == "" && errors.Is(statErr, fs.ErrNotExist) {
			return ok, []checkResult{{name: "migrations", where: "none (no ./migrations)", state: stateSkipped}}
		}
		return ok, []checkResult{{name: "migrations", where: "-", state: stateFailed, detail: err.Error()}}
	}
	if where == "" {
		where = "Go migrations"
	}
	opts := []migrate.Option{migrate.WithLogger(logger), migrate.WithMigrations(a.goMigrations...)}
	if fsys != nil {
		opts = append(opts, migrate.WithFS(fsys))
	}
	row := checkResult{name: "migrations", where: where}
	m, err := migrate.New(bdb, opts...)
	if err == nil {
		err = m.Check(ctx)
	}
	switch {
	case err == nil:
		row.state = stateOK
	case errors.Is(err, migrate.ErrPending):
		row.state, row.detail = statePending, err.Error()
	default:
		row.state, row.detail = stateFailed, err.Error()
	}
	return ok, []checkResult{row}
}

// scrubText removes rawURL's secrets from s, for messages that quote it.
func scrubText(s, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return s
	}
	if err := registry.Scrub(errors.New(s), u); err != nil {
		return strings.TrimSpace(err.Error())
	}
	return s
}
