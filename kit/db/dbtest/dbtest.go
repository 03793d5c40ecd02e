// Package dbtest is kit/db's conformance suite and test support: every database backend runs
// [Run] against a real server in its own tests, and a third-party backend can too.
//
//	func TestConformance(t *testing.T) {
//		dbtest.Run(t, testenv.Get(t, "KIT_TEST_POSTGRES_URL"))
//	}
//
// [NewDatabase] gives each test its own uniquely named database, dropped when the test ends, so
// test runs can overlap on one server.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/db"
	"github.com/uptrace/bun"
)

// NewDatabase creates an empty database with a unique name on the server adminURL points at and
// returns its URL; the database is dropped when the test ends. For SQLite, adminURL is any
// sqlite:// URL and the database is a new file in t.TempDir().
func NewDatabase(t testing.TB, adminURL string) string {
	t.Helper()
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatalf("dbtest: admin URL: %v", err)
	}
	if u.Scheme == "sqlite" {
		return "sqlite://" + filepath.ToSlash(filepath.Join(t.TempDir(), "test.db"))
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "kit_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := db.Open(ctx, adminURL)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("dbtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := db.Open(ctx, adminURL)
		if err != nil {
			t.Errorf("dbtest: drop database %s: %v", name, err)
			return
		}
		defer admin.Close()
		drop := "DROP DATABASE IF EXISTS " + name
		if admin.Dialect().Name().String() == "pg" {
			drop += " WITH (FORCE)" // ends sessions a killed test process left behind
		}
		if _, err := admin.ExecContext(ctx, drop); err != nil {
			t.Errorf("dbtest: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// Open opens rawURL and closes it when the test ends.
func Open(t testing.TB, rawURL string, opts ...db.Option) *bun.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := db.Open(ctx, rawURL, opts...)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// Run runs the conformance suite: opening and options, transactions with savepoints and
// on-commit callbacks, and migrations with locking, drift and failure handling.
func Run(t *testing.T, adminURL string) {
	t.Run("Open", func(t *testing.T) { testOpen(t, adminURL) })
	t.Run("Check", func(t *testing.T) { testCheck(t, adminURL) })
	t.Run("Tx", func(t *testing.T) { testTx(t, adminURL) })
	t.Run("Migrate", func(t *testing.T) { testMigrate(t, adminURL) })
}
