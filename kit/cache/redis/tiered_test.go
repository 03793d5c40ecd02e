package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/cache"
)

// TestTiered runs two tiered caches, as two instances of a service would, over the shared Redis:
// a write or delete on one reaches the other's local layer once the invalidation arrives.
func TestTiered(t *testing.T) {
	rawURL := withQuery(t, sharedURL(t), "prefix", "kittest_tiered_"+randomHex(6))
	ctx := context.Background()
	open := func() *cache.Cache {
		shared := openCache(t, rawURL)
		c, err := cache.NewTiered(ctx, shared)
		must(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	a, b := open(), open()
	t.Cleanup(func() { _ = a.Clear(context.Background()) })

	read := func(c *cache.Cache, key string) string {
		v, err := c.Get(ctx, key)
		if errors.Is(err, cache.ErrNotFound) {
			return "<missing>"
		}
		must(t, err)
		return string(v)
	}
	becomes := func(c *cache.Cache, key, want string) {
		t.Helper()
		eventually(t, 5*time.Second, "B reads "+want, func() bool { return read(c, key) == want })
	}

	must(t, a.Set(ctx, "k", []byte("v1"), time.Minute))
	if got := read(b, "k"); got != "v1" { // now in B's local layer
		t.Fatalf("B read %q, want v1", got)
	}
	must(t, a.Set(ctx, "k", []byte("v2"), time.Minute))
	becomes(b, "k", "v2")
	must(t, a.SetMany(ctx, map[string][]byte{"k": []byte("v3"), "l": []byte("w")}, time.Minute))
	becomes(b, "k", "v3")
	if _, err := a.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	becomes(b, "k", "<missing>")

	// Clear on A empties B's local layer too.
	must(t, b.Set(ctx, "m", []byte("x"), time.Minute))
	if got := read(b, "m"); got != "x" {
		t.Fatalf("B read %q, want x", got)
	}
	must(t, a.Clear(ctx))
	becomes(b, "m", "<missing>")
	becomes(b, "l", "<missing>")
}
