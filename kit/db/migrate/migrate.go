// Package migrate applies an ordered history of schema migrations, written as SQL files or Go
// functions, to a database opened with kit/db.
//
//	//go:embed migrations/*.sql
//	var files embed.FS
//
//	sub, _ := fs.Sub(files, "migrations")
//	m, err := migrate.New(bdb, migrate.WithFS(sub), migrate.WithMigrations(
//		migrate.Go(3, "backfill_totals", backfillTotals, nil),
//	))
//	report, err := m.Up(ctx)
//
// SQL files are named NNNN_name.up.sql and NNNN_name.down.sql. Each migration runs in its own
// transaction, together with its history record, unless its file contains the line
// "-- kit:no-transaction" (for statements such as CREATE INDEX CONCURRENTLY). MySQL and MariaDB
// commit DDL implicitly, so there a failed migration may leave earlier statements applied.
//
// Up and Down take a lock that waits for other migrators and dies with its session, so many
// replicas can run "up" at once: one applies, the others wait and then find nothing to do.
package migrate

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"regexp"
	"slices"
	"time"

	"github.com/stackkit/stackkit/kit/db"
	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Latest as a target version means every migration; Zero means none (roll everything back).
const (
	Latest int64 = math.MaxInt64
	Zero   int64 = 0
)

// DefaultTable is the history table's name.
const DefaultTable = "kit_migrations"

// DefaultLockTimeout is how long Up and Down wait for another migrator by default.
const DefaultLockTimeout = 15 * time.Minute

// Direction says whether a migration is applied or rolled back.
type Direction int

const (
	Up Direction = iota
	Down
)

// verb is the log message for a step in this direction, underway or done.
func (d Direction) verb(done bool) string {
	switch {
	case d == Up && done:
		return "applied"
	case d == Up:
		return "applying"
	case done:
		return "rolled back"
	}
	return "rolling back"
}

func (d Direction) String() string {
	if d == Down {
		return "down"
	}
	return "up"
}

// Option configures a [Migrator].
type Option func(*Migrator)

// WithFS reads SQL migrations from the root of fsys (use fs.Sub for a subdirectory of an embed.FS).
func WithFS(fsys fs.FS) Option { return func(m *Migrator) { m.fsys = fsys } }

// WithMigrations adds migrations written in Go (see [Go]).
func WithMigrations(ms ...*Migration) Option {
	return func(m *Migrator) { m.goMigrations = append(m.goMigrations, ms...) }
}

// WithTable sets the history table's name (default kit_migrations): a plain identifier.
func WithTable(name string) Option { return func(m *Migrator) { m.table = name } }

// WithLockTimeout sets how long Up and Down wait for another migrator's lock (default 15m).
func WithLockTimeout(d time.Duration) Option { return func(m *Migrator) { m.lockTimeout = d } }

// WithLogger sets the logger; the default is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(m *Migrator) { m.logger = l } }

// WithAllowOutOfOrder lets Up apply pending migrations older than the newest applied one (as
// happens when branches merge). By default Up refuses with [ErrOutOfOrder].
func WithAllowOutOfOrder(allow bool) Option { return func(m *Migrator) { m.outOfOrder = allow } }

// WithTracerProvider sets the OpenTelemetry tracer provider; the default is the global one.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(m *Migrator) { m.tracer = tp.Tracer("github.com/stackkit/stackkit/kit/db/migrate") }
}

// Migrator applies migrations to one database. It is safe for concurrent use, and many
// Migrators, in many processes, may work on one database: Up and Down serialise on a lock.
type Migrator struct {
	db           *bun.DB
	dialect      string
	fsys         fs.FS
	goMigrations []*Migration
	migrations   []*Migration
	table        string
	lockTimeout  time.Duration
	logger       *slog.Logger
	outOfOrder   bool
	tracer       trace.Tracer
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// New returns a Migrator for db. It reads and parses every migration now, so a malformed file
// is reported before anything runs.
func New(db *bun.DB, opts ...Option) (*Migrator, error) {
	m := &Migrator{
		db: db, dialect: db.Dialect().Name().String(), table: DefaultTable,
		lockTimeout: DefaultLockTimeout, logger: slog.Default(),
		tracer: otel.Tracer("github.com/stackkit/stackkit/kit/db/migrate"),
	}
	for _, o := range opts {
		o(m)
	}
	switch m.dialect {
	case "pg", "mysql", "sqlite":
	default:
		return nil, fmt.Errorf("migrate: unsupported dialect %q (want pg, mysql or sqlite)", m.dialect)
	}
	if !identRE.MatchString(m.table) {
		return nil, fmt.Errorf("migrate: history table name %q is not a plain identifier", m.table)
	}
	if m.lockTimeout <= 0 {
		return nil, fmt.Errorf("migrate: lock timeout must be positive, got %s", m.lockTimeout)
	}
	var sqlMigrations []*Migration
	if m.fsys != nil {
		var err error
		if sqlMigrations, err = loadFS(m.fsys); err != nil {
			return nil, err
		}
	}
	all, err := merge(sqlMigrations, m.goMigrations)
	if err != nil {
		return nil, err
	}
	for _, mg := range all {
		if err := mg.parse(m.dialect); err != nil {
			return nil, err
		}
	}
	m.migrations = all
	return m, nil
}

// Migrations returns every known migration in version order.
func (m *Migrator) Migrations() []*Migration { return slices.Clone(m.migrations) }

// State is where a migration stands.
type State string

const (
	StatePending = State("pending")
	StateApplied = State("applied")
	// StateDrift: applied, but its file changed since.
	StateDrift = State("drift")
	// StateMissing: applied, but unknown to the source, below the newest known version.
	StateMissing = State("missing")
	// StateFuture: applied, unknown to the source, above the newest known version; it comes from
	// a newer release and is left alone.
	StateFuture = State("future")
)

// Status is one migration's state.
type Status struct {
	Version   int64         `json:"version"`
	Name      string        `json:"name"`
	State     State         `json:"state"`
	AppliedAt time.Time     `json:"applied_at,omitzero"`
	Duration  time.Duration `json:"duration_ns,omitzero"`
	// Migration is nil for missing and future migrations.
	Migration *Migration `json:"-"`
}

// Status compares the source with the history table. It takes no lock and changes nothing.
func (m *Migrator) Status(ctx context.Context) ([]Status, error) {
	hist, err := m.history(ctx, m.db)
	if err != nil {
		return nil, err
	}
	return m.status(hist), nil
}

func (m *Migrator) status(hist map[int64]record) []Status {
	var newest int64
	known := map[int64]bool{}
	out := make([]Status, 0, len(m.migrations)+len(hist))
	for _, mg := range m.migrations {
		known[mg.Version] = true
		newest = max(newest, mg.Version)
		st := Status{Version: mg.Version, Name: mg.Name, State: StatePending, Migration: mg}
		if r, ok := hist[mg.Version]; ok {
			st.State, st.AppliedAt, st.Duration = StateApplied, r.AppliedAt, time.Duration(r.DurationMS)*time.Millisecond
			if r.Checksum != mg.checksum || r.Name != mg.Name {
				st.State = StateDrift
			}
		}
		out = append(out, st)
	}
	for _, v := range slices.Sorted(maps.Keys(hist)) {
		if known[v] {
			continue
		}
		r := hist[v]
		st := Status{Version: v, Name: r.Name, State: StateMissing, AppliedAt: r.AppliedAt, Duration: time.Duration(r.DurationMS) * time.Millisecond}
		if v > newest {
			st.State = StateFuture
		}
		out = append(out, st)
	}
	slices.SortStableFunc(out, func(a, b Status) int { return compareInt(a.Version, b.Version) })
	return out
}

// Target says what [Migrator.Migrate] and [Migrator.Plan] should do.
type Target struct {
	Direction Direction
	// Version: for Up, apply every pending migration up to and including it ([Latest] for all);
	// for Down, roll back every applied migration above it ([Zero] for all). It must be Latest,
	// Zero or the version of a known migration.
	Version int64
	// Steps, for Down, rolls back that many of the newest applied migrations instead.
	Steps int
}

// Step is one migration a run will apply or roll back, or did.
type Step struct {
	Migration *Migration
	Direction Direction
	Duration  time.Duration // zero in a plan
}

// Plan returns what [Migrator.Migrate] would do for t, without doing it and without the lock.
// It reports drift, missing migrations and out-of-order pending ones as Migrate would.
func (m *Migrator) Plan(ctx context.Context, t Target) ([]Step, error) {
	hist, err := m.history(ctx, m.db)
	if err != nil {
		return nil, err
	}
	return m.plan(hist, t)
}

func (m *Migrator) plan(hist map[int64]record, t Target) ([]Step, error) {
	if t.Version != Latest && t.Version != Zero && !slices.ContainsFunc(m.migrations, func(mg *Migration) bool { return mg.Version == t.Version }) {
		return nil, fmt.Errorf("migrate: target %d: %w", t.Version, ErrUnknownVersion)
	}
	if t.Steps < 0 {
		return nil, fmt.Errorf("migrate: steps must not be negative, got %d", t.Steps)
	}
	statuses := m.status(hist)
	var drift, missing, pending, applied []*Migration
	var newestApplied int64
	for _, st := range statuses {
		switch st.State {
		case StateDrift:
			drift = append(drift, m.byVersion(st.Version))
		case StateMissing:
			missing = append(missing, &Migration{Version: st.Version, Name: st.Name})
		case StatePending:
			pending = append(pending, st.Migration)
		case StateApplied:
			applied = append(applied, st.Migration)
			newestApplied = max(newestApplied, st.Version)
		}
	}
	if len(drift) > 0 {
		return nil, fmt.Errorf("migrate: %w: %s (restore the files, or accept the change with repair)", ErrDrift, ids(drift))
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("migrate: %w: %s", ErrMissing, ids(missing))
	}
	var steps []Step
	if t.Direction == Up {
		var late []*Migration
		for _, mg := range pending {
			if mg.Version > t.Version {
				break
			}
			if mg.Version < newestApplied {
				late = append(late, mg)
			}
			steps = append(steps, Step{Migration: mg, Direction: Up})
		}
		if len(late) > 0 && !m.outOfOrder {
			return nil, fmt.Errorf("migrate: %w: %s (newest applied is %d; allow with the out-of-order option)", ErrOutOfOrder, ids(late), newestApplied)
		}
		return steps, nil
	}
	for i := len(applied) - 1; i >= 0; i-- {
		mg := applied[i]
		if t.Steps > 0 && len(steps) == t.Steps || t.Steps == 0 && mg.Version <= t.Version {
			break
		}
		if !mg.Reversible() {
			return nil, fmt.Errorf("migrate: %s: %w", mg.ID(), ErrIrreversible)
		}
		steps = append(steps, Step{Migration: mg, Direction: Down})
	}
	return steps, nil
}

func (m *Migrator) byVersion(v int64) *Migration {
	for _, mg := range m.migrations {
		if mg.Version == v {
			return mg
		}
	}
	return nil
}

// Up applies every pending migration.
func (m *Migrator) Up(ctx context.Context) ([]Step, error) {
	return m.Migrate(ctx, Target{Direction: Up, Version: Latest})
}

// Down rolls back the newest n applied migrations.
func (m *Migrator) Down(ctx context.Context, n int) ([]Step, error) {
	if n <= 0 {
		return nil, fmt.Errorf("migrate: down needs a positive number of steps, got %d", n)
	}
	return m.Migrate(ctx, Target{Direction: Down, Steps: n})
}

// Migrate takes the lock, then applies or rolls back migrations as t says, each in its own
// transaction with its history record. It stops at the first failure, returning the steps
// completed before it and an [*Error] naming the migration and statement; nothing is marked
// dirty, so running again after a fix continues from there.
//
// The whole run uses one connection, which holds the lock: it needs no second connection from
// the pool (so max_open_conns=1 works), and session settings made by a no-transaction migration
// reach its later statements. A Go migration must use the db it is given, not the *bun.DB.
func (m *Migrator) Migrate(ctx context.Context, t Target) ([]Step, error) {
	var steps []Step
	err := m.locked(ctx, func(conn bun.Conn) error {
		if err := m.createHistory(ctx, conn); err != nil {
			return err
		}
		// Read the history under the lock: another replica may just have applied everything.
		hist, err := m.history(ctx, conn)
		if err != nil {
			return err
		}
		planned, err := m.plan(hist, t)
		if err != nil {
			return err
		}
		for _, st := range planned {
			m.logger.InfoContext(ctx, "migrate: "+st.Direction.verb(false), "migration", st.Migration.ID())
			started := time.Now()
			if err := m.run(ctx, conn, st.Migration, st.Direction); err != nil {
				return err
			}
			st.Duration = time.Since(started)
			m.logger.InfoContext(ctx, "migrate: "+st.Direction.verb(true), "migration", st.Migration.ID(), "duration", st.Duration)
			steps = append(steps, st)
		}
		return nil
	})
	return steps, err
}

// locked runs fn on a connection of its own while the migration lock is held.
//
// The lock lives on a second, idle connection when the pool allows two: an idle session ends as
// soon as its client dies, whereas PostgreSQL keeps running (and keeps the locks of) a statement
// whose client was killed until it next checks the socket. With max_open_conns=1 both share the
// one connection. On PostgreSQL 14+ the work session also checks for a vanished client every 2s,
// so a killed migrator's statement is cancelled rather than left running.
func (m *Migrator) locked(ctx context.Context, fn func(conn bun.Conn) error) (err error) {
	work, err := m.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: connect: %w", err)
	}
	// Connections go back to the pool only after a clean run: after a failure, a half-taken lock
	// or a failed unlock or reset, their session state is unknown and they are discarded.
	discard := true
	defer func() { release(work, discard) }()
	lockConn := work
	if m.dialect != "sqlite" && m.db.Stats().MaxOpenConnections != 1 {
		if lockConn, err = m.db.Conn(ctx); err != nil {
			return fmt.Errorf("migrate: connect: %w", err)
		}
		defer func() { release(lockConn, discard) }()
	}
	unlock, err := m.lock(ctx, lockConn.Conn)
	if err != nil {
		return err
	}
	const interval = "SELECT set_config('client_connection_check_interval', $1, false) WHERE current_setting('server_version_num')::int >= 140000"
	if m.dialect == "pg" {
		// Best effort: the setting does not exist before PostgreSQL 14.
		_, _ = work.Conn.ExecContext(ctx, interval, "2s")
	}
	err = fn(work)
	resetOK := true
	if m.dialect == "pg" {
		_, rerr := work.Conn.ExecContext(context.WithoutCancel(ctx), interval, "0")
		resetOK = rerr == nil
	}
	if uerr := unlock(); uerr != nil {
		m.logger.WarnContext(ctx, "migrate: unlock failed; the lock goes with the connection", "error", uerr)
		return err
	}
	discard = err != nil || !resetOK
	return err
}

// release returns conn to the pool, or discards it.
func release(conn bun.Conn, discard bool) {
	if discard {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	_ = conn.Close()
}

// run performs one migration step and records it in the history table.
func (m *Migrator) run(ctx context.Context, conn bun.Conn, mg *Migration, dir Direction) (err error) {
	ctx, span := m.tracer.Start(ctx, "migrate "+dir.String()+" "+mg.ID(), trace.WithAttributes(
		attribute.Int64("db.migration.version", mg.Version), attribute.String("db.migration.name", mg.Name)))
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	started := time.Now()
	record := func(ctx context.Context, db bun.IDB) error {
		if dir == Up {
			return m.insertRecord(ctx, db, mg, started)
		}
		return m.deleteRecord(ctx, db, mg)
	}
	noTx := mg.noTx || (dir == Up && mg.upNoTx) || (dir == Down && mg.downNoTx)
	if noTx {
		if err := m.body(ctx, conn, mg, dir); err != nil {
			return err
		}
		return record(ctx, conn)
	}
	// A kit/db transaction, so db.OnCommit and db.From work inside Go migrations.
	return db.InTxOn(ctx, m.db, conn, func(ctx context.Context, tx bun.Tx) error {
		if err := m.body(ctx, tx, mg, dir); err != nil {
			return err
		}
		return record(ctx, tx)
	})
}

// body runs the migration's own statements or Go function on idb: a transaction or the connection.
func (m *Migrator) body(ctx context.Context, idb bun.IDB, mg *Migration, dir Direction) error {
	if mg.IsGo() {
		fn := mg.up
		if dir == Down {
			fn = mg.down
		}
		if err := fn(ctx, idb); err != nil {
			return &Error{Migration: mg, Direction: dir, Err: err}
		}
		return nil
	}
	stmts, file := mg.upStmts, mg.upFile
	if dir == Down {
		stmts, file = mg.downStmts, mg.downFile
	}
	// Statements go to database/sql directly: bun's formatter would treat "?" in the SQL (a JSONB
	// operator in PostgreSQL, say) as a placeholder.
	var exec func(context.Context, string, ...any) (sql.Result, error)
	switch x := idb.(type) {
	case bun.Tx:
		exec = x.Tx.ExecContext
	case bun.Conn:
		exec = x.Conn.ExecContext
	default:
		return fmt.Errorf("migrate: cannot run statements on %T", idb)
	}
	for i, s := range stmts {
		if _, err := exec(ctx, s.SQL); err != nil {
			e := &Error{Migration: mg, Direction: dir, File: file, Statement: i + 1, Line: s.Line, SQL: shorten(s.SQL), Err: err}
			e.EarlierCommitted = m.dialect == "mysql" && i > 0
			return e
		}
	}
	return nil
}

// Check returns nil when the database is up to date, an error wrapping [ErrPending] listing the
// pending migrations, or the error Plan gives for drift and missing migrations.
func (m *Migrator) Check(ctx context.Context) error {
	steps, err := m.Plan(ctx, Target{Direction: Up, Version: Latest})
	if err != nil {
		return err
	}
	if len(steps) > 0 {
		pending := make([]*Migration, len(steps))
		for i, s := range steps {
			pending[i] = s.Migration
		}
		return fmt.Errorf("migrate: %w: %s", ErrPending, ids(pending))
	}
	return nil
}

// Repair accepts changed migration files: it takes the lock and rewrites the stored checksum and
// name of every applied migration in drift to match the source, returning the migrations it
// changed. It does not re-run anything. Use it after deciding that an edit to an applied file
// (a comment, a formatting fix) needs no schema change.
func (m *Migrator) Repair(ctx context.Context) ([]*Migration, error) {
	var repaired []*Migration
	err := m.locked(ctx, func(conn bun.Conn) error {
		hist, err := m.history(ctx, conn)
		if err != nil {
			return err
		}
		for _, st := range m.status(hist) {
			if st.State != StateDrift {
				continue
			}
			_, err := conn.NewUpdate().Table(m.table).
				Set("checksum = ?", st.Migration.checksum).Set("name = ?", st.Migration.Name).
				Where("version = ?", st.Version).Exec(ctx)
			if err != nil {
				return fmt.Errorf("migrate: repair %s: %w", st.Migration.ID(), err)
			}
			m.logger.InfoContext(ctx, "migrate: accepted changed migration", "migration", st.Migration.ID())
			repaired = append(repaired, st.Migration)
		}
		return nil
	})
	return repaired, err
}
