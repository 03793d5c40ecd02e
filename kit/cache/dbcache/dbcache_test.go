package dbcache_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/cache"
	"github.com/stackkit/stackkit/kit/cache/cachetest"
	"github.com/stackkit/stackkit/kit/cache/dbcache"
	"github.com/stackkit/stackkit/kit/db"
	"github.com/stackkit/stackkit/kit/db/dbtest"
	_ "github.com/stackkit/stackkit/kit/db/mysql"
	_ "github.com/stackkit/stackkit/kit/db/postgres"
	_ "github.com/stackkit/stackkit/kit/db/sqlite"
	"github.com/uptrace/bun"
)

// forEachDB runs fn against a fresh database on each server: PostgreSQL, MariaDB/MySQL and a
// SQLite file.
func forEachDB(t *testing.T, fn func(t *testing.T, dbURL string)) {
	for _, s := range []struct{ name, env string }{
		{"postgres", "KIT_TEST_POSTGRES_URL"},
		{"mysql", "KIT_TEST_MYSQL_URL"},
		{"sqlite", ""},
	} {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			admin := "sqlite://"
			if s.env != "" {
				admin = testenv.Get(t, s.env)
			}
			fn(t, dbtest.NewDatabase(t, admin))
		})
	}
}

// newDriver opens dbURL, creates the cache table and returns a driver over it.
func newDriver(t *testing.T, dbURL string, opts ...dbcache.Option) (*dbcache.Driver, *bun.DB) {
	t.Helper()
	bdb := dbtest.Open(t, dbURL)
	d, err := dbcache.New(bdb, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if err := d.CreateTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateTable(context.Background()); err != nil {
		t.Fatalf("CreateTable twice: %v", err)
	}
	return d, bdb
}

func rows(t *testing.T, bdb *bun.DB, table string) int {
	t.Helper()
	var n int
	if err := bdb.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDriver(t *testing.T) {
	forEachDB(t, func(t *testing.T, dbURL string) {
		d, _ := newDriver(t, dbURL)
		ctx := context.Background()

		if _, err := d.Get(ctx, "missing"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Get missing: %v, want ErrNotFound", err)
		}
		binary := make([]byte, 256)
		for i := range binary {
			binary[i] = byte(i)
		}
		for key, v := range map[string][]byte{"bin": binary, "empty": nil, "text": []byte("héllo 'quoted' \\ \"x\"")} {
			if err := d.Set(ctx, key, v, time.Minute); err != nil {
				t.Fatal(err)
			}
			got, err := d.Get(ctx, key)
			if err != nil || string(got) != string(v) || got == nil {
				t.Fatalf("Get(%s) = %q, %v; want %q", key, got, err, v)
			}
		}
		if err := d.Set(ctx, "text", []byte("second"), 0); err != nil { // overwrite
			t.Fatal(err)
		}
		if v, _ := d.Get(ctx, "text"); string(v) != "second" {
			t.Fatalf("after overwrite: %q", v)
		}
		// Keys differ by case and trailing spaces (MySQL's default collations would merge them).
		for _, k := range []string{"Case", "case", "case "} {
			if err := d.Set(ctx, k, []byte(k), 0); err != nil {
				t.Fatal(err)
			}
		}
		for _, k := range []string{"Case", "case", "case "} {
			if v, err := d.Get(ctx, k); err != nil || string(v) != k {
				t.Fatalf("Get(%q) = %q, %v", k, v, err)
			}
		}

		// GetMany / SetMany (a key given twice keeps its last value)
		items := []cache.Item{{Key: "m1", Value: []byte("x")}, {Key: "m2", Value: []byte("y"), TTL: time.Hour}, {Key: "m1", Value: []byte("z")}}
		if err := d.SetMany(ctx, items); err != nil {
			t.Fatal(err)
		}
		got, err := d.GetMany(ctx, []string{"m1", "m2", "m3"})
		if err != nil || len(got) != 2 || string(got["m1"]) != "z" || string(got["m2"]) != "y" {
			t.Fatalf("GetMany = %q, %v", got, err)
		}
		many := make([]cache.Item, 1200) // several statements in one transaction
		keys := make([]string, len(many))
		for i := range many {
			keys[i] = "many" + strconv.Itoa(i)
			many[i] = cache.Item{Key: keys[i], Value: []byte(strconv.Itoa(i))}
		}
		if err := d.SetMany(ctx, many); err != nil {
			t.Fatal(err)
		}
		if got, err := d.GetMany(ctx, keys); err != nil || len(got) != len(keys) || string(got["many1199"]) != "1199" {
			t.Fatalf("GetMany of 1200: %d, %v", len(got), err)
		}
		if n, err := d.DeleteMany(ctx, append(keys, "nope")); n != len(keys) || err != nil {
			t.Fatalf("DeleteMany of 1200 = %d, %v", n, err)
		}

		// Add / Replace
		if ok, err := d.Add(ctx, "m1", []byte("a"), 0); ok || err != nil {
			t.Fatalf("Add over a present key = %v, %v", ok, err)
		}
		if ok, err := d.Add(ctx, "new", []byte("a"), time.Minute); !ok || err != nil {
			t.Fatalf("Add = %v, %v", ok, err)
		}
		if ok, err := d.Replace(ctx, "absent", []byte("r"), 0); ok || err != nil {
			t.Fatalf("Replace absent = %v, %v", ok, err)
		}
		for range 2 { // the second time with an identical value and expiry: still a hit (MySQL)
			if ok, err := d.Replace(ctx, "new", []byte("r"), 0); !ok || err != nil {
				t.Fatalf("Replace = %v, %v", ok, err)
			}
		}
		if v, _ := d.Get(ctx, "new"); string(v) != "r" {
			t.Fatalf("after Replace: %q", v)
		}

		// Has / Touch / TTL
		if ok, err := d.Has(ctx, "new"); !ok || err != nil {
			t.Fatalf("Has = %v, %v", ok, err)
		}
		if ok, err := d.Has(ctx, "absent"); ok || err != nil {
			t.Fatalf("Has absent = %v, %v", ok, err)
		}
		if ttl, err := d.TTL(ctx, "new"); ttl != 0 || err != nil {
			t.Fatalf("TTL of a key without expiry = %s, %v; want 0", ttl, err)
		}
		if _, err := d.TTL(ctx, "absent"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("TTL absent: %v", err)
		}
		for range 2 {
			if ok, err := d.Touch(ctx, "new", time.Hour); !ok || err != nil {
				t.Fatalf("Touch = %v, %v", ok, err)
			}
		}
		if ttl, err := d.TTL(ctx, "new"); err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
			t.Fatalf("TTL after Touch(1h) = %s, %v", ttl, err)
		}
		if ok, err := d.Touch(ctx, "new", 0); !ok || err != nil {
			t.Fatalf("Touch(0) = %v, %v", ok, err)
		}
		if ttl, _ := d.TTL(ctx, "new"); ttl != 0 {
			t.Fatalf("TTL after Touch(0) = %s, want 0 (never)", ttl)
		}
		if ok, err := d.Touch(ctx, "absent", time.Hour); ok || err != nil {
			t.Fatalf("Touch absent = %v, %v", ok, err)
		}

		// Delete
		if ok, err := d.Delete(ctx, "new"); !ok || err != nil {
			t.Fatalf("Delete = %v, %v", ok, err)
		}
		if ok, err := d.Delete(ctx, "new"); ok || err != nil {
			t.Fatalf("Delete again = %v, %v", ok, err)
		}

		// Keys the column cannot hold exactly.
		for _, k := range []string{"", strings.Repeat("k", 256), "bad\xff", "nul\x00"} {
			if err := d.Set(ctx, k, nil, 0); !errors.Is(err, cache.ErrInvalidKey) {
				t.Errorf("Set(%.10q): %v, want ErrInvalidKey", k, err)
			}
		}
		long := strings.Repeat("é", 127) + "k" // 255 bytes
		if err := d.Set(ctx, long, []byte("v"), 0); err != nil {
			t.Fatalf("a 255-byte key: %v", err)
		}
		if v, err := d.Get(ctx, long); err != nil || string(v) != "v" {
			t.Fatalf("Get 255-byte key = %q, %v", v, err)
		}

		if err := d.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		stats, err := d.Stats(ctx)
		if err != nil || stats["table"] != "kit_cache" || stats["entries"] == "" {
			t.Fatalf("Stats = %v, %v", stats, err)
		}
	})
}

func TestIncr(t *testing.T) {
	forEachDB(t, func(t *testing.T, dbURL string) {
		d, _ := newDriver(t, dbURL)
		ctx := context.Background()
		if _, err := d.Incr(ctx, "missing", 1); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Incr missing: %v", err)
		}
		if err := d.Set(ctx, "n", []byte("10"), time.Hour); err != nil {
			t.Fatal(err)
		}
		if n, err := d.Incr(ctx, "n", 5); n != 15 || err != nil {
			t.Fatalf("Incr = %d, %v", n, err)
		}
		if n, err := d.Incr(ctx, "n", -20); n != -5 || err != nil {
			t.Fatalf("Incr -20 = %d, %v; want -5", n, err)
		}
		if v, _ := d.Get(ctx, "n"); string(v) != "-5" {
			t.Fatalf("stored %q", v)
		}
		if ttl, _ := d.TTL(ctx, "n"); ttl < 59*time.Minute {
			t.Fatalf("Incr lost the expiry: TTL %s", ttl)
		}
		if err := d.Set(ctx, "s", []byte("abc"), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Incr(ctx, "s", 1); !errors.Is(err, cache.ErrNotInteger) {
			t.Fatalf("Incr of abc: %v", err)
		}
		if err := d.Set(ctx, "max", []byte(strconv.FormatInt(1<<63-1, 10)), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Incr(ctx, "max", 1); err == nil || !strings.Contains(err.Error(), "overflows") {
			t.Fatalf("Incr past MaxInt64: %v", err)
		}

		// Atomic across connections.
		if err := d.Set(ctx, "c", []byte("0"), 0); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for range 10 {
			wg.Go(func() {
				for range 10 {
					if _, err := d.Incr(ctx, "c", 1); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if v, _ := d.Get(ctx, "c"); string(v) != "100" {
			t.Fatalf("after 100 concurrent increments: %q", v)
		}
	})
}

// waitExpired polls until key reads as missing.
func waitExpired(t *testing.T, d *dbcache.Driver, key string) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ok, err := d.Has(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has not expired", key)
		}
	}
}

func TestExpiry(t *testing.T) {
	forEachDB(t, func(t *testing.T, dbURL string) {
		d, bdb := newDriver(t, dbURL, dbcache.WithCullEvery(0))
		ctx := context.Background()
		short := 30 * time.Millisecond
		for _, k := range []string{"get", "many", "add", "replace", "touch", "incr", "ttl", "delete"} {
			if err := d.Set(ctx, k, []byte("1"), short); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Set(ctx, "keep", []byte("1"), time.Hour); err != nil {
			t.Fatal(err)
		}
		if ttl, err := d.TTL(ctx, "keep"); err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
			t.Fatalf("TTL = %s, %v", ttl, err)
		}
		waitExpired(t, d, "get")
		waitExpired(t, d, "delete")

		if rows(t, bdb, "kit_cache") != 9 {
			t.Fatalf("expired rows should still be in the table before anything touches them")
		}
		if _, err := d.Get(ctx, "get"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Get expired: %v", err)
		}
		if got, err := d.GetMany(ctx, []string{"many", "keep"}); err != nil || len(got) != 1 {
			t.Fatalf("GetMany with an expired key = %q, %v", got, err)
		}
		if n := rows(t, bdb, "kit_cache"); n != 7 {
			t.Fatalf("%d rows after reading two expired keys, want 7 (deleted when read)", n)
		}
		if ok, err := d.Replace(ctx, "replace", []byte("2"), 0); ok || err != nil {
			t.Fatalf("Replace expired = %v, %v", ok, err)
		}
		if ok, err := d.Touch(ctx, "touch", time.Hour); ok || err != nil {
			t.Fatalf("Touch expired = %v, %v", ok, err)
		}
		if _, err := d.Incr(ctx, "incr", 1); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Incr expired: %v", err)
		}
		if _, err := d.TTL(ctx, "ttl"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("TTL expired: %v", err)
		}
		if ok, err := d.Delete(ctx, "delete"); ok || err != nil {
			t.Fatalf("Delete expired = %v, %v", ok, err)
		}
		if ok, err := d.Add(ctx, "add", []byte("2"), 0); !ok || err != nil {
			t.Fatalf("Add over an expired row = %v, %v", ok, err)
		}
		if v, _ := d.Get(ctx, "add"); string(v) != "2" {
			t.Fatalf("after Add over an expired row: %q", v)
		}
		n, err := d.Cull(ctx)
		if err != nil || n != 5 { // replace, touch, incr, ttl, delete
			t.Fatalf("Cull = %d, %v; want 5", n, err)
		}
		if n := rows(t, bdb, "kit_cache"); n != 2 {
			t.Fatalf("%d rows after Cull, want 2", n)
		}
	})
}

func TestCullEvery(t *testing.T) {
	forEachDB(t, func(t *testing.T, dbURL string) {
		d, bdb := newDriver(t, dbURL, dbcache.WithCullEvery(3))
		ctx := context.Background()
		if err := d.Set(ctx, "old", []byte("1"), time.Millisecond); err != nil {
			t.Fatal(err)
		}
		waitExpired(t, d, "old")
		if err := d.Set(ctx, "a", nil, 0); err != nil { // 2 writes
			t.Fatal(err)
		}
		if err := d.SetMany(ctx, []cache.Item{{Key: "b"}, {Key: "c"}}); err != nil { // 4: cull
			t.Fatal(err)
		}
		for deadline := time.Now().Add(3 * time.Second); rows(t, bdb, "kit_cache") != 3; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the expired row was not culled after 3 writes")
			}
		}
	})
}

func TestClearEscapesLike(t *testing.T) {
	forEachDB(t, func(t *testing.T, dbURL string) {
		d, _ := newDriver(t, dbURL)
		ctx := context.Background()
		keys := []string{"a_%:1", "a_%:2", "abc:1", "a_x:1", "A_%:1", "a!b", "a!!b", "ab", "p%q", "pxq", `b\%1`, `b\x`, "b%2", `b\`}
		for _, k := range keys {
			if err := d.Set(ctx, k, []byte("v"), 0); err != nil {
				t.Fatal(err)
			}
		}
		for _, prefix := range []string{"a_%:", "a!", "p%", `b\%`} {
			if err := d.Clear(ctx, prefix); err != nil {
				t.Fatal(err)
			}
		}
		got, err := d.GetMany(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			_, present := got[k]
			want := !strings.HasPrefix(k, "a_%:") && !strings.HasPrefix(k, "a!") && !strings.HasPrefix(k, "p%") && !strings.HasPrefix(k, `b\%`)
			if present != want {
				t.Errorf("%q present=%v after clearing a_%%:, a! and p%%; want %v", k, present, want)
			}
		}
	})
}

// TestTransaction: inside db.InTx on the same *bun.DB, cache operations join the transaction
// (no second connection waits for the first's lock, which on SQLite would block until
// busy_timeout), and a rollback undoes them.
func TestTransaction(t *testing.T) {
	forEachDB(t, func(t *testing.T, dbURL string) {
		d, bdb := newDriver(t, dbURL)
		ctx := context.Background()
		boom := errors.New("boom")
		err := db.InTx(ctx, bdb, func(ctx context.Context, tx bun.Tx) error {
			if err := d.Set(ctx, "k", []byte("v"), 0); err != nil {
				return err
			}
			if v, err := d.Get(ctx, "k"); err != nil || string(v) != "v" {
				return fmt.Errorf("Get in the transaction = %q, %v", v, err)
			}
			if _, err := d.Incr(ctx, "k", 1); !errors.Is(err, cache.ErrNotInteger) {
				return fmt.Errorf("Incr: %v", err)
			}
			// The failed statement above did not abort the transaction (PostgreSQL would).
			if err := d.Set(ctx, "k2", []byte("v"), 0); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if ok, _ := d.Has(ctx, "k"); ok {
			t.Fatal("a cache write survived the rollback of its transaction")
		}
	})
}

// TestOpenURL opens by URL: the cache's options and the database's share the query.
func TestOpenURL(t *testing.T) {
	forEachDB(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		raw := "dbcache+" + dbURL
		sep := "?"
		if strings.Contains(raw, "?") {
			sep = "&"
		}
		c, err := cache.Open(ctx, raw+sep+"table=my_cache&create_table=true&prefix=a_%25&cull_every=10&max_open_conns=4")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		other, err := cache.Open(ctx, raw+sep+"table=my_cache&prefix=abc")
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		for _, cc := range []*cache.Cache{c, other} {
			if err := cc.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		if ok, _ := c.Has(ctx, "k"); ok {
			t.Fatal("Clear left its own key")
		}
		if ok, _ := other.Has(ctx, "k"); !ok {
			t.Fatal("Clear of prefix a_% removed a key of prefix abc")
		}
		// The portable type enforces the 255-byte limit with the prefix counted.
		if err := c.Set(ctx, strings.Repeat("k", 255), nil, time.Minute); !errors.Is(err, cache.ErrInvalidKey) {
			t.Fatalf("a 255-byte key plus prefix: %v, want ErrInvalidKey", err)
		}
		if err := c.Set(ctx, "ms", []byte("v"), 1500*time.Microsecond); err != nil {
			t.Fatal(err)
		}
		if ttl, err := c.TTL(ctx, "ms"); err != nil && !errors.Is(err, cache.ErrNotFound) || ttl > 2*time.Millisecond {
			t.Fatalf("TTL of a 1.5ms entry = %s, %v", ttl, err)
		}

		_, err = cache.Open(ctx, raw+sep+"tabel=x")
		if err == nil || !strings.Contains(err.Error(), `"tabel": unknown option`) || !strings.Contains(err.Error(), "create_table, cull_every") {
			t.Fatalf("unknown option: %v", err)
		}
		_, err = cache.Open(ctx, raw+sep+"table=bad-name")
		if err == nil || !strings.Contains(err.Error(), "table name") {
			t.Fatalf("bad table name: %v", err)
		}
	})
}

func TestOpenURLErrors(t *testing.T) {
	ctx := context.Background()
	_, err := cache.Open(ctx, "dbcache+sqlite://"+t.TempDir()+"/x.db?cull_every=-1")
	if err == nil || !strings.Contains(err.Error(), "cull_every") {
		t.Fatalf("cull_every=-1: %v", err)
	}
	_, err = cache.Open(ctx, "dbcache+postgres://u:s3cret@127.0.0.1:1/db?connect_timeout=1")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("unreachable database: %v (must fail, without the password)", err)
	}
}

// TestConformance runs kit/cache's suite on each database: by URL (table created on open), each
// cache with a prefix of its own in one table.
func TestConformance(t *testing.T) {
	forEachDB(t, func(t *testing.T, dbURL string) {
		raw := "dbcache+" + dbURL
		if strings.Contains(raw, "?") {
			raw += "&"
		} else {
			raw += "?"
		}
		cachetest.Open(t, raw+"create_table=true") // once, before the parallel subtests
		cachetest.Run(t, func(t *testing.T) *cache.Cache {
			return cachetest.Open(t, raw+"prefix="+cachetest.UniquePrefix())
		})
	})
}
