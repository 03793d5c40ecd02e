package cachetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/cache"
)

// testContext checks that a cancelled context stops every operation, on every backend.
// In-process backends could ignore it, since they do not block, but then code tested against
// memory:// would start failing differently against redis://: the portable type checks the
// context before calling the driver, so a backend only has to honour it while it waits.
func (s *suite) testContext(t *testing.T) {
	c, caps := s.cache(t)
	mustSet(t, c, "present", []byte("old"), cache.NoExpiry)
	mustSet(t, c, "counter", []byte("1"), cache.NoExpiry)

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want an error wrapping context.Canceled", op, err)
		}
	}
	_, err := c.Get(cancelled, "present")
	check("Get", err)
	_, err = c.GetMany(cancelled, "present", "counter")
	check("GetMany", err)
	check("Set", c.Set(cancelled, "present", []byte("new"), cache.NoExpiry))
	check("Set", c.Set(cancelled, "absent", []byte("new"), cache.NoExpiry))
	check("SetMany", c.SetMany(cancelled, map[string][]byte{"present": []byte("new")}, cache.NoExpiry))
	_, err = c.Add(cancelled, "absent", []byte("new"), cache.NoExpiry)
	check("Add", err)
	_, err = c.Replace(cancelled, "present", []byte("new"), cache.NoExpiry)
	check("Replace", err)
	_, err = c.Delete(cancelled, "present")
	check("Delete", err)
	_, err = c.DeleteMany(cancelled, "present", "counter")
	check("DeleteMany", err)
	_, err = c.Incr(cancelled, "counter", 1)
	check("Incr", err)
	_, err = c.Decr(cancelled, "counter", 1)
	check("Decr", err)
	_, err = c.Touch(cancelled, "present", time.Second)
	check("Touch", err)
	_, err = c.Has(cancelled, "present")
	check("Has", err)
	_, err = c.TTL(cancelled, "present")
	if !errors.Is(err, cache.ErrNotSupported) {
		check("TTL", err)
	}
	if err := c.Clear(cancelled); !(isMemcached(caps) && errors.Is(err, cache.ErrNotSupported)) {
		check("Clear", err)
	}

	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	_, err = c.Get(expired, "present")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get with an expired deadline: %v, want an error wrapping context.DeadlineExceeded", err)
	}

	// Nothing happened, and the cache still works: a network backend must not have left a
	// half-used connection in its pool.
	wantValue(t, c, "present", "old")
	wantValue(t, c, "counter", "1")
	wantMissing(t, c, "absent")
	if n, err := c.Incr(t.Context(), "counter", 1); n != 2 || err != nil {
		t.Errorf("Incr after the cancelled calls = %d, %v; want 2", n, err)
	}
}
