package bench

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/db"
	"github.com/stackkit/stackkit/kit/db/dbtest"
	"github.com/stackkit/stackkit/kit/db/migrate"
	_ "github.com/stackkit/stackkit/kit/db/postgres"
	"github.com/uptrace/bun"
)

// migrationCount is how many migrations each run applies.
const migrationCount = 200

// migrationSQL is the body of migration i: a small table with three columns and an index, and
// one row. Both tools run exactly these statements.
func migrationSQL(i int) (up, down string) {
	t := fmt.Sprintf("bench_t%04d", i)
	up = fmt.Sprintf(`CREATE TABLE %[1]s (
    id bigint PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX %[1]s_name ON %[1]s (name);
INSERT INTO %[1]s (id, name) VALUES (%[2]d, 'row %[2]d');
`, t, i)
	down = fmt.Sprintf("DROP TABLE %s;\n", t)
	return up, down
}

// stackkitFiles names the migrations NNNN_name.up.sql and NNNN_name.down.sql.
func stackkitFiles(n int) fstest.MapFS {
	fsys := fstest.MapFS{}
	for i := 1; i <= n; i++ {
		up, down := migrationSQL(i)
		fsys[fmt.Sprintf("%04d_create_t%04d.up.sql", i, i)] = &fstest.MapFile{Data: []byte(up)}
		fsys[fmt.Sprintf("%04d_create_t%04d.down.sql", i, i)] = &fstest.MapFile{Data: []byte(down)}
	}
	return fsys
}

// gooseFiles names the same migrations NNNN_name.sql, with goose's Up and Down annotations.
func gooseFiles(n int) fstest.MapFS {
	fsys := fstest.MapFS{}
	for i := 1; i <= n; i++ {
		up, down := migrationSQL(i)
		body := "-- +goose Up\n" + up + "\n-- +goose Down\n" + down
		fsys[fmt.Sprintf("%04d_create_t%04d.sql", i, i)] = &fstest.MapFile{Data: []byte(body)}
	}
	return fsys
}

// migrator is one tool under test: apply runs every pending migration and returns how many ran;
// check reports whether anything is pending. Both construct the tool first, as a fresh deploy
// process does, so reading and parsing the files is part of the measured cost.
type migrator struct {
	name  string
	apply func(ctx context.Context, d *bun.DB) (int, error)
	check func(ctx context.Context, d *bun.DB) (pending bool, err error)
}

var discard = slog.New(slog.DiscardHandler)

func stackkit(fsys fs.FS) migrator {
	newMigrator := func(d *bun.DB) (*migrate.Migrator, error) {
		return migrate.New(d, migrate.WithFS(fsys), migrate.WithLogger(discard))
	}
	return migrator{
		name: "stackkit",
		apply: func(ctx context.Context, d *bun.DB) (int, error) {
			m, err := newMigrator(d)
			if err != nil {
				return 0, err
			}
			steps, err := m.Up(ctx)
			return len(steps), err
		},
		check: func(ctx context.Context, d *bun.DB) (bool, error) {
			m, err := newMigrator(d)
			if err != nil {
				return false, err
			}
			switch err := m.Check(ctx); {
			case err == nil:
				return false, nil
			case strings.Contains(err.Error(), migrate.ErrPending.Error()):
				return true, nil
			default:
				return false, err
			}
		},
	}
}

// gooseTool is goose's Provider on the plain *sql.DB of a kit/db handle, so both tools talk
// through the same pgx stdlib driver with the same settings. With locked, Up takes goose's
// PostgreSQL session lock (an advisory lock, as Stackkit's migrator takes); goose's default is
// no lock.
func gooseTool(name string, fsys fs.FS, locked bool) migrator {
	newProvider := func(d *bun.DB) (*goose.Provider, error) {
		opts := []goose.ProviderOption{goose.WithLogger(goose.NopLogger())}
		if locked {
			locker, err := lock.NewPostgresSessionLocker()
			if err != nil {
				return nil, err
			}
			opts = append(opts, goose.WithSessionLocker(locker))
		}
		return goose.NewProvider(goose.DialectPostgres, d.DB, fsys, opts...)
	}
	return migrator{
		name: name,
		apply: func(ctx context.Context, d *bun.DB) (int, error) {
			p, err := newProvider(d)
			if err != nil {
				return 0, err
			}
			results, err := p.Up(ctx)
			return len(results), err
		},
		check: func(ctx context.Context, d *bun.DB) (bool, error) {
			p, err := newProvider(d)
			if err != nil {
				return false, err
			}
			return p.HasPending(ctx)
		},
	}
}

// gooseStatus checks with goose's Provider.Status, the per-migration report (one query per
// migration), instead of HasPending.
func gooseStatus(fsys fs.FS) migrator {
	g := gooseTool("goose-status", fsys, false)
	g.check = func(ctx context.Context, d *bun.DB) (bool, error) {
		p, err := goose.NewProvider(goose.DialectPostgres, d.DB, fsys, goose.WithLogger(goose.NopLogger()))
		if err != nil {
			return false, err
		}
		statuses, err := p.Status(ctx)
		if err != nil {
			return false, err
		}
		for _, s := range statuses {
			if s.State != goose.StateApplied {
				return true, nil
			}
		}
		return false, nil
	}
	return g
}

// baseline runs the same statements with no migrator: database/sql directly, one transaction
// per migration, one statement at a time, no history table and no lock. It is the floor the
// server sets; a migrator's figure above it is that migrator's own cost.
func baseline(n int) migrator {
	return migrator{
		name: "baseline",
		apply: func(ctx context.Context, d *bun.DB) (int, error) {
			for i := 1; i <= n; i++ {
				up, _ := migrationSQL(i)
				tx, err := d.DB.BeginTx(ctx, nil)
				if err != nil {
					return i - 1, err
				}
				for _, stmt := range strings.SplitAfter(strings.TrimSpace(up), ";\n") {
					if _, err := tx.ExecContext(ctx, stmt); err != nil {
						_ = tx.Rollback()
						return i - 1, err
					}
				}
				if err := tx.Commit(); err != nil {
					return i - 1, err
				}
			}
			return n, nil
		},
	}
}

// open opens dbURL through kit/db, which pings it: the connection is made before any timing.
func open(tb testing.TB, dbURL string) *bun.DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := db.Open(ctx, dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// BenchmarkUp200 applies 200 migrations to a fresh, empty database per iteration. Creating the
// database and connecting to it are outside the timing; constructing the migrator (reading and
// parsing the 200 files) and Up are inside.
func BenchmarkUp200(b *testing.B) {
	adminURL := testenv.Get(b, "KIT_TEST_POSTGRES_URL")
	kitFS, gooseFS := stackkitFiles(migrationCount), gooseFiles(migrationCount)
	for _, tool := range []migrator{
		stackkit(kitFS),
		gooseTool("goose", gooseFS, false),
		gooseTool("goose-lock", gooseFS, true),
		baseline(migrationCount),
	} {
		b.Run("tool="+tool.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				b.StopTimer()
				d := open(b, dbtest.NewDatabase(b, adminURL)) // dropped when the benchmark ends
				b.StartTimer()
				n, err := tool.apply(ctx, d)
				b.StopTimer()
				_ = d.Close()
				if err != nil {
					b.Fatal(err)
				}
				if n != migrationCount {
					b.Fatalf("applied %d migrations, want %d", n, migrationCount)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkCheck200 asks "is anything pending?" of a database where all 200 migrations are
// applied, as a deploy or readiness check does: construct the migrator, read the history,
// compare. Stackkit's Check also compares every applied file's checksum.
func BenchmarkCheck200(b *testing.B) {
	adminURL := testenv.Get(b, "KIT_TEST_POSTGRES_URL")
	kitFS, gooseFS := stackkitFiles(migrationCount), gooseFiles(migrationCount)
	for _, tool := range []migrator{
		stackkit(kitFS),
		gooseTool("goose", gooseFS, false),
		gooseStatus(gooseFS),
	} {
		b.Run("tool="+tool.name, func(b *testing.B) {
			ctx := context.Background()
			d := open(b, dbtest.NewDatabase(b, adminURL))
			defer d.Close()
			if n, err := tool.apply(ctx, d); err != nil || n != migrationCount {
				b.Fatalf("setup: applied %d migrations (want %d): %v", n, migrationCount, err)
			}
			for b.Loop() {
				pending, err := tool.check(ctx, d)
				if err != nil {
					b.Fatal(err)
				}
				if pending {
					b.Fatal("check reports pending migrations after all were applied")
				}
			}
		})
	}
}

// TestSameWork makes sure the tools do the same work: after Up, each database holds the
// tables with their index and row, and each migrator's check finds nothing pending.
func TestSameWork(t *testing.T) {
	adminURL := testenv.Get(t, "KIT_TEST_POSTGRES_URL")
	const n = 20 // enough to compare; the benchmark uses 200
	ctx := context.Background()
	for _, tool := range []migrator{stackkit(stackkitFiles(n)), gooseTool("goose", gooseFiles(n), true), baseline(n)} {
		t.Run(tool.name, func(t *testing.T) {
			d := open(t, dbtest.NewDatabase(t, adminURL))
			defer d.Close()
			if applied, err := tool.apply(ctx, d); err != nil || applied != n {
				t.Fatalf("up: applied %d of %d: %v", applied, n, err)
			}
			if tool.check != nil {
				if pending, err := tool.check(ctx, d); err != nil || pending {
					t.Fatalf("check after up: pending=%v err=%v", pending, err)
				}
			}
			var tables, indexes int
			q := `SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'bench\_t%'),
			             (SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND indexname LIKE 'bench\_t%\_name')`
			if err := d.QueryRowContext(ctx, q).Scan(&tables, &indexes); err != nil {
				t.Fatal(err)
			}
			if tables != n || indexes != n {
				t.Errorf("%d tables and %d name indexes, want %d of each", tables, indexes, n)
			}
			var name string
			if err := d.QueryRowContext(ctx, fmt.Sprintf("SELECT name FROM bench_t%04d WHERE id = %d", n, n)).Scan(&name); err != nil || name != fmt.Sprintf("row %d", n) {
				t.Errorf("row of the last migration: %q, %v", name, err)
			}
			// A second Up finds nothing to do.
			if tool.check == nil {
				return // the baseline keeps no history
			}
			if again, err := tool.apply(ctx, d); err != nil || again != 0 {
				t.Errorf("second up applied %d: %v", again, err)
			}
		})
	}
}
