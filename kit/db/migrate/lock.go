package migrate

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gofrs/flock"
)

// lock takes the migration lock, waiting up to the lock timeout for another migrator to finish.
// The lock belongs to a database session (PostgreSQL advisory lock, MySQL GET_LOCK) or to the
// process (SQLite: an flock on a file beside the database), so a migrator that dies, even by
// SIGKILL, releases it with its connection or process.
func (m *Migrator) lock(ctx context.Context) (unlock func(), err error) {
	m.logger.DebugContext(ctx, "migrate: waiting for lock", "timeout", m.lockTimeout)
	switch m.dialect {
	case "pg":
		return m.lockPG(ctx)
	case "mysql":
		return m.lockMySQL(ctx)
	case "sqlite":
		return m.lockSQLite(ctx)
	}
	return nil, fmt.Errorf("migrate: no migration lock for dialect %q", m.dialect)
}

// lockKey names the lock after the history table, so two histories in one database don't block
// each other.
func (m *Migrator) lockKey() []byte {
	sum := sha256.Sum256([]byte("github.com/stackkit/stackkit/kit/db/migrate:" + m.table))
	return sum[:]
}

func (m *Migrator) lockPG(ctx context.Context) (func(), error) {
	conn, err := m.db.DB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	key := int64(binary.BigEndian.Uint64(m.lockKey()))
	// lock_timeout bounds the wait server-side; the context deadline backs it up.
	timeout := fmt.Sprintf("%dms", max(m.lockTimeout.Milliseconds(), 1))
	if _, err := conn.ExecContext(ctx, "SELECT set_config('lock_timeout', $1, false)", timeout); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	lctx, cancel := context.WithTimeout(ctx, m.lockTimeout+5*time.Second)
	_, err = conn.ExecContext(lctx, "SELECT pg_advisory_lock($1)", key)
	cancel()
	if err != nil {
		_ = conn.Close()
		if sqlState(err) == "55P03" || errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, fmt.Errorf("migrate: %w (%s)", ErrLockTimeout, m.lockTimeout)
		}
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	_, _ = conn.ExecContext(ctx, "SELECT set_config('lock_timeout', '0', false)")
	return func() {
		// Unlock with a fresh context: the caller's may be cancelled, and the lock must go.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(uctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
			m.logger.Warn("migrate: unlock failed; the lock goes with the connection", "error", err)
			_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // discard the connection
		}
		_ = conn.Close()
	}, nil
}

func (m *Migrator) lockMySQL(ctx context.Context) (func(), error) {
	conn, err := m.db.DB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	var database sql.NullString
	if err := conn.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&database); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	// GET_LOCK names are server-wide and at most 64 characters: hash the database and table.
	sum := sha256.Sum256(append([]byte(database.String+"\x00"), m.lockKey()...))
	name := "kit_migrate_" + hex.EncodeToString(sum[:20])
	seconds := int64(math.Ceil(m.lockTimeout.Seconds()))
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", name, seconds).Scan(&got); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	if !got.Valid || got.Int64 != 1 {
		_ = conn.Close()
		if got.Valid && got.Int64 == 0 {
			return nil, fmt.Errorf("migrate: %w (%s)", ErrLockTimeout, m.lockTimeout)
		}
		return nil, fmt.Errorf("migrate: lock: GET_LOCK(%q) failed", name)
	}
	return func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(uctx, "SELECT RELEASE_LOCK(?)", name); err != nil {
			m.logger.Warn("migrate: unlock failed; the lock goes with the connection", "error", err)
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
	}, nil
}

// lockSQLite locks a file beside the database. An in-memory database belongs to one process and
// needs no lock.
func (m *Migrator) lockSQLite(ctx context.Context) (func(), error) {
	var path string
	rows, err := m.db.DB.QueryContext(ctx, "PRAGMA database_list")
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
		return func() {}, nil
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
	return func() { _ = fl.Unlock() }, nil
}

// sqlState returns the SQLSTATE code of a driver error that exposes one (pgx does).
func sqlState(err error) string {
	var s interface{ SQLState() string }
	if errors.As(err, &s) {
		return s.SQLState()
	}
	return ""
}
