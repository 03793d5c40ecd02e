package cachetest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/stackkit/stackkit/kit/cache"
)

func (s *suite) testConcurrency(t *testing.T) {
	const goroutines, rounds = 16, 100

	t.Run("Incr", func(t *testing.T) {
		c, caps := s.cache(t)
		if !caps.AtomicIncr {
			t.Skipf("%s: Incr is not atomic (Capabilities.AtomicIncr is false)", caps.Name)
		}
		mustSet(t, c, "hits", []byte("0"), cache.NoExpiry)
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				for range rounds {
					if _, err := c.Incr(t.Context(), "hits", 1); err != nil {
						t.Errorf("Incr: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		if n, err := c.Incr(t.Context(), "hits", 0); n != goroutines*rounds || err != nil {
			t.Errorf("after %d concurrent Incr: %d, %v; want %d", goroutines*rounds, n, err, goroutines*rounds)
		}
	})

	t.Run("SetGet", func(t *testing.T) {
		c, _ := s.cache(t)
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				ctx := t.Context()
				for i := range rounds / 4 {
					key := fmt.Sprintf("g%d-k%d", g, i%5)
					want := []byte(fmt.Sprintf("goroutine %d round %d", g, i))
					if err := c.Set(ctx, key, want, cache.DefaultTTL); err != nil {
						t.Errorf("Set(%q): %v", key, err)
						return
					}
					got, err := c.Get(ctx, key)
					if err != nil || !bytes.Equal(got, want) {
						t.Errorf("Get(%q) = %q, %v; want %q", key, got, err, want)
						return
					}
				}
			})
		}
		wg.Wait()
	})
}
