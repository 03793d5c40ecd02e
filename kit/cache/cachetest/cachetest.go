// Package cachetest is kit/cache's conformance suite: every cache backend runs [Run] in its own
// tests, against a real server for network backends, and a third-party backend can too.
//
//	func TestConformance(t *testing.T) {
//		url := testenv.Get(t, "KIT_TEST_REDIS_URL")
//		cachetest.Run(t, func(t *testing.T) *cache.Cache {
//			return cachetest.Open(t, url, cache.WithPrefix(cachetest.UniquePrefix()))
//		})
//	}
//
// open must return a Cache that shares no keys with any other Cache it returned: on a shared
// server, give each one a unique prefix ([UniquePrefix]). It is called from parallel subtests, and
// must close the Cache when the test ends ([Open] does). The Cache must not be fail-open: the
// suite checks errors.
//
// What a backend must do to pass, beyond the obvious:
//
//   - Misses are ErrNotFound (Get, Incr, TTL) or false (Add, Replace, Delete, Touch, Has); an
//     expired key is a miss for every operation, and Add may store over it.
//   - Values are stored byte for byte, empty and 1 MiB ones included (Memcached needs -I 2m for
//     that).
//   - Keys are case-sensitive, stored as given, and an invalid key (empty, too long, with a control
//     character, or with a space on backends that forbid them) is ErrInvalidKey with nothing stored.
//   - A TTL shorter than the backend's resolution is rounded up, never "no expiry"; a TTL longer
//     than 30 days is still relative (Memcached reads those as Unix times). Incr keeps the TTL; a
//     rejected TTL (ErrInvalidTTL) leaves the old value and TTL intact. A backend that cannot read
//     TTLs returns ErrNotSupported from TTL, and the suite then checks expiry through Get only.
//   - Incr is ErrNotFound on a missing key (which it does not create) and ErrNotInteger on a value
//     that is not a decimal integer (which it leaves alone). When Capabilities().AtomicIncr is
//     true, concurrent increments are never lost.
//   - Clear removes this Cache's keys and no others. A backend that cannot remove only one prefix
//     must return ErrNotSupported rather than clear more; the suite accepts that from Memcached
//     alone, which has no way to list or delete by prefix.
//   - Every operation given a cancelled context fails with an error wrapping context.Canceled and
//     does nothing, on every backend, in-process ones included: code tested against memory://
//     must not start failing differently against redis://. The Cache stays usable afterwards.
//
// Tests that wait for expiry poll with a deadline instead of sleeping, and run in parallel, so the
// suite takes a few seconds whatever the number of expiry cases.
package cachetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/cache"
)

// Run runs the conformance suite against the caches open returns.
func Run(t *testing.T, open func(t *testing.T) *cache.Cache) {
	s := &suite{open: open}
	t.Run("Values", s.testValues)
	t.Run("Conditional", s.testConditional)
	t.Run("Delete", s.testDelete)
	t.Run("Many", s.testMany)
	t.Run("Incr", s.testIncr)
	t.Run("TTL", s.testTTL)
	t.Run("Expiry", s.testExpiry)
	t.Run("Keys", s.testKeys)
	t.Run("Clear", s.testClear)
	t.Run("Context", s.testContext)
	t.Run("Concurrency", s.testConcurrency)
}

// Open opens rawURL and closes the Cache when the test ends.
func Open(t testing.TB, rawURL string, opts ...cache.Option) *cache.Cache {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := cache.Open(ctx, rawURL, opts...)
	if err != nil {
		t.Fatalf("cachetest: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// UniquePrefix returns a key prefix no other call returns, for isolating caches on a shared server.
func UniquePrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "kit_test_" + hex.EncodeToString(b[:])
}

type suite struct {
	open func(t *testing.T) *cache.Cache
}

// cache opens a fresh cache for t and returns it with its backend's capabilities.
func (s *suite) cache(t *testing.T) (*cache.Cache, cache.Capabilities) {
	t.Helper()
	c := s.open(t)
	if c == nil {
		t.Fatal("cachetest: open returned a nil Cache")
	}
	return c, c.Driver().Capabilities()
}

func isMemcached(caps cache.Capabilities) bool { return caps.Name == "memcached" }

// maxKeyLen is the longest full key the backend accepts, as the portable type applies it.
func maxKeyLen(caps cache.Capabilities) int {
	if caps.MaxKeyLen > 0 {
		return caps.MaxKeyLen
	}
	return 1024
}

// shortTTL is the shortest TTL after which a value reliably reads back once before expiring:
// Memcached counts whole seconds from a clock that ticks once a second, so a 1s TTL can end
// within milliseconds there.
func shortTTL(caps cache.Capabilities) time.Duration {
	if caps.TTLResolution >= time.Second {
		return 2 * caps.TTLResolution
	}
	return time.Second
}

// expiryDeadline is how long after a write with ttl the key must have expired: a backend may
// drop expired keys lazily or on a clock tick, but not seconds late.
func expiryDeadline(caps cache.Capabilities, ttl time.Duration) time.Duration {
	return ttl + caps.TTLResolution + 5*time.Second
}

func mustSet(t *testing.T, c *cache.Cache, key string, value []byte, ttl time.Duration) {
	t.Helper()
	if err := c.Set(t.Context(), key, value, ttl); err != nil {
		t.Fatalf("Set(%q, ttl %v): %v", key, ttl, err)
	}
}

// wantValue checks that key holds want.
func wantValue(t *testing.T, c *cache.Cache, key, want string) {
	t.Helper()
	v, err := c.Get(t.Context(), key)
	if err != nil {
		t.Errorf("Get(%q): %v, want %q", key, err, want)
		return
	}
	if string(v) != want {
		t.Errorf("Get(%q) = %q, want %q", key, v, want)
	}
}

// wantMissing checks that key is a miss.
func wantMissing(t *testing.T, c *cache.Cache, key string) {
	t.Helper()
	v, err := c.Get(t.Context(), key)
	if !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Get(%q) = %q, %v; want ErrNotFound", shorten(key), v, err)
	}
}

// waitMissing polls until key is a miss, failing when it is still there after within.
func waitMissing(t *testing.T, c *cache.Cache, key string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := c.Get(t.Context(), key)
		if errors.Is(err, cache.ErrNotFound) {
			return
		}
		if err != nil {
			t.Fatalf("Get(%q) while waiting for expiry: %v", key, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q still present %v after it was set to expire", key, within)
		}
		select {
		case <-tick.C:
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		}
	}
}

// ttlOf returns key's TTL, or ok=false when the backend cannot read TTLs.
func ttlOf(t *testing.T, c *cache.Cache, key string) (ttl time.Duration, ok bool) {
	t.Helper()
	ttl, err := c.TTL(t.Context(), key)
	if errors.Is(err, cache.ErrNotSupported) {
		return 0, false
	}
	if err != nil {
		t.Fatalf("TTL(%q): %v", key, err)
	}
	return ttl, true
}

// wantTTLNear checks that key's TTL is want, less the time a test takes to get there.
func wantTTLNear(t *testing.T, c *cache.Cache, caps cache.Capabilities, key string, want time.Duration) {
	t.Helper()
	got, ok := ttlOf(t, c, key)
	if !ok {
		return
	}
	if want == cache.NoExpiry {
		if got != cache.NoExpiry {
			t.Errorf("TTL(%q) = %v, want NoExpiry", key, got)
		}
		return
	}
	if got > want+caps.TTLResolution || got < want-5*time.Second-caps.TTLResolution {
		t.Errorf("TTL(%q) = %v, want about %v", key, got, want)
	}
}

func shorten(s string) string {
	if len(s) > 40 {
		return s[:20] + "…" + s[len(s)-10:] + " (" + strconv.Itoa(len(s)) + " bytes)"
	}
	return s
}
