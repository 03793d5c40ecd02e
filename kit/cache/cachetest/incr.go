package cachetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/cache"
)

func (s *suite) testIncr(t *testing.T) {
	c, caps := s.cache(t)
	ctx := t.Context()

	// wantCounter checks the value Get returns after Incr. Memcached may pad a counter that got
	// shorter with trailing spaces (its protocol allows it), which a client sees as-is.
	wantCounter := func(t *testing.T, key, want string) {
		t.Helper()
		v, err := c.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		got := string(v)
		if isMemcached(caps) {
			got = strings.TrimRight(got, " ")
		}
		if got != want {
			t.Errorf("Get(%q) = %q after Incr, want %q", key, v, want)
		}
	}
	incr := func(t *testing.T, key string, delta, want int64) {
		t.Helper()
		n, err := c.Incr(ctx, key, delta)
		if err != nil || n != want {
			t.Fatalf("Incr(%q, %d) = %d, %v; want %d", key, delta, n, err, want)
		}
	}
	decr := func(t *testing.T, key string, delta, want int64) {
		t.Helper()
		n, err := c.Decr(ctx, key, delta)
		if err != nil || n != want {
			t.Fatalf("Decr(%q, %d) = %d, %v; want %d", key, delta, n, err, want)
		}
	}

	t.Run("Missing", func(t *testing.T) {
		if n, err := c.Incr(ctx, "counter-missing", 1); !errors.Is(err, cache.ErrNotFound) {
			t.Errorf("Incr of a missing key = %d, %v; want ErrNotFound", n, err)
		}
		if n, err := c.Decr(ctx, "counter-missing", 1); !errors.Is(err, cache.ErrNotFound) {
			t.Errorf("Decr of a missing key = %d, %v; want ErrNotFound", n, err)
		}
		wantMissing(t, c, "counter-missing") // not created
	})

	t.Run("UpAndDown", func(t *testing.T) {
		mustSet(t, c, "counter", []byte("10"), cache.DefaultTTL)
		incr(t, "counter", 5, 15)
		wantCounter(t, "counter", "15")
		decr(t, "counter", 3, 12)
		incr(t, "counter", 0, 12)
		decr(t, "counter", 3, 9)
		wantCounter(t, "counter", "9")
		incr(t, "counter", 991, 1000)
		wantCounter(t, "counter", "1000")
	})

	t.Run("Large", func(t *testing.T) {
		mustSet(t, c, "counter-large", []byte("9223372036854775800"), cache.DefaultTTL)
		incr(t, "counter-large", 7, 9223372036854775807)
		wantCounter(t, "counter-large", "9223372036854775807")
	})

	t.Run("Negative", func(t *testing.T) {
		if isMemcached(caps) {
			// Memcached counters are unsigned 64-bit: decr stops at 0 and incr takes no negative delta.
			t.Skip("memcached counters cannot go below zero")
		}
		mustSet(t, c, "counter-neg", []byte("5"), cache.DefaultTTL)
		decr(t, "counter-neg", 8, -3)
		wantCounter(t, "counter-neg", "-3")
		incr(t, "counter-neg", -4, -7)
		incr(t, "counter-neg", 10, 3)
		mustSet(t, c, "counter-neg2", []byte("-7"), cache.DefaultTTL)
		incr(t, "counter-neg2", 1, -6)
	})

	t.Run("NotInteger", func(t *testing.T) {
		for _, v := range []string{"abc", "1.5", "12abc", ""} {
			mustSet(t, c, "counter-text", []byte(v), cache.DefaultTTL)
			if n, err := c.Incr(ctx, "counter-text", 1); !errors.Is(err, cache.ErrNotInteger) {
				t.Errorf("Incr of %q = %d, %v; want ErrNotInteger", v, n, err)
			}
			wantValue(t, c, "counter-text", v)
		}
	})

	t.Run("KeepsTTL", func(t *testing.T) {
		mustSet(t, c, "counter-ttl", []byte("1"), time.Hour)
		incr(t, "counter-ttl", 1, 2)
		wantTTLNear(t, c, caps, "counter-ttl", time.Hour)
		mustSet(t, c, "counter-forever", []byte("1"), cache.NoExpiry)
		incr(t, "counter-forever", 1, 2)
		wantTTLNear(t, c, caps, "counter-forever", cache.NoExpiry)
		// That the key still expires after Incr, on backends that cannot read a TTL too, is in
		// the Expiry tests.
	})
}
