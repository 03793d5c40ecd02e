// Package sqlite registers the sqlite:// scheme with kit/db, on modernc.org/sqlite: pure Go, no
// cgo, so binaries stay static and cross-compile.
//
//	import _ "github.com/stackkit/stackkit/kit/db/sqlite"
//
//	bdb, err := db.Open(ctx, "sqlite://.kit/data.db")     // relative to the working directory
//	bdb, err := db.Open(ctx, "sqlite:///var/lib/app.db")   // absolute
//	bdb, err := db.Open(ctx, "sqlite://:memory:")          // private to this *bun.DB
//
// Defaults suit a service: WAL journal, busy_timeout=5s, synchronous=normal, foreign keys on,
// and transactions that take the write lock when they begin (txlock=immediate), which avoids the
// SQLITE_BUSY errors a read transaction gets when it later tries to write while another
// connection writes. The parent directory of the file is created if missing.
//
// Options, besides kit/db's pool options: busy_timeout, journal_mode (wal, delete, truncate,
// persist, memory, off), synchronous (off, normal, full, extra), foreign_keys, txlock (deferred,
// immediate, exclusive), mode (rwc, rw, ro).
//
// An in-memory database lives in its one connection: the pool is fixed at one connection that is
// never closed, so max_open_conns and the connection lifetimes cannot be set for it.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/stackkit/stackkit/kit/db"
	"github.com/stackkit/stackkit/kit/registry"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

func init() {
	db.Register("sqlite", open)
}

func open(_ context.Context, u *url.URL, opts *registry.Options) (*db.Driver, error) {
	busy := opts.Duration("busy_timeout", 5*time.Second)
	journal := opts.Enum("journal_mode", "wal", "wal", "delete", "truncate", "persist", "memory", "off")
	syncMode := opts.Enum("synchronous", "normal", "off", "normal", "full", "extra")
	foreignKeys := opts.Bool("foreign_keys", true)
	txlock := opts.Enum("txlock", "immediate", "deferred", "immediate", "exclusive")
	mode := opts.Enum("mode", "rwc", "rwc", "rw", "ro")

	path := u.Host + u.Path
	memory := path == ":memory:"
	if memory {
		for _, name := range []string{"max_open_conns", "conn_max_lifetime", "conn_max_idle_time"} {
			if opts.Has(name) {
				return nil, fmt.Errorf("option %q cannot be set for sqlite://:memory:, which lives in a single connection", name)
			}
		}
	}
	if err := opts.Err(); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, fmt.Errorf("no database file in URL (want sqlite://relative/path.db, sqlite:///absolute/path.db or sqlite://:memory:)")
	}
	if strings.ContainsAny(path, "?#\x00") {
		return nil, fmt.Errorf("database file name %q contains '?', '#' or NUL", path)
	}

	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", fmt.Sprintf("foreign_keys(%d)", map[bool]int{false: 0, true: 1}[foreignKeys]))
	q.Add("_pragma", "synchronous("+syncMode+")")
	if !memory {
		q.Add("_pragma", "journal_mode("+journal+")")
		q.Set("mode", mode)
		if mode != "ro" {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return nil, fmt.Errorf("create directory for the database: %w", err)
			}
		}
	}
	q.Set("_txlock", txlock)
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	if memory {
		dsn = ":memory:?" + q.Encode()
	}
	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	if memory {
		sqldb.SetMaxOpenConns(1)
		sqldb.SetMaxIdleConns(1)
		sqldb.SetConnMaxLifetime(0)
		sqldb.SetConnMaxIdleTime(0)
	} else {
		sqldb.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	}
	return &db.Driver{DB: sqldb, Dialect: sqlitedialect.New(), System: "sqlite"}, nil
}
