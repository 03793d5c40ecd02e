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
// never closed, so the pool options cannot be set for it.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
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

// connector opens connections with modernc's driver, retrying while the database is busy.
// Setting up a connection runs the pragmas, and switching a new file to WAL takes an exclusive
// lock that can fail with SQLITE_BUSY without consulting the busy handler when several
// processes open the same new database at once.
type connector struct {
	dsn  string
	busy time.Duration
}

// registered is the driver modernc.org/sqlite registers as "sqlite": functions, collations and
// hooks registered with that package apply to its connections.
var registered = func() driver.Driver {
	d, _ := sql.Open("sqlite", "") // does not connect
	defer d.Close()
	return d.Driver()
}()

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	deadline := time.Now().Add(c.busy)
	wait := 5 * time.Millisecond
	for {
		conn, err := registered.Open(c.dsn)
		var coded interface{ Code() int }
		if err == nil || !errors.As(err, &coded) || coded.Code()&0xff != sqliteBusy || time.Now().After(deadline) {
			return conn, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, errors.Join(err, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

func (c *connector) Driver() driver.Driver { return registered }

const sqliteBusy = 5 // SQLITE_BUSY; extended codes keep it in the low byte

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
		for _, name := range []string{"max_open_conns", "max_idle_conns", "conn_max_lifetime", "conn_max_idle_time"} {
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
	sqldb := sql.OpenDB(&connector{dsn: dsn, busy: busy})
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
