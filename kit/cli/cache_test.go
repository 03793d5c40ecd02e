package cli_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/cache"
	"github.com/stackkit/stackkit/kit/cache/dbcache"
	"github.com/stackkit/stackkit/kit/db/dbtest"
)

func uniquePrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "kitctl-" + hex.EncodeToString(b[:])
}

func TestCacheClearKeepsOtherPrefixes(t *testing.T) {
	ctx := context.Background()
	base := testenv.Get(t, "KIT_TEST_REDIS_URL")
	mine, other := base+"?prefix="+uniquePrefix(), base+"?prefix="+uniquePrefix()
	a, err := cache.Open(ctx, mine)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := cache.Open(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	defer b.Clear(ctx)
	_ = a.Set(ctx, "k", []byte("a"), 0)
	_ = b.Set(ctx, "k", []byte("b"), 0)

	r := kitctl(t, []string{"cache", "clear", "--cache-url", mine})
	if r.code != 0 || !strings.Contains(r.stdout, "cleared redis://") {
		t.Fatalf("cache clear: %+v", r)
	}
	if _, err := a.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("clear left this prefix's key: %v", err)
	}
	if v, err := b.Get(ctx, "k"); err != nil || string(v) != "b" {
		t.Errorf("clear touched another prefix: %q %v", v, err)
	}

	if r := kitctl(t, []string{"cache", "stats", "--cache-url", mine}); r.code != 0 || !strings.Contains(r.stdout, "backend") {
		t.Errorf("cache stats on redis: %+v", r)
	}
	if r := kitctl(t, []string{"cache", "stats", "--cache-url", "memory://"}); r.code != 1 || !strings.Contains(r.stderr, "keeps no statistics") {
		t.Errorf("cache stats on memory: %+v", r)
	}
}

func TestCacheCreateTable(t *testing.T) {
	ctx := context.Background()
	dbURL := "sqlite://" + filepath.ToSlash(filepath.Join(t.TempDir(), "c.db"))
	r := kitctl(t, []string{"cache", "createtable", "--database-url", dbURL, "--table", "page_cache"})
	if r.code != 0 || !strings.Contains(r.stdout, "cache table page_cache ready") {
		t.Fatalf("createtable: %+v", r)
	}
	// Idempotent, as deploy scripts run it every time.
	if r := kitctl(t, []string{"cache", "createtable", "--database-url", dbURL, "--table", "page_cache"}); r.code != 0 {
		t.Fatalf("second createtable: %+v", r)
	}
	d, err := dbcache.New(dbtest.Open(t, dbURL), dbcache.WithTable("page_cache"))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := cache.New(d)
	if err := c.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatalf("the created table does not work: %v", err)
	}
	if r := kitctl(t, []string{"cache", "createtable", "--database-url", dbURL, "--table", " "}); r.code != 2 {
		t.Errorf("empty table name: exit %d, want 2", r.code)
	}
}
