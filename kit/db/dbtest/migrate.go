package dbtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stackkit/stackkit/kit/db"
	"github.com/stackkit/stackkit/kit/db/migrate"
	"github.com/uptrace/bun"
)

// Files returns a migration source of n migrations, each creating table tN and logging its run
// in the table runs (created by the first), so a test can count how often each one ran.
func Files(n int) fstest.MapFS {
	fsys := fstest.MapFS{}
	for i := 1; i <= n; i++ {
		up := fmt.Sprintf("CREATE TABLE t%d (id INTEGER PRIMARY KEY, note VARCHAR(50));\nINSERT INTO runs (version) VALUES (%d);\n", i, i)
		if i == 1 {
			up = "CREATE TABLE runs (version INTEGER NOT NULL);\n" + up
		}
		down := fmt.Sprintf("DROP TABLE t%d;\n", i)
		if i == 1 {
			down += "DROP TABLE runs;\n"
		}
		fsys[fmt.Sprintf("%04d_create_t%d.up.sql", i, i)] = &fstest.MapFile{Data: []byte(up)}
		fsys[fmt.Sprintf("%04d_create_t%d.down.sql", i, i)] = &fstest.MapFile{Data: []byte(down)}
	}
	return fsys
}

// RunCounts returns how many times each migration of [Files] ran, by version.
func RunCounts(t testing.TB, d bun.IDB) map[int]int {
	t.Helper()
	var versions []int
	if err := d.NewSelect().Column("version").Table("runs").Scan(context.Background(), &versions); err != nil {
		t.Fatalf("read runs: %v", err)
	}
	counts := map[int]int{}
	for _, v := range versions {
		counts[v]++
	}
	return counts
}

// AssertAppliedOnce fails the test unless each of the n migrations of [Files] ran exactly once.
func AssertAppliedOnce(t testing.TB, d bun.IDB, n int) {
	t.Helper()
	counts := RunCounts(t, d)
	for v := 1; v <= n; v++ {
		if counts[v] != 1 {
			t.Errorf("migration %d ran %d times, want exactly once (all counts: %v)", v, counts[v], counts)
		}
	}
	var recorded int
	if err := d.NewSelect().ColumnExpr("count(*)").Table(migrate.DefaultTable).Scan(context.Background(), &recorded); err != nil {
		t.Fatal(err)
	}
	if recorded != n {
		t.Errorf("history table has %d records, want %d", recorded, n)
	}
}

// newMigratorOrErr is for goroutines, where t.Fatal must not be called; New cannot fail here.
func newMigratorOrErr(d *bun.DB, opts ...migrate.Option) *migrate.Migrator {
	m, err := migrate.New(d, opts...)
	if err != nil {
		panic(err)
	}
	return m
}

func newMigrator(t testing.TB, d *bun.DB, opts ...migrate.Option) *migrate.Migrator {
	t.Helper()
	m, err := migrate.New(d, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func states(t testing.TB, m *migrate.Migrator) string {
	t.Helper()
	sts, err := m.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range sts {
		fmt.Fprintf(&b, "%d:%s ", s.Version, s.State)
	}
	return strings.TrimSpace(b.String())
}

func tableExists(t testing.TB, d *bun.DB, name string) bool {
	t.Helper()
	err := d.NewSelect().ColumnExpr("1").Table(name).Limit(1).Scan(context.Background(), new(int))
	return err == nil || strings.Contains(err.Error(), "no rows")
}

func testMigrate(t *testing.T, adminURL string) {
	ctx := context.Background()

	t.Run("UpDownStatusPlanCheck", func(t *testing.T) {
		d := Open(t, NewDatabase(t, adminURL))
		var goRan []string
		goMigration := migrate.Go(3, "go_step",
			func(ctx context.Context, db bun.IDB) error {
				goRan = append(goRan, "up")
				_, err := db.NewInsert().Model(&map[string]any{"version": 3}).TableExpr("runs").Exec(ctx)
				return err
			},
			func(ctx context.Context, db bun.IDB) error { goRan = append(goRan, "down"); return nil })
		fsys := Files(4)
		delete(fsys, "0003_create_t3.up.sql")
		delete(fsys, "0003_create_t3.down.sql")
		m := newMigrator(t, d, migrate.WithFS(fsys), migrate.WithMigrations(goMigration))

		if got := states(t, m); got != "1:pending 2:pending 3:pending 4:pending" {
			t.Fatalf("initial status %q", got)
		}
		if err := m.Check(ctx); !errors.Is(err, migrate.ErrPending) || !strings.Contains(err.Error(), "0001_create_t1") {
			t.Fatalf("Check = %v, want ErrPending naming 0001_create_t1", err)
		}
		plan, err := m.Plan(ctx, migrate.Target{Direction: migrate.Up, Version: 2})
		if err != nil || len(plan) != 2 || plan[1].Migration.ID() != "0002_create_t2" {
			t.Fatalf("Plan(up to 2) = %v, %v", plan, err)
		}
		if tableExists(t, d, "t1") {
			t.Fatal("Plan ran a migration")
		}
		steps, err := m.Migrate(ctx, migrate.Target{Direction: migrate.Up, Version: 2})
		if err != nil || len(steps) != 2 {
			t.Fatalf("up to 2: %d steps, %v", len(steps), err)
		}
		if got := states(t, m); got != "1:applied 2:applied 3:pending 4:pending" {
			t.Fatalf("status after up to 2: %q", got)
		}
		if steps, err = m.Up(ctx); err != nil || len(steps) != 2 {
			t.Fatalf("up: %d steps, %v", len(steps), err)
		}
		if len(goRan) != 1 || !tableExists(t, d, "t4") {
			t.Fatalf("Go migration ran %v, t4 exists %v", goRan, tableExists(t, d, "t4"))
		}
		if err := m.Check(ctx); err != nil {
			t.Fatalf("Check after up: %v", err)
		}
		if steps, err = m.Up(ctx); err != nil || len(steps) != 0 {
			t.Fatalf("second up: %d steps, %v; want nothing to do", len(steps), err)
		}
		AssertAppliedOnce(t, d, 4)
		sts, _ := m.Status(ctx)
		if sts[0].AppliedAt.IsZero() || time.Since(sts[0].AppliedAt) > time.Hour || sts[0].Migration.Checksum() == "" {
			t.Errorf("history record incomplete: %+v", sts[0])
		}

		if steps, err = m.Down(ctx, 2); err != nil || len(steps) != 2 || steps[0].Migration.Version != 4 {
			t.Fatalf("down 2: %v, %v", steps, err)
		}
		if got := states(t, m); got != "1:applied 2:applied 3:pending 4:pending" || tableExists(t, d, "t4") || goRan[1] != "down" {
			t.Fatalf("after down 2: %q, t4 exists %v, go ran %v", got, tableExists(t, d, "t4"), goRan)
		}
		if _, err = m.Migrate(ctx, migrate.Target{Direction: migrate.Down, Version: migrate.Zero}); err != nil {
			t.Fatal(err)
		}
		if got := states(t, m); got != "1:pending 2:pending 3:pending 4:pending" || tableExists(t, d, "runs") {
			t.Fatalf("after down to zero: %q", got)
		}
		if _, err := m.Migrate(ctx, migrate.Target{Direction: migrate.Up, Version: 99}); !errors.Is(err, migrate.ErrUnknownVersion) {
			t.Errorf("up to unknown version: %v", err)
		}
	})

	t.Run("Drift", func(t *testing.T) {
		d := Open(t, NewDatabase(t, adminURL))
		fsys := Files(2)
		if _, err := newMigrator(t, d, migrate.WithFS(fsys)).Up(ctx); err != nil {
			t.Fatal(err)
		}
		fsys["0002_create_t2.up.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE t2 (id INTEGER PRIMARY KEY); -- edited\nINSERT INTO runs (version) VALUES (2);")}
		fsys["0003_create_t3.up.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE t3 (id INTEGER);")}
		m := newMigrator(t, d, migrate.WithFS(fsys))
		if got := states(t, m); got != "1:applied 2:drift 3:pending" {
			t.Fatalf("status %q, want drift on 2", got)
		}
		if _, err := m.Up(ctx); !errors.Is(err, migrate.ErrDrift) || !strings.Contains(err.Error(), "0002_create_t2") {
			t.Fatalf("up with drift: %v, want ErrDrift naming 0002", err)
		}
		if tableExists(t, d, "t3") {
			t.Fatal("up ran a migration despite drift")
		}
		repaired, err := m.Repair(ctx)
		if err != nil || len(repaired) != 1 || repaired[0].Version != 2 {
			t.Fatalf("Repair = %v, %v", repaired, err)
		}
		if _, err := m.Up(ctx); err != nil || !tableExists(t, d, "t3") {
			t.Fatalf("up after repair: %v", err)
		}
	})

	t.Run("MissingAndFuture", func(t *testing.T) {
		d := Open(t, NewDatabase(t, adminURL))
		if _, err := newMigrator(t, d, migrate.WithFS(Files(3))).Up(ctx); err != nil {
			t.Fatal(err)
		}
		// An older release that knows migrations 1-2 only: 3 is from the future, and fine.
		older := Files(2)
		m := newMigrator(t, d, migrate.WithFS(older))
		if got := states(t, m); got != "1:applied 2:applied 3:future" {
			t.Fatalf("status %q", got)
		}
		if _, err := m.Up(ctx); err != nil {
			t.Fatalf("up on an older release: %v", err)
		}
		// A source that lost migration 2 while knowing 3: that is missing, and blocks.
		lost := Files(3)
		delete(lost, "0002_create_t2.up.sql")
		delete(lost, "0002_create_t2.down.sql")
		if _, err := newMigrator(t, d, migrate.WithFS(lost)).Up(ctx); !errors.Is(err, migrate.ErrMissing) {
			t.Fatalf("up with a missing migration: %v, want ErrMissing", err)
		}
	})

	t.Run("FailureAndResume", func(t *testing.T) {
		d := Open(t, NewDatabase(t, adminURL))
		fsys := Files(1)
		fsys["0002_broken.up.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE t2 (id INTEGER);\n\n-- the typo below fails\nINSERT INTO no_such_table VALUES (1);\n")}
		m := newMigrator(t, d, migrate.WithFS(fsys))
		steps, err := m.Up(ctx)
		var merr *migrate.Error
		if !errors.As(err, &merr) {
			t.Fatalf("up: %v, want *migrate.Error", err)
		}
		if len(steps) != 1 || merr.Migration.Version != 2 || merr.Statement != 2 || merr.Line != 4 || merr.File != "0002_broken.up.sql" {
			t.Fatalf("steps=%d error=%+v; want migration 2, statement 2 at line 4", len(steps), merr)
		}
		if !strings.Contains(err.Error(), "0002_broken.up.sql:4") || !strings.Contains(err.Error(), "no_such_table") {
			t.Errorf("error message does not point at the statement: %v", err)
		}
		if got := states(t, m); got != "1:applied 2:pending" {
			t.Fatalf("status after failure %q: the failed migration must stay pending, not dirty", got)
		}
		transactionalDDL := d.Dialect().Name().String() != "mysql"
		if transactionalDDL && tableExists(t, d, "t2") {
			t.Error("the failed migration's first statement was not rolled back")
		}
		// The fix: the broken statement corrected (and, where DDL is not transactional, made re-runnable).
		fsys["0002_broken.up.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE IF NOT EXISTS t2 (id INTEGER);\nINSERT INTO runs (version) VALUES (2);\n")}
		if _, err := newMigrator(t, d, migrate.WithFS(fsys)).Up(ctx); err != nil {
			t.Fatalf("re-run after the fix: %v", err)
		}
		AssertAppliedOnce(t, d, 2)
	})

	t.Run("NoTransaction", func(t *testing.T) {
		d := Open(t, NewDatabase(t, adminURL))
		fsys := Files(1)
		index := "CREATE INDEX t1_note ON t1 (note);"
		if d.Dialect().Name().String() == "pg" {
			index = "CREATE INDEX CONCURRENTLY t1_note ON t1 (note);" // fails inside a transaction
		}
		fsys["0002_index.up.sql"] = &fstest.MapFile{Data: []byte("-- kit:no-transaction\n" + index + "\nINSERT INTO runs (version) VALUES (2);\n")}
		if _, err := newMigrator(t, d, migrate.WithFS(fsys)).Up(ctx); err != nil {
			t.Fatalf("no-transaction migration: %v", err)
		}
		AssertAppliedOnce(t, d, 2)
	})

	t.Run("Irreversible", func(t *testing.T) {
		d := Open(t, NewDatabase(t, adminURL))
		fsys := Files(2)
		delete(fsys, "0001_create_t1.down.sql")
		m := newMigrator(t, d, migrate.WithFS(fsys))
		if _, err := m.Up(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Down(ctx, 2); !errors.Is(err, migrate.ErrIrreversible) || !strings.Contains(err.Error(), "0001_create_t1") {
			t.Fatalf("down through an irreversible migration: %v", err)
		}
		if !tableExists(t, d, "t2") {
			t.Error("down rolled back migration 2 before finding that 1 is irreversible")
		}
	})

	t.Run("OutOfOrder", func(t *testing.T) {
		d := Open(t, NewDatabase(t, adminURL))
		fsys := Files(3)
		two := map[string]*fstest.MapFile{}
		for _, f := range []string{"0002_create_t2.up.sql", "0002_create_t2.down.sql"} {
			two[f] = fsys[f]
			delete(fsys, f)
		}
		if _, err := newMigrator(t, d, migrate.WithFS(fsys)).Up(ctx); err != nil {
			t.Fatal(err)
		}
		for f, data := range two {
			fsys[f] = data
		}
		if _, err := newMigrator(t, d, migrate.WithFS(fsys)).Up(ctx); !errors.Is(err, migrate.ErrOutOfOrder) {
			t.Fatalf("up with an older pending migration: %v, want ErrOutOfOrder", err)
		}
		if _, err := newMigrator(t, d, migrate.WithFS(fsys), migrate.WithAllowOutOfOrder(true)).Up(ctx); err != nil {
			t.Fatal(err)
		}
		AssertAppliedOnce(t, d, 3)
	})

	t.Run("LockTimeout", func(t *testing.T) {
		dbURL := NewDatabase(t, adminURL)
		holder, waiter := Open(t, dbURL), Open(t, dbURL)
		entered, release := make(chan struct{}), make(chan struct{})
		block := migrate.Go(1, "block", func(context.Context, bun.IDB) error {
			close(entered)
			<-release
			return nil
		}, nil, migrate.NoTransaction())
		done := make(chan error, 1)
		holding := newMigrator(t, holder, migrate.WithMigrations(block))
		go func() {
			_, err := holding.Up(ctx)
			done <- err
		}()
		select {
		case <-entered:
		case err := <-done:
			t.Fatalf("lock holder returned before its migration blocked: %v", err)
		}
		start := time.Now()
		_, err := newMigrator(t, waiter, migrate.WithMigrations(block), migrate.WithLockTimeout(300*time.Millisecond)).Up(ctx)
		close(release)
		if !errors.Is(err, migrate.ErrLockTimeout) {
			t.Fatalf("second migrator: %v, want ErrLockTimeout", err)
		}
		if waited := time.Since(start); waited < 250*time.Millisecond {
			t.Errorf("second migrator gave up after %s, before its 300ms lock timeout", waited)
		}
		if err := <-done; err != nil {
			t.Fatalf("lock holder: %v", err)
		}
	})

	t.Run("LockWaitCancelled", func(t *testing.T) {
		dbURL := NewDatabase(t, adminURL)
		entered, release := make(chan struct{}), make(chan struct{})
		block := migrate.Go(1, "block", func(context.Context, bun.IDB) error { close(entered); <-release; return nil }, nil, migrate.NoTransaction())
		holding := newMigrator(t, Open(t, dbURL), migrate.WithMigrations(block))
		done := make(chan error, 1)
		go func() { _, err := holding.Up(ctx); done <- err }()
		<-entered
		wctx, cancel := context.WithCancel(ctx)
		waitErr := make(chan error, 1)
		go func() {
			_, err := newMigratorOrErr(Open(t, dbURL), migrate.WithMigrations(block)).Up(wctx)
			waitErr <- err
		}()
		cancel() // the waiter must give up promptly, not sit out the 15-minute lock timeout
		select {
		case err := <-waitErr:
			if err == nil {
				t.Error("a cancelled waiter reported success")
			}
		case <-time.After(20 * time.Second):
			t.Error("a cancelled waiter kept waiting for the lock")
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})

	t.Run("SingleConnectionPool", func(t *testing.T) {
		dbURL := NewDatabase(t, adminURL)
		if !strings.Contains(dbURL, ":memory:") {
			dbURL = withQuery(dbURL, "max_open_conns=1")
		}
		d := Open(t, dbURL)
		uctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		// A no-transaction file and a transactional one, on a pool of one connection: the run
		// must not wait for a second connection.
		fsys := Files(2)
		fsys["0003_notx.up.sql"] = &fstest.MapFile{Data: []byte("-- kit:no-transaction\nINSERT INTO runs (version) VALUES (3);\n")}
		if _, err := newMigrator(t, d, migrate.WithFS(fsys)).Up(uctx); err != nil {
			t.Fatalf("up on a one-connection pool: %v", err)
		}
		AssertAppliedOnce(t, d, 3)
	})

	t.Run("GoMigrationJoinsKitTransaction", func(t *testing.T) {
		d := Open(t, NewDatabase(t, adminURL))
		var committedSeen, inTx bool
		goMigration := migrate.Go(2, "with_hook", func(ctx context.Context, idb bun.IDB) error {
			_, inTx = db.Current(ctx, d)
			if _, err := idb.ExecContext(ctx, "INSERT INTO runs (version) VALUES (2)"); err != nil {
				return err
			}
			return db.OnCommit(ctx, func(ctx context.Context) error {
				// Runs after the migration's commit: its history record is visible from the pool.
				n, err := d.NewSelect().Table(migrate.DefaultTable).Where("version = 2").Count(ctx)
				committedSeen = err == nil && n == 1
				return err
			})
		}, nil)
		if _, err := newMigrator(t, d, migrate.WithFS(Files(1)), migrate.WithMigrations(goMigration)).Up(ctx); err != nil {
			t.Fatal(err)
		}
		if !inTx || !committedSeen {
			t.Errorf("Go migration in a kit/db transaction: %v; on-commit callback saw the commit: %v", inTx, committedSeen)
		}
	})

	t.Run("ConcurrentUp", func(t *testing.T) {
		dbURL := NewDatabase(t, adminURL)
		const migrators, n = 6, 5
		var wg sync.WaitGroup
		errs := make([]error, migrators)
		for i := range migrators {
			d := Open(t, dbURL)
			wg.Go(func() {
				m, err := migrate.New(d, migrate.WithFS(Files(n)), migrate.WithLockTimeout(time.Minute))
				if err == nil {
					_, err = m.Up(ctx)
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("migrator %d: %v", i, err)
			}
		}
		AssertAppliedOnce(t, Open(t, dbURL), n)
	})
}
