package cachetest

import (
	"errors"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/cache"
)

// testTTL checks how TTLs are stored and read, without waiting for anything to expire.
func (s *suite) testTTL(t *testing.T) {
	c, caps := s.cache(t)
	ctx := t.Context()

	t.Run("Default", func(t *testing.T) {
		// The cache as opened: DefaultTTL is its default (5m unless configured) or NoExpiry,
		// never "already expired".
		mustSet(t, c, "ttl-default", []byte("x"), cache.DefaultTTL)
		wantValue(t, c, "ttl-default", "x")
		if got, ok := ttlOf(t, c, "ttl-default"); ok && got <= 0 && got != cache.NoExpiry {
			t.Errorf("TTL after Set with DefaultTTL = %v, want the cache's default", got)
		}
		// A cache over the same backend with a default of its own applies that one. It is not
		// closed: it shares c's driver, which c closes.
		custom, err := cache.New(c.Driver(), cache.WithPrefix(UniquePrefix()), cache.WithDefaultTTL(97*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		mustSet(t, custom, "ttl-default-97m", []byte("x"), cache.DefaultTTL)
		wantTTLNear(t, custom, caps, "ttl-default-97m", 97*time.Minute)
		if _, err := custom.Delete(ctx, "ttl-default-97m"); err != nil {
			t.Error(err)
		}
	})

	t.Run("Explicit", func(t *testing.T) {
		mustSet(t, c, "ttl-hour", []byte("x"), time.Hour)
		wantTTLNear(t, c, caps, "ttl-hour", time.Hour)
	})

	t.Run("NoExpiry", func(t *testing.T) {
		mustSet(t, c, "ttl-forever", []byte("x"), cache.NoExpiry)
		wantTTLNear(t, c, caps, "ttl-forever", cache.NoExpiry)
		mustSet(t, c, "ttl-forever", []byte("y"), time.Hour) // a new Set brings a new TTL
		wantTTLNear(t, c, caps, "ttl-forever", time.Hour)
	})

	t.Run("Long", func(t *testing.T) {
		// Memcached reads a TTL over 30 days as a Unix time: sent as is, 90 days would be 1970.
		const days90 = 90 * 24 * time.Hour
		mustSet(t, c, "ttl-90d", []byte("x"), days90)
		wantValue(t, c, "ttl-90d", "x")
		wantTTLNear(t, c, caps, "ttl-90d", days90)
	})

	t.Run("Missing", func(t *testing.T) {
		if d, err := c.TTL(ctx, "never-set"); !errors.Is(err, cache.ErrNotFound) && !errors.Is(err, cache.ErrNotSupported) {
			t.Errorf("TTL of a missing key = %v, %v; want ErrNotFound", d, err)
		}
		if ok, err := c.Touch(ctx, "never-set", time.Hour); ok || err != nil {
			t.Errorf("Touch of a missing key = %v, %v; want false, nil", ok, err)
		}
		wantMissing(t, c, "never-set") // Touch did not create it
	})

	t.Run("Touch", func(t *testing.T) {
		mustSet(t, c, "touch", []byte("x"), time.Minute)
		if ok, err := c.Touch(ctx, "touch", 2*time.Hour); !ok || err != nil {
			t.Fatalf("Touch = %v, %v; want true", ok, err)
		}
		wantTTLNear(t, c, caps, "touch", 2*time.Hour)
		if ok, err := c.Touch(ctx, "touch", cache.NoExpiry); !ok || err != nil {
			t.Fatalf("Touch(NoExpiry) = %v, %v; want true", ok, err)
		}
		wantTTLNear(t, c, caps, "touch", cache.NoExpiry)
		wantValue(t, c, "touch", "x")
	})

	t.Run("Invalid", func(t *testing.T) {
		// A rejected write loses no data: the old value and TTL stay.
		for _, ttl := range []time.Duration{-2, -time.Millisecond, -time.Second, -time.Hour} {
			mustSet(t, c, "ttl-invalid", []byte("old"), time.Hour)
			wantErr := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, cache.ErrInvalidTTL) {
					t.Errorf("%s with TTL %v: %v, want ErrInvalidTTL", op, ttl, err)
				}
			}
			wantErr("Set", c.Set(ctx, "ttl-invalid", []byte("new"), ttl))
			wantErr("SetMany", c.SetMany(ctx, map[string][]byte{"ttl-invalid": []byte("new"), "ttl-invalid-2": []byte("new")}, ttl))
			_, err := c.Add(ctx, "ttl-invalid-3", []byte("new"), ttl)
			wantErr("Add", err)
			_, err = c.Replace(ctx, "ttl-invalid", []byte("new"), ttl)
			wantErr("Replace", err)
			_, err = c.Touch(ctx, "ttl-invalid", ttl)
			wantErr("Touch", err)
			wantValue(t, c, "ttl-invalid", "old")
			wantTTLNear(t, c, caps, "ttl-invalid", time.Hour)
			wantMissing(t, c, "ttl-invalid-2")
			wantMissing(t, c, "ttl-invalid-3")
		}
	})
}

// testExpiry waits for keys to expire. Its subtests run in parallel, each on its own cache, so
// the waits overlap.
func (s *suite) testExpiry(t *testing.T) {
	// setShort sets key to expire soon, and checks it is there first: a write that stored
	// nothing would otherwise pass every expiry test.
	setShort := func(t *testing.T, c *cache.Cache, caps cache.Capabilities, key string) time.Duration {
		t.Helper()
		ttl := shortTTL(caps)
		mustSet(t, c, key, []byte("short-lived"), ttl)
		wantValue(t, c, key, "short-lived")
		return ttl
	}
	parallel := func(name string, fn func(t *testing.T, c *cache.Cache, caps cache.Capabilities)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, caps := s.cache(t)
			fn(t, c, caps)
		})
	}

	parallel("Expires", func(t *testing.T, c *cache.Cache, caps cache.Capabilities) {
		ctx := t.Context()
		ttl := setShort(t, c, caps, "expires")
		waitMissing(t, c, "expires", expiryDeadline(caps, ttl))
		if ok, err := c.Has(ctx, "expires"); ok || err != nil {
			t.Errorf("Has of an expired key = %v, %v; want false", ok, err)
		}
		if d, err := c.TTL(ctx, "expires"); !errors.Is(err, cache.ErrNotFound) && !errors.Is(err, cache.ErrNotSupported) {
			t.Errorf("TTL of an expired key = %v, %v; want ErrNotFound", d, err)
		}
		if n, err := c.Incr(ctx, "expires", 1); !errors.Is(err, cache.ErrNotFound) {
			t.Errorf("Incr of an expired key = %d, %v; want ErrNotFound", n, err)
		}
		if ok, err := c.Touch(ctx, "expires", time.Hour); ok || err != nil {
			t.Errorf("Touch of an expired key = %v, %v; want false", ok, err)
		}
		if ok, err := c.Replace(ctx, "expires", []byte("new"), time.Hour); ok || err != nil {
			t.Errorf("Replace of an expired key = %v, %v; want false", ok, err)
		}
		if ok, err := c.Delete(ctx, "expires"); ok || err != nil {
			t.Errorf("Delete of an expired key = %v, %v; want false", ok, err)
		}
		wantMissing(t, c, "expires")
		if ok, err := c.Add(ctx, "expires", []byte("again"), time.Hour); !ok || err != nil {
			t.Errorf("Add over an expired key = %v, %v; want true", ok, err)
		}
		wantValue(t, c, "expires", "again")
	})

	parallel("BelowResolution", func(t *testing.T, c *cache.Cache, caps cache.Capabilities) {
		// Rounded up to the backend's resolution, never turned into "no expiry".
		mustSet(t, c, "tiny-ttl", []byte("x"), time.Nanosecond)
		waitMissing(t, c, "tiny-ttl", expiryDeadline(caps, caps.TTLResolution))
	})

	parallel("AddReplaceSetMany", func(t *testing.T, c *cache.Cache, caps cache.Capabilities) {
		ctx := t.Context()
		ttl := shortTTL(caps)
		if ok, err := c.Add(ctx, "added", []byte("x"), ttl); !ok || err != nil {
			t.Fatalf("Add = %v, %v", ok, err)
		}
		mustSet(t, c, "replaced", []byte("x"), cache.NoExpiry)
		if ok, err := c.Replace(ctx, "replaced", []byte("y"), ttl); !ok || err != nil {
			t.Fatalf("Replace = %v, %v", ok, err)
		}
		if err := c.SetMany(ctx, map[string][]byte{"many-1": []byte("1"), "many-2": []byte("2")}, ttl); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"added", "replaced", "many-1", "many-2"} {
			waitMissing(t, c, k, expiryDeadline(caps, ttl))
		}
	})

	parallel("IncrKeepsTTL", func(t *testing.T, c *cache.Cache, caps cache.Capabilities) {
		ttl := shortTTL(caps)
		mustSet(t, c, "counter", []byte("1"), ttl)
		if n, err := c.Incr(t.Context(), "counter", 1); n != 2 || err != nil {
			t.Fatalf("Incr = %d, %v; want 2", n, err)
		}
		waitMissing(t, c, "counter", expiryDeadline(caps, ttl))
	})

	parallel("TouchExtends", func(t *testing.T, c *cache.Cache, caps cache.Capabilities) {
		ctx := t.Context()
		ttl := setShort(t, c, caps, "touched")
		setShort(t, c, caps, "touched-forever")
		mustSet(t, c, "reset", []byte("x"), ttl)
		mustSet(t, c, "reset", []byte("y"), cache.NoExpiry) // a Set replaces the TTL too
		// The witness is set last with the same TTL: once it has expired, so would the others.
		setShort(t, c, caps, "witness")
		if ok, err := c.Touch(ctx, "touched", time.Hour); !ok || err != nil {
			t.Fatalf("Touch = %v, %v; want true", ok, err)
		}
		if ok, err := c.Touch(ctx, "touched-forever", cache.NoExpiry); !ok || err != nil {
			t.Fatalf("Touch(NoExpiry) = %v, %v; want true", ok, err)
		}
		waitMissing(t, c, "witness", expiryDeadline(caps, ttl))
		wantValue(t, c, "touched", "short-lived")
		wantValue(t, c, "touched-forever", "short-lived")
		wantValue(t, c, "reset", "y")
		wantTTLNear(t, c, caps, "touched", time.Hour)
		wantTTLNear(t, c, caps, "touched-forever", cache.NoExpiry)
	})

	parallel("TouchShortens", func(t *testing.T, c *cache.Cache, caps cache.Capabilities) {
		mustSet(t, c, "shortened", []byte("x"), time.Hour)
		ttl := shortTTL(caps)
		if ok, err := c.Touch(t.Context(), "shortened", ttl); !ok || err != nil {
			t.Fatalf("Touch = %v, %v; want true", ok, err)
		}
		waitMissing(t, c, "shortened", expiryDeadline(caps, ttl))
	})
}
