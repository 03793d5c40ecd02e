package cachetest

import (
	"errors"
	"testing"

	"github.com/stackkit/stackkit/kit/cache"
)

func (s *suite) testClear(t *testing.T) {
	c, caps := s.cache(t)
	other, _ := s.cache(t)
	ctx := t.Context()

	for _, k := range []string{"a", "b", "shared"} {
		mustSet(t, c, k, []byte("mine"), cache.NoExpiry)
	}
	for _, k := range []string{"shared", "theirs"} {
		mustSet(t, other, k, []byte("theirs"), cache.NoExpiry)
	}
	err := c.Clear(ctx)
	if errors.Is(err, cache.ErrNotSupported) {
		if isMemcached(caps) {
			// Memcached can neither list keys nor delete by prefix; flush_all would empty the
			// whole server, other applications' keys included.
			wantValue(t, other, "theirs", "theirs")
			t.Skip("memcached cannot clear a prefix")
		}
		t.Fatalf("Clear: %v; only memcached may refuse to Clear", err)
	}
	if err != nil {
		t.Fatalf("Clear: %v", err)
	}
	for _, k := range []string{"a", "b", "shared"} {
		wantMissing(t, c, k)
	}
	// Clear of one cache leaves another cache's keys, the same key names included.
	wantValue(t, other, "shared", "theirs")
	wantValue(t, other, "theirs", "theirs")

	// The cache works after Clear, and clearing an empty cache is no error.
	mustSet(t, c, "a", []byte("again"), cache.DefaultTTL)
	wantValue(t, c, "a", "again")
	if err := other.Clear(ctx); err != nil {
		t.Fatalf("Clear of the second cache: %v", err)
	}
	if err := other.Clear(ctx); err != nil {
		t.Errorf("Clear of an empty cache: %v", err)
	}
	wantMissing(t, other, "theirs")
	wantValue(t, c, "a", "again")
}
