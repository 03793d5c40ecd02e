package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/cache"
	"github.com/stackkit/stackkit/kit/cache/cachetest"
)

// TestConformance runs kit/cache's conformance suite on the shared Redis, each cache under a
// prefix of its own, cleared when its test ends.
func TestConformance(t *testing.T) {
	base := sharedURL(t)
	runConformance(t, func(t *testing.T, prefix string) string { return withQuery(t, base, "prefix", prefix) })
}

// runConformance runs the suite on the caches at cacheURL(t, prefix), one unique prefix each.
func runConformance(t *testing.T, cacheURL func(t *testing.T, prefix string) string) {
	cachetest.Run(t, func(t *testing.T) *cache.Cache {
		c := cachetest.Open(t, cacheURL(t, cachetest.UniquePrefix()))
		t.Cleanup(func() { // runs before cachetest.Open's Close
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := c.Clear(ctx); err != nil {
				t.Logf("clear after the test: %v", err)
			}
		})
		return c
	})
}
