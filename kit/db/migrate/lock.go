package migrate

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gofrs/flock"
)

// lock takes the migration lock on conn, the connection the whole run uses, waiting up to the
// lock timeout for another migrator to finish. The lock belongs to the database session
// (PostgreSQL advisory lock, MySQL GET_LOCK) or to the process (SQLite: an flock on a file beside
// the database), so a migrator that dies, even by SIGKILL, releases it with its connection or
// process. If lock or unlock fail, the caller must discard conn: its session state is unknown.
func (m *Migrator) lock(ctx context.Context, conn *sql.Conn) (unlock func() error, err error) {
	m.logger.DebugContext(ctx, "migrate: waiting for lock", "timeout", m.lockTimeout)
	switch m.dialect {
	case "pg":
		return m.lockPG(ctx, conn)
	case "mysql":
		return m.lockMySQL(ctx, conn)
	case "sqlite":
		return m.lockSQLite(ctx, conn)
	}
	return nil, fmt.Errorf("migrate: no migration lock for dialect %q", m.dialect)
}

// unlockContext is for releasing a lock: the caller's context may be cancelled, and the lock must go.
func unlockContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

// lockKey names the lock after the history table, so two histories in one database don't block
// each other.
func (m *Migrator) lockKey() []byte {
	sum := sha256.Sum256([]byte("github.com/stackkit/stackkit/kit/db/migrate:" + m.table))
	return sum[:]
}

func (m *Migrator) lockPG(ctx context.Context, conn *sql.Conn) (func() error, error) {
	key := int64(binary.BigEndian.Uint64(m.lockKey()))
	// lock_timeout bounds the wait server-side, and a statement_timeout from the URL must not cut
	// it short; both are RESET afterwards to the session's own values for the migrations.
	timeout := fmt.Sprintf("%dms", max(m.lockTimeout.Milliseconds(), 1))
	if _, err := conn.ExecContext(ctx, "SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', '0', false)", timeout); err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	lctx, cancel := context.WithTimeout(ctx, m.lockTimeout+5*time.Second)
	_, err := conn.ExecContext(lctx, "SELECT pg_advisory_lock($1)", key)
	cancel()
	if err != nil {
		if sqlState(err) == "55P03" || errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, fmt.Errorf("migrate: %w (%s)", ErrLockTimeout, m.lockTimeout)
		}
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	for _, reset := range []string{"RESET lock_timeout", "RESET statement_timeout"} {
		if _, err := conn.ExecContext(ctx, reset); err != nil {
			return nil, fmt.Errorf("migrate: lock: %w", err)
		}
	}
	return func() error {
		uctx, cancel := unlockContext(ctx)
		defer cancel()
		_, err := conn.ExecContext(uctx, "SELECT pg_advisory_unlock($1)", key)
		return err
	}, nil
}

func (m *Migrator) lockMySQL(ctx context.Context, conn *sql.Conn) (func() error, error) {
	var database sql.NullString
	if err := conn.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&database); err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	// GET_LOCK names are server-wide and at most 64 characters: hash the database and table.
	sum := sha256.Sum256(append([]byte(database.String+"\x00"), m.lockKey()...))
	name := "kit_migrate_" + hex.EncodeToString(sum[:20])
	// GET_LOCK takes whole seconds on older servers: round up, never down to "don't wait".
	seconds := int64(math.Ceil(m.lockTimeout.Seconds()))
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", name, seconds).Scan(&got); err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	if !got.Valid || got.Int64 != 1 {
		if got.Valid && got.Int64 == 0 {
			return nil, fmt.Errorf("migrate: %w (%s)", ErrLockTimeout, m.lockTimeout)
		}
		return nil, fmt.Errorf("migrate: lock: GET_LOCK(%q) failed", name)
	}
	return func() error {
		uctx, cancel := unlockContext(ctx)
		defer cancel()
		_, err := conn.ExecContext(uctx, "SELECT RELEASE_LOCK(?)", name)
		return err
	}, nil
}

// lockSQLite locks a file beside the database. An in-memory database belongs to one process and
// needs no lock.
func (m *Migrator) lockSQLite(ctx context.Context, conn *sql.Conn) (func() error, error) {
	var path string
	rows, err := conn.QueryContext(ctx, "PRAGMA database_list")
	if err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	for rows.Next() {
		var seq int
		var name, file string
		if err := rows.Scan(&seq, &name, &file); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("migrate: lock: %w", err)
		}
		if name == "main" {
			path = file
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	if path == "" {
		return func() error { return nil }, nil
	}
	fl := flock.New(path + ".migrate-lock")
	lctx, cancel := context.WithTimeout(ctx, m.lockTimeout)
	defer cancel()
	ok, err := fl.TryLockContext(lctx, 50*time.Millisecond)
	if !ok {
		if err == nil || errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, fmt.Errorf("migrate: %w (%s)", ErrLockTimeout, m.lockTimeout)
		}
		return nil, fmt.Errorf("migrate: lock %s: %w", fl.Path(), err)
	}
	// The lock file stays: removing it would let a waiter lock an unlinked file while a newcomer
	// locks a fresh one.
	return fl.Unlock, nil
}

// sqlState returns the SQLSTATE code of a driver error that exposes one (pgx does).
func sqlState(err error) string {
	var s interface{ SQLState() string }
	if errors.As(err, &s) {
		return s.SQLState()
	}
	return ""
}
