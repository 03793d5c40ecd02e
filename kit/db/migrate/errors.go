package migrate

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrPending is returned by [Migrator.Check] when migrations are waiting to be applied.
	ErrPending = errors.New("migrations are pending")
	// ErrDrift means an applied migration's file changed after it was applied. Up refuses to run
	// until the file is restored or the change is accepted with [Migrator.Repair].
	ErrDrift = errors.New("applied migrations changed since they were applied")
	// ErrMissing means the database records applied migrations that the source no longer has,
	// below the newest known version (newer unknown ones are taken to come from a newer release).
	ErrMissing = errors.New("applied migrations are missing from the source")
	// ErrOutOfOrder means a pending migration is older than the newest applied one.
	ErrOutOfOrder = errors.New("pending migrations are older than the newest applied one")
	// ErrIrreversible means a down step was asked of a migration that has none.
	ErrIrreversible = errors.New("migration has no down step")
	// ErrLockTimeout means another migrator held the lock for longer than the lock timeout.
	ErrLockTimeout = errors.New("timed out waiting for the migration lock")
	// ErrUnknownVersion means a target version matches no migration.
	ErrUnknownVersion = errors.New("no migration has that version")
	// ErrDuplicateVersion means two migrations share a version.
	ErrDuplicateVersion = errors.New("duplicate migration version")
	// ErrBadFileName means a .sql file in the migrations directory is not named NNNN_name.up.sql
	// or NNNN_name.down.sql.
	ErrBadFileName = errors.New("bad migration file name")
)

// Error reports a migration that failed while running: which migration, which direction, and
// for SQL migrations which statement at which line of which file.
type Error struct {
	Migration *Migration
	Direction Direction
	File      string // the SQL file, "" for a Go migration
	Statement int    // 1-based index of the failing statement, 0 for a Go migration
	Line      int    // line of the failing statement in File
	SQL       string // the failing statement, shortened
	// EarlierCommitted is set on MySQL/MariaDB, whose DDL commits implicitly: statements before
	// the failing one may stay applied, so the fixed migration must tolerate them.
	EarlierCommitted bool
	Err              error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "migrate: %s %s failed", e.Migration.ID(), e.Direction)
	if e.File != "" {
		fmt.Fprintf(&b, " at %s:%d (statement %d: %s)", e.File, e.Line, e.Statement, e.SQL)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	if e.EarlierCommitted {
		fmt.Fprintf(&b, " (MySQL/MariaDB commit DDL implicitly: statements 1-%d may stay applied; make the fixed migration tolerate them)", e.Statement-1)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

func shorten(sql string) string {
	sql = strings.Join(strings.Fields(sql), " ")
	if len(sql) > 120 {
		return sql[:117] + "..."
	}
	return sql
}

func ids(ms []*Migration) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.ID()
	}
	return strings.Join(names, ", ")
}
