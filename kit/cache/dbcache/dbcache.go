// Package dbcache is a kit/cache backend that keeps entries in a table of a kit/db database
// (PostgreSQL, MySQL/MariaDB or SQLite), like Django's DatabaseCache.
//
// With the application's own database, sharing its pool:
//
//	d, err := dbcache.New(bdb, dbcache.WithTable("kit_cache"))
//	c, err := cache.New(d, cache.WithPrefix("orders"))
//
// Or by URL: "dbcache+" in front of a kit/db URL, whose query holds the cache's options and the
// database's side by side (the kit/db backend must be imported too):
//
//	import (
//		_ "github.com/stackkit/stackkit/kit/cache/dbcache"
//		_ "github.com/stackkit/stackkit/kit/db/postgres"
//	)
//
//	c, err := cache.Open(ctx, "dbcache+postgres://app@db:5432/app?sslmode=require&table=kit_cache&prefix=orders")
//
// Create the table once with [CreateTable] (kitctl cache createtable), or open with
// create_table=true. Expired rows read as missing and are deleted when met; every cull_every
// writes (default 1000), a background [Driver.Cull] deletes all expired rows. Inside a kit/db
// transaction on the same *bun.DB (db.InTx), cache operations join it as savepoints: a
// rollback undoes the cache writes too, and a failing cache statement does not abort the
// caller's transaction. See README.md for the table layout and limits.
package dbcache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/stackkit/stackkit/kit/cache"
	"github.com/stackkit/stackkit/kit/db"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// Defaults of the options.
const (
	DefaultTable     = "kit_cache"
	DefaultCullEvery = 1000
)

// MaxKeyLen is the longest key, prefix included, in bytes: the key column is 255 wide.
const MaxKeyLen = 255

// chunk bounds the keys in one IN list and the rows in one INSERT, and chunkBytes the values'
// bytes in one INSERT: bun writes values into the statement (hex for bytes), and MySQL refuses
// statements above max_allowed_packet (16MiB by default on MariaDB, 64MiB on MySQL 8).
const (
	chunk      = 500
	chunkBytes = 4 << 20
)

// Option configures [New].
type Option func(*config)

type config struct {
	table     string
	cullEvery int
}

// WithTable sets the cache table's name (default kit_cache): letters, digits and underscores,
// at most 48 characters. For a PostgreSQL schema, use the search_path of the connection.
func WithTable(name string) Option { return func(c *config) { c.table = name } }

// WithCullEvery makes every n-th write start a background [Driver.Cull] (default 1000); 0 turns
// it off, for deployments that cull on a schedule (kitctl, cron) instead.
func WithCullEvery(n int) Option { return func(c *config) { c.cullEvery = n } }

// Driver is the database cache driver. It is safe for concurrent use.
type Driver struct {
	db      *bun.DB
	owned   bool // opened from a URL: Close closes the database
	table   string
	dialect dialect.Name
	q       queries

	cullEvery int64
	writes    atomic.Int64
	culling   atomic.Bool
	cullWG    sync.WaitGroup
	life      context.Context // cancelled by Close, which stops a running cull
	stop      context.CancelFunc
	mu        sync.Mutex
	closed    bool
}

var (
	_ cache.Driver  = (*Driver)(nil)
	_ cache.Pinger  = (*Driver)(nil)
	_ cache.Statser = (*Driver)(nil)
)

var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,47}$`)

// New returns a driver keeping its entries in a table of bdb; use it with cache.New. It does no
// I/O: create the table with [CreateTable] first. Closing the driver leaves bdb open.
func New(bdb *bun.DB, opts ...Option) (*Driver, error) {
	return newDriver(bdb, false, opts...)
}

func newDriver(bdb *bun.DB, owned bool, opts ...Option) (*Driver, error) {
	cfg := config{table: DefaultTable, cullEvery: DefaultCullEvery}
	for _, o := range opts {
		o(&cfg)
	}
	if !tableName.MatchString(cfg.table) {
		return nil, fmt.Errorf("dbcache: table name %q: want letters, digits and underscores, at most 48, not starting with a digit", cfg.table)
	}
	if cfg.cullEvery < 0 {
		return nil, fmt.Errorf("dbcache: cull every %d writes: want 0 (never) or more", cfg.cullEvery)
	}
	name := bdb.Dialect().Name()
	switch name {
	case dialect.PG, dialect.MySQL, dialect.SQLite:
	default:
		return nil, fmt.Errorf("dbcache: unsupported database dialect %s (want PostgreSQL, MySQL/MariaDB or SQLite)", name)
	}
	d := &Driver{
		db: bdb, owned: owned, table: cfg.table, dialect: name, q: buildQueries(name, cfg.table),
		cullEvery: int64(cfg.cullEvery),
	}
	d.life, d.stop = context.WithCancel(context.Background())
	return d, nil
}

// DB returns the database the cache lives in.
func (d *Driver) DB() *bun.DB { return d.db }

// Table returns the cache table's name.
func (d *Driver) Table() string { return d.table }

// queries holds the statements for one dialect and table, with bun's ? placeholders.
type queries struct {
	get, getMany, has, ttl            string
	purgeOne, purgeMany               string // delete rows found expired
	upsertHead, upsertRow, upsertTail string // INSERT ... VALUES (row), (row) ... upsert clause
	add                               string
	update, touch                     string // conditional on a live row (PG, SQLite)
	lockRow, lockWrite                string // take the row's (SQLite: the database's) write lock
	setValue, setEntry, setExpiresAt  string // unconditional, for a row already locked
	delete, deleteMany, clear, cull   string
	stats                             string
}

func buildQueries(name dialect.Name, table string) queries {
	quote := `"`
	if name == dialect.MySQL {
		quote = "`"
	}
	id := func(s string) string { return quote + s + quote }
	t, k, v, e := id(table), id("cache_key"), id("value"), id("expires_at")
	live := "(" + e + " IS NULL OR " + e + " > ?)"
	q := queries{
		get:          "SELECT " + v + ", " + e + " FROM " + t + " WHERE " + k + " = ?",
		getMany:      "SELECT " + k + ", " + v + ", " + e + " FROM " + t + " WHERE " + k + " IN (?)",
		has:          "SELECT 1 FROM " + t + " WHERE " + k + " = ? AND " + live,
		ttl:          "SELECT " + e + " FROM " + t + " WHERE " + k + " = ?",
		purgeOne:     "DELETE FROM " + t + " WHERE " + k + " = ? AND " + e + " <= ?",
		purgeMany:    "DELETE FROM " + t + " WHERE " + k + " IN (?) AND " + e + " <= ?",
		upsertHead:   "INSERT INTO " + t + " (" + k + ", " + v + ", " + e + ") VALUES ",
		upsertRow:    "(?, ?, ?)",
		update:       "UPDATE " + t + " SET " + v + " = ?, " + e + " = ? WHERE " + k + " = ? AND " + live,
		touch:        "UPDATE " + t + " SET " + e + " = ? WHERE " + k + " = ? AND " + live,
		lockRow:      "SELECT " + v + ", " + e + " FROM " + t + " WHERE " + k + " = ? FOR UPDATE",
		lockWrite:    "UPDATE " + t + " SET " + k + " = " + k + " WHERE " + k + " = ?",
		setValue:     "UPDATE " + t + " SET " + v + " = ? WHERE " + k + " = ?",
		setEntry:     "UPDATE " + t + " SET " + v + " = ?, " + e + " = ? WHERE " + k + " = ?",
		setExpiresAt: "UPDATE " + t + " SET " + e + " = ? WHERE " + k + " = ?",
		delete:       "DELETE FROM " + t + " WHERE " + k + " = ? AND " + live,
		deleteMany:   "DELETE FROM " + t + " WHERE " + k + " IN (?) AND " + live,
		// LIKE with the metacharacters of the prefix escaped by '!': a backslash would need
		// doubling in MySQL's string literals and not in the others'.
		clear: "DELETE FROM " + t + " WHERE " + k + " LIKE ? ESCAPE '!'",
		cull:  "DELETE FROM " + t + " WHERE " + e + " <= ?",
		stats: "SELECT COUNT(*), COUNT(CASE WHEN " + e + " <= ? THEN 1 END) FROM " + t,
	}
	switch name {
	case dialect.MySQL:
		q.upsertTail = " ON DUPLICATE KEY UPDATE " + v + " = VALUES(" + v + "), " + e + " = VALUES(" + e + ")"
		// MySQL has no WHERE on its upsert: each column keeps its value unless the row is
		// expired. value is assigned first, while expires_at still holds the old expiry.
		expired := "(" + e + " IS NOT NULL AND " + e + " <= ?)"
		q.add = q.upsertHead + q.upsertRow + " ON DUPLICATE KEY UPDATE " +
			v + " = IF(" + expired + ", VALUES(" + v + "), " + v + "), " +
			e + " = IF(" + expired + ", VALUES(" + e + "), " + e + ")"
	default: // PostgreSQL and SQLite share the upsert syntax
		q.upsertTail = " ON CONFLICT (" + k + ") DO UPDATE SET " + v + " = excluded." + v + ", " + e + " = excluded." + e
		q.add = q.upsertHead + q.upsertRow + " ON CONFLICT (" + k + ") DO UPDATE SET " +
			v + " = excluded." + v + ", " + e + " = excluded." + e +
			" WHERE " + t + "." + e + " IS NOT NULL AND " + t + "." + e + " <= ?"
	}
	if name == dialect.SQLite {
		// SQLite's LIKE ignores ASCII case: the exact prefix comparison keeps "A_" from clearing "a_b".
		q.clear += " AND substr(" + k + ", 1, ?) = ?"
	}
	return q
}

// now is the clock of expiry: the application's, in Unix milliseconds. Every instance sharing
// the table should have its clock synchronised (NTP), as with Django's database cache.
func now() int64 { return time.Now().UnixMilli() }

// expiresAt returns the expires_at value for ttl: NULL (nil) for 0, else now plus ttl rounded up
// to the millisecond.
func expiresAt(ttl time.Duration, at int64) any {
	if ttl <= 0 {
		return nil
	}
	ms := int64((ttl + time.Millisecond - 1) / time.Millisecond)
	if ms > math.MaxInt64-at {
		return int64(math.MaxInt64)
	}
	return at + ms
}

func live(e sql.NullInt64, at int64) bool { return !e.Valid || e.Int64 > at }

// checkKey rejects keys the column cannot hold exactly: too long, not UTF-8 (PostgreSQL refuses
// it, bun would rewrite it for MySQL) or holding NUL.
func checkKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty key", cache.ErrInvalidKey)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: %d bytes, the cache table's keys hold %d", cache.ErrInvalidKey, len(key), MaxKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: not valid UTF-8", cache.ErrInvalidKey)
	case strings.IndexByte(key, 0) >= 0:
		return fmt.Errorf("%w: holds a NUL byte", cache.ErrInvalidKey)
	}
	return nil
}

func checkKeys(keys []string) error {
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return err
		}
	}
	return nil
}

// run calls fn on the pool, or, when ctx is inside a kit/db transaction of this database, in
// a savepoint of it: the operation then commits or rolls back with the caller's work, and a
// failure here does not abort the caller's transaction (PostgreSQL would).
func (d *Driver) run(ctx context.Context, fn func(ctx context.Context, conn bun.IDB) error) error {
	if _, ok := db.Current(ctx, d.db); ok {
		return d.inTx(ctx, fn)
	}
	return d.wrap(fn(ctx, d.db))
}

// inTx calls fn in a transaction (a savepoint when ctx is already in one of this database).
func (d *Driver) inTx(ctx context.Context, fn func(ctx context.Context, conn bun.IDB) error) error {
	return d.wrap(db.InTx(ctx, d.db, func(ctx context.Context, tx bun.Tx) error { return fn(ctx, tx) }))
}

func (d *Driver) wrap(err error) error {
	if err == nil || errors.Is(err, cache.ErrNotFound) || errors.Is(err, cache.ErrNotInteger) ||
		errors.Is(err, cache.ErrInvalidKey) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("dbcache: table %s: %w", d.table, err)
}

func nonNil(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

// Get returns the value stored at key, or cache.ErrNotFound. An expired row is deleted.
func (d *Driver) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	var v []byte
	err := d.run(ctx, func(ctx context.Context, conn bun.IDB) error {
		var e sql.NullInt64
		err := conn.QueryRowContext(ctx, d.q.get, key).Scan(&v, &e)
		if errors.Is(err, sql.ErrNoRows) {
			return cache.ErrNotFound
		}
		if err != nil {
			return err
		}
		if at := now(); !live(e, at) {
			v = nil
			if _, err := conn.ExecContext(ctx, d.q.purgeOne, key, at); err != nil {
				return err
			}
			return cache.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return nonNil(v), nil
}

// GetMany fetches keys with one SELECT ... IN (per 500 keys); expired rows found are deleted
// with one DELETE.
func (d *Driver) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	if err := checkKeys(keys); err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(keys))
	err := d.run(ctx, func(ctx context.Context, conn bun.IDB) error {
		at := now()
		var expired []string
		for part := range chunks(keys, chunk) {
			rows, err := conn.QueryContext(ctx, d.q.getMany, bun.List(part))
			if err != nil {
				return err
			}
			for rows.Next() {
				var (
					k string
					v []byte
					e sql.NullInt64
				)
				if err := rows.Scan(&k, &v, &e); err != nil {
					rows.Close()
					return err
				}
				if live(e, at) {
					out[k] = nonNil(v)
				} else {
					expired = append(expired, k)
				}
			}
			if err := rows.Close(); err != nil {
				return err
			}
			if err := rows.Err(); err != nil {
				return err
			}
		}
		for part := range chunks(expired, chunk) {
			if _, err := conn.ExecContext(ctx, d.q.purgeMany, bun.List(part), at); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func chunks[T any](s []T, n int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			m := min(n, len(s))
			if !yield(s[:m]) {
				return
			}
			s = s[m:]
		}
	}
}

// Set stores value at key for ttl (0: never expires), inserting or replacing the row.
func (d *Driver) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	err := d.run(ctx, func(ctx context.Context, conn bun.IDB) error {
		_, err := conn.ExecContext(ctx, d.q.upsertHead+d.q.upsertRow+d.q.upsertTail, key, nonNil(value), expiresAt(ttl, now()))
		return err
	})
	if err == nil {
		d.wrote(1)
	}
	return err
}

// SetMany stores every item in one transaction, with multi-row upserts of up to 500 rows
// (fewer for large values). A key given twice keeps its last value.
func (d *Driver) SetMany(ctx context.Context, items []cache.Item) error {
	last := make(map[string]int, len(items))
	for i, it := range items {
		if err := checkKey(it.Key); err != nil {
			return err
		}
		last[it.Key] = i
	}
	unique := items
	if len(last) < len(items) { // PostgreSQL refuses to upsert one row twice in a statement
		unique = make([]cache.Item, 0, len(last))
		for i, it := range items {
			if last[it.Key] == i {
				unique = append(unique, it)
			}
		}
	}
	if len(unique) == 0 {
		return nil
	}
	err := d.inTx(ctx, func(ctx context.Context, conn bun.IDB) error {
		at := now()
		var (
			sb    strings.Builder
			args  []any
			bytes int
		)
		flush := func() error {
			if len(args) == 0 {
				return nil
			}
			sb.WriteString(d.q.upsertTail)
			_, err := conn.ExecContext(ctx, sb.String(), args...)
			sb.Reset()
			args, bytes = args[:0], 0
			return err
		}
		for _, it := range unique {
			if len(args) > 0 && (len(args)/3 >= chunk || bytes+len(it.Value) > chunkBytes) {
				if err := flush(); err != nil {
					return err
				}
			}
			if len(args) == 0 {
				sb.WriteString(d.q.upsertHead)
			} else {
				sb.WriteString(", ")
			}
			sb.WriteString(d.q.upsertRow)
			args = append(args, it.Key, nonNil(it.Value), expiresAt(it.TTL, at))
			bytes += len(it.Value)
		}
		return flush()
	})
	if err == nil {
		d.wrote(int64(len(unique)))
	}
	return err
}

// Add stores value only if key is absent (or expired), in one upsert, and reports whether it
// stored.
func (d *Driver) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	var n int64
	err := d.run(ctx, func(ctx context.Context, conn bun.IDB) error {
		at := now()
		args := []any{key, nonNil(value), expiresAt(ttl, at), at}
		if d.dialect == dialect.MySQL {
			args = append(args, at) // the expiry test appears once per column
		}
		res, err := conn.ExecContext(ctx, d.q.add, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err == nil && n > 0 {
		d.wrote(1)
	}
	// MySQL counts 1 for an insert and 2 for an update that changed the row; an expired row
	// always changes, since its new expiry differs.
	return n > 0, err
}

// Replace stores value only if key is present and live, and reports whether it stored.
func (d *Driver) Replace(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	return d.updateLive(ctx, key, d.q.update, nonNil(value), expiresAt(ttl, now()))
}

// Touch sets a new TTL on key and reports whether it was present and live.
func (d *Driver) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	return d.updateLive(ctx, key, d.q.touch, expiresAt(ttl, now()))
}

// updateLive runs an UPDATE of key's live row with sets (the values of its SET clause) and
// reports whether the row was there. MySQL reports the rows an UPDATE changed, not those it
// matched, so a Replace with an identical value would read as a miss: there the row is locked
// and checked first, in a transaction.
func (d *Driver) updateLive(ctx context.Context, key, query string, sets ...any) (bool, error) {
	var ok bool
	if d.dialect != dialect.MySQL {
		err := d.run(ctx, func(ctx context.Context, conn bun.IDB) error {
			res, err := conn.ExecContext(ctx, query, append(sets, key, now())...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			ok = n > 0
			return err
		})
		return ok, err
	}
	err := d.inTx(ctx, func(ctx context.Context, conn bun.IDB) error {
		var (
			v []byte
			e sql.NullInt64
		)
		err := conn.QueryRowContext(ctx, d.q.lockRow, key).Scan(&v, &e)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if !live(e, now()) {
			return nil
		}
		if query == d.q.touch {
			_, err = conn.ExecContext(ctx, d.q.setExpiresAt, sets[0], key)
		} else {
			_, err = conn.ExecContext(ctx, d.q.setEntry, sets[0], sets[1], key)
		}
		ok = err == nil
		return err
	})
	return ok, err
}

// Delete removes key and reports whether it was present and live.
func (d *Driver) Delete(ctx context.Context, key string) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	var n int64
	err := d.run(ctx, func(ctx context.Context, conn bun.IDB) error {
		res, err := conn.ExecContext(ctx, d.q.delete, key, now())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n > 0, err
}

// DeleteMany removes keys with one DELETE ... IN (per 500 keys) and returns how many were
// present and live.
func (d *Driver) DeleteMany(ctx context.Context, keys []string) (int, error) {
	if err := checkKeys(keys); err != nil {
		return 0, err
	}
	var total int64
	err := d.run(ctx, func(ctx context.Context, conn bun.IDB) error {
		at := now()
		total = 0
		for part := range chunks(keys, chunk) {
			res, err := conn.ExecContext(ctx, d.q.deleteMany, bun.List(part), at)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	return int(total), err
}

// Incr adds delta to the decimal integer at key in a transaction that locks the row (SELECT
// ... FOR UPDATE; on SQLite, the database's write lock), and returns the new value. The
// entry's expiry is kept.
func (d *Driver) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	var n int64
	err := d.inTx(ctx, func(ctx context.Context, conn bun.IDB) error {
		var (
			v []byte
			e sql.NullInt64
		)
		lock := d.q.lockRow
		if d.dialect == dialect.SQLite {
			// SQLite has no row locks. Writing first takes the database's write lock (waiting
			// out busy_timeout) before the read, even in a DEFERRED transaction, where a read
			// followed by a write fails at once if another connection wrote in between.
			if _, err := conn.ExecContext(ctx, d.q.lockWrite, key); err != nil {
				return err
			}
			lock = d.q.get
		}
		err := conn.QueryRowContext(ctx, lock, key).Scan(&v, &e)
		if errors.Is(err, sql.ErrNoRows) {
			return cache.ErrNotFound
		}
		if err != nil {
			return err
		}
		if !live(e, now()) {
			return cache.ErrNotFound
		}
		old, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return fmt.Errorf("%w: %q", cache.ErrNotInteger, truncate(v))
		}
		if (delta > 0 && old > math.MaxInt64-delta) || (delta < 0 && old < math.MinInt64-delta) {
			return fmt.Errorf("dbcache: incrementing %d by %d overflows int64", old, delta)
		}
		n = old + delta
		_, err = conn.ExecContext(ctx, d.q.setValue, []byte(strconv.FormatInt(n, 10)), key)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func truncate(v []byte) string {
	if len(v) > 32 {
		return string(v[:32]) + "..."
	}
	return string(v)
}

// Has reports whether key is present and live.
func (d *Driver) Has(ctx context.Context, key string) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	var ok bool
	err := d.run(ctx, func(ctx context.Context, conn bun.IDB) error {
		var one int
		err := conn.QueryRowContext(ctx, d.q.has, key, now()).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		ok = err == nil
		return err
	})
	return ok, err
}

// TTL returns key's remaining time to live (millisecond resolution), 0 for a key that never
// expires, or cache.ErrNotFound.
func (d *Driver) TTL(ctx context.Context, key string) (time.Duration, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	var ttl time.Duration
	err := d.run(ctx, func(ctx context.Context, conn bun.IDB) error {
		var e sql.NullInt64
		err := conn.QueryRowContext(ctx, d.q.ttl, key).Scan(&e)
		if errors.Is(err, sql.ErrNoRows) {
			return cache.ErrNotFound
		}
		if err != nil {
			return err
		}
		at := now()
		if !live(e, at) {
			return cache.ErrNotFound
		}
		if e.Valid {
			ttl = time.Duration(e.Int64-at) * time.Millisecond
		}
		return nil
	})
	return ttl, err
}

// likePrefix escapes LIKE's metacharacters in prefix with '!' and appends the wildcard.
func likePrefix(prefix string) string {
	r := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")
	return r.Replace(prefix) + "%"
}

// Clear deletes every row whose key starts with prefix (DELETE ... WHERE cache_key LIKE
// 'prefix%' ESCAPE '!', with '%', '_' and '!' in the prefix escaped), expired or not.
func (d *Driver) Clear(ctx context.Context, prefix string) error {
	return d.run(ctx, func(ctx context.Context, conn bun.IDB) error {
		args := []any{likePrefix(prefix)}
		if d.dialect == dialect.SQLite {
			args = append(args, utf8.RuneCountInString(prefix), prefix)
		}
		_, err := conn.ExecContext(ctx, d.q.clear, args...)
		return err
	})
}

// Cull deletes every expired row and returns how many it deleted. The driver runs it in the
// background every cull_every writes; run it yourself on a schedule with cull_every=0.
func (d *Driver) Cull(ctx context.Context) (int64, error) {
	res, err := d.db.ExecContext(ctx, d.q.cull, now())
	if err != nil {
		return 0, d.wrap(err)
	}
	return res.RowsAffected()
}

// wrote counts n writes and starts a background Cull when the count crosses a multiple of
// cullEvery, unless one is running.
func (d *Driver) wrote(n int64) {
	if d.cullEvery == 0 {
		return
	}
	total := d.writes.Add(n)
	if total/d.cullEvery == (total-n)/d.cullEvery || !d.culling.CompareAndSwap(false, true) {
		return
	}
	d.mu.Lock() // Close must not Wait while a cull is being added
	defer d.mu.Unlock()
	if d.closed {
		d.culling.Store(false)
		return
	}
	d.cullWG.Go(func() {
		defer d.culling.Store(false)
		// Not the caller's context: the cull is not part of its request or transaction.
		ctx, cancel := context.WithTimeout(d.life, time.Minute)
		defer cancel()
		_, _ = d.Cull(ctx)
	})
}

// Capabilities describes the database cache to the portable cache.
func (d *Driver) Capabilities() cache.Capabilities {
	return cache.Capabilities{
		Name:          "dbcache",
		MaxKeyLen:     MaxKeyLen,
		AtomicIncr:    true,
		TTLResolution: time.Millisecond,
	}
}

// Ping checks that the database answers.
func (d *Driver) Ping(ctx context.Context) error { return d.db.PingContext(ctx) }

// Stats reports the table's rows: entries (all rows), expired (rows awaiting a cull), and the
// table and dialect.
func (d *Driver) Stats(ctx context.Context) (map[string]string, error) {
	var all, expired int64
	if err := d.db.QueryRowContext(ctx, d.q.stats, now()).Scan(&all, &expired); err != nil {
		return nil, d.wrap(err)
	}
	return map[string]string{
		"table":   d.table,
		"dialect": d.dialect.String(),
		"entries": strconv.FormatInt(all, 10),
		"expired": strconv.FormatInt(expired, 10),
	}, nil
}

// Close waits for a running cull (cancelling it) and, for a driver opened from a URL, closes
// the database. A driver from New leaves its *bun.DB open.
func (d *Driver) Close() error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.stop()
	d.cullWG.Wait()
	if d.owned {
		return d.db.Close()
	}
	return nil
}
