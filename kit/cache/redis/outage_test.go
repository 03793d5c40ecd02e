package redis_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/cache"
)

// TestFailOpen stops a private Redis under a fail-open cache: reads become misses and writes are
// skipped, each within fail_timeout (well under a second), while a cache that is not fail-open
// reports the outage; both work again once Redis is back.
func TestFailOpen(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	failOpen := openCache(t, srv.URL(t, "prefix", "app", "fail_open", "true", "fail_timeout", "100ms"))
	strict := openCache(t, srv.URL(t, "prefix", "app"))
	must(t, failOpen.Set(ctx, "k", []byte("v"), time.Minute))
	if v, err := strict.Get(ctx, "k"); err != nil || string(v) != "v" {
		t.Fatalf("Get before the outage = %q, %v", v, err)
	}

	srv.Stop()

	quick := func(what string, fn func() error) error {
		t.Helper()
		start := time.Now()
		err := fn()
		if took := time.Since(start); took >= time.Second {
			t.Errorf("%s took %v during the outage, want < 1s", what, took)
		}
		return err
	}
	for range 3 { // not only the first call: the pool must not get slower once connections failed
		if err := quick("Get", func() error { _, err := failOpen.Get(ctx, "k"); return err }); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("fail-open Get during the outage: %v, want ErrNotFound (a miss)", err)
		}
		if err := quick("Set", func() error { return failOpen.Set(ctx, "k", []byte("w"), time.Minute) }); err != nil {
			t.Fatalf("fail-open Set during the outage: %v, want nil (skipped)", err)
		}
	}
	err := quick("GetMany", func() error {
		got, err := failOpen.GetMany(ctx, "k", "l")
		if err == nil && len(got) != 0 {
			t.Errorf("GetMany during the outage found %v", got)
		}
		return err
	})
	if err != nil {
		t.Fatalf("fail-open GetMany during the outage: %v", err)
	}
	if err := quick("SetMany", func() error { return failOpen.SetMany(ctx, map[string][]byte{"a": nil}, time.Minute) }); err != nil {
		t.Fatalf("fail-open SetMany during the outage: %v", err)
	}
	if err := quick("Delete", func() error { _, err := failOpen.Delete(ctx, "k"); return err }); err != nil {
		t.Fatalf("fail-open Delete during the outage: %v", err)
	}

	// Without fail-open the outage is an error, and not a miss.
	bounded, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := strict.Get(bounded, "k"); err == nil || errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("strict Get during the outage: %v, want an error other than ErrNotFound", err)
	}
	if err := strict.Check()(bounded); err == nil {
		t.Fatal("health check passed during the outage")
	}

	srv.Restart(t)
	eventually(t, 10*time.Second, "caches work again after Redis is back", func() bool {
		if err := failOpen.Set(ctx, "k", []byte("back"), time.Minute); err != nil {
			return false
		}
		v, err := strict.Get(ctx, "k")
		return err == nil && string(v) == "back"
	})
}

// TestSubscriptionOutage stops and restarts a private Redis under an invalidation subscriber: it
// drops everything when the connection goes, keeps trying, drops everything again once
// subscribed anew, and delivers again.
func TestSubscriptionOutage(t *testing.T) {
	srv := startServer(t)
	d := openDriver(t, srv.URL(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := collect(t, ctx, d, "inv")
	must(t, d.PublishInvalidation(ctx, "inv", "o", "k1"))
	if inv := next(t, got); !slices.Equal(inv.keys, []string{"k1"}) {
		t.Fatalf("before the outage: %+v", inv)
	}

	srv.Stop()
	if inv := next(t, got); !inv.all {
		t.Fatalf("when the connection went: %+v, want all", inv)
	}
	srv.Restart(t)
	if inv := next(t, got); !inv.all {
		t.Fatalf("when subscribed again: %+v, want all", inv)
	}
	must(t, d.PublishInvalidation(ctx, "inv", "o", "k2"))
	if inv := next(t, got); inv.all || !slices.Equal(inv.keys, []string{"k2"}) {
		t.Fatalf("after the outage: %+v", inv)
	}
	select {
	case inv := <-got:
		t.Fatalf("unexpected %+v", inv)
	default:
	}
}

// TestPortablePrefixes checks, through the portable type, that Clear of a cache whose prefix has
// glob characters leaves a cache whose keys the unescaped glob would match.
func TestPortablePrefixes(t *testing.T) {
	base := sharedURL(t)
	ns := "kittest_" + randomHex(6)
	ctx := context.Background()
	star := openCache(t, withQuery(t, base, "prefix", ns+"a*"))
	other := openCache(t, withQuery(t, base, "prefix", ns+"ab"))
	t.Cleanup(func() { _ = other.Clear(context.Background()) })
	must(t, star.Set(ctx, "k", []byte("1"), time.Minute))
	must(t, other.Set(ctx, "k", []byte("2"), time.Minute))
	must(t, star.Clear(ctx))
	if _, err := star.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Clear left its own key: %v", err)
	}
	if v, err := other.Get(ctx, "k"); err != nil || string(v) != "2" {
		t.Fatalf("Clear of prefix a* deleted prefix ab's key: %q, %v", v, err)
	}
	if _, ok := star.Driver().(cache.Locker); !ok {
		t.Error("the Redis driver is not a cache.Locker")
	}
}
