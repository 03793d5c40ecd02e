package cache_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/cache"
	"github.com/stackkit/stackkit/kit/cache/cachetest"
)

// memory:// passes the conformance suite every backend passes.
func TestMemoryConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) *cache.Cache { return cachetest.Open(t, "memory://") })
}

func TestMemoryBoundedByEntries(t *testing.T) {
	c := open(t, "memory://?max_entries=100")
	for i := range 1000 {
		if err := c.Set(ctx, fmt.Sprintf("k%d", i), []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	// otter evicts asynchronously, in batches its maintenance runs on later operations: wait
	// (bounded) for the store to come down to its bound, counting with reads that drive it.
	count := func() int {
		n := 0
		for i := range 1000 {
			if ok, _ := c.Has(ctx, fmt.Sprintf("k%d", i)); ok {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	n := count()
	for n > 110 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		n = count()
	}
	if n > 110 {
		t.Errorf("%d of 1000 entries kept with max_entries=100", n)
	}
}
