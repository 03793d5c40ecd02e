package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/kit/db"
	"github.com/stackkit/stackkit/kit/db/dbtest"
	_ "github.com/stackkit/stackkit/kit/db/sqlite"
)

func TestConformance(t *testing.T) {
	dbtest.Run(t, "sqlite://")
}

func TestURLForms(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Chdir(dir)
	for _, tc := range []struct{ url, file string }{
		{"sqlite://rel/sub/app.db", filepath.Join(dir, "rel/sub/app.db")},
		{"sqlite://plain.db", filepath.Join(dir, "plain.db")},
		{"sqlite://" + filepath.ToSlash(filepath.Join(dir, "abs.db")), filepath.Join(dir, "abs.db")},
	} {
		d, err := db.Open(ctx, tc.url)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		var journal string
		var busy, fk int
		for pragma, dest := range map[string]any{"journal_mode": &journal, "busy_timeout": &busy, "foreign_keys": &fk} {
			if err := d.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(dest); err != nil {
				t.Fatalf("PRAGMA %s: %v", pragma, err)
			}
		}
		if journal != "wal" || busy != 5000 || fk != 1 {
			t.Errorf("%s: journal_mode=%s busy_timeout=%d foreign_keys=%d, want wal 5000 1", tc.url, journal, busy, fk)
		}
		_ = d.Close()
		if _, err := os.Stat(tc.file); err != nil {
			t.Errorf("%s: database file not where expected: %v", tc.url, err)
		}
	}
}

func TestMemory(t *testing.T) {
	ctx := context.Background()
	d := dbtest.Open(t, "sqlite://:memory:?busy_timeout=1s")
	if _, err := d.ExecContext(ctx, "CREATE TABLE m (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	// Every query must reach the same in-memory database, however the pool is used.
	for range 5 {
		if _, err := d.ExecContext(ctx, "INSERT INTO m VALUES (1)"); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := d.QueryRowContext(ctx, "SELECT count(*) FROM m").Scan(&n); err != nil || n != 5 {
		t.Fatalf("count = %d, %v", n, err)
	}
	// A second handle is a different database.
	other := dbtest.Open(t, "sqlite://:memory:")
	if err := other.QueryRowContext(ctx, "SELECT count(*) FROM m").Scan(&n); err == nil {
		t.Error("two :memory: handles share a database")
	}
	for _, opt := range []string{"max_open_conns=4", "max_idle_conns=0", "conn_max_lifetime=1m"} {
		name, _, _ := strings.Cut(opt, "=")
		if _, err := db.Open(ctx, "sqlite://:memory:?"+opt); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s on :memory: = %v, want an error naming it", opt, err)
		}
	}
}

func TestOptions(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "o.db")
	d := dbtest.Open(t, "sqlite://"+path+"?journal_mode=delete&foreign_keys=false&busy_timeout=250ms&synchronous=full")
	var journal string
	var busy, fk, sync int
	for pragma, dest := range map[string]any{"journal_mode": &journal, "busy_timeout": &busy, "foreign_keys": &fk, "synchronous": &sync} {
		if err := d.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(dest); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
	}
	if journal != "delete" || busy != 250 || fk != 0 || sync != 2 {
		t.Errorf("journal_mode=%s busy_timeout=%d foreign_keys=%d synchronous=%d, want delete 250 0 2", journal, busy, fk, sync)
	}
	if _, err := db.Open(ctx, "sqlite://"+path+"?journal_mode=wall"); err == nil || !strings.Contains(err.Error(), "journal_mode") {
		t.Errorf("bad journal_mode: %v", err)
	}
	if _, err := db.Open(ctx, "sqlite://"); err == nil || !strings.Contains(err.Error(), "no database file") {
		t.Errorf("empty path: %v", err)
	}
}
