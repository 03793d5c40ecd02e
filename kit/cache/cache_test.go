package cache_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/cache"
	"github.com/stackkit/stackkit/kit/registry"
)

var ctx = context.Background()

func open(t *testing.T, url string, opts ...cache.Option) *cache.Cache {
	t.Helper()
	c, err := cache.Open(ctx, url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestOpenOptions(t *testing.T) {
	if _, err := cache.Open(ctx, "memory://?max_entrys=10"); !errors.Is(err, registry.ErrInvalidOption) ||
		!strings.Contains(err.Error(), "max_entries") || !strings.Contains(err.Error(), "default_ttl") {
		t.Errorf("unknown option: %v (want it named, with the valid ones listed)", err)
	}
	if _, err := cache.Open(ctx, "memory://?max_entries=10&max_bytes=1MiB"); err == nil {
		t.Error("both bounds accepted")
	}
	if _, err := cache.Open(ctx, "redsi://localhost"); !errors.Is(err, registry.ErrUnknownScheme) {
		t.Errorf("unknown scheme: %v", err)
	}
	c := open(t, "memory://?default_ttl=none")
	_ = c.Set(ctx, "k", []byte("v"), cache.DefaultTTL)
	if ttl, err := c.TTL(ctx, "k"); err != nil || ttl != cache.NoExpiry {
		t.Errorf("default_ttl=none: TTL = %v, %v", ttl, err)
	}
	c = open(t, "memory://?default_ttl=90s")
	_ = c.Set(ctx, "k", []byte("v"), cache.DefaultTTL)
	if ttl, _ := c.TTL(ctx, "k"); ttl <= 80*time.Second || ttl > 90*time.Second {
		t.Errorf("default_ttl=90s: TTL = %v", ttl)
	}
}

func TestTTLRules(t *testing.T) {
	c := open(t, "memory://")
	if err := c.Set(ctx, "k", []byte("old"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "k", []byte("new"), -5*time.Second); !errors.Is(err, cache.ErrInvalidTTL) {
		t.Fatalf("negative TTL: %v", err)
	}
	if v, _ := c.Get(ctx, "k"); string(v) != "old" {
		t.Errorf("a rejected write changed the value to %q", v)
	}
	if _, err := cache.New(mustMemory(t), cache.WithDefaultTTL(-3)); !errors.Is(err, cache.ErrInvalidTTL) {
		t.Errorf("invalid default TTL: %v", err)
	}
	_ = c.Set(ctx, "forever", []byte("x"), cache.NoExpiry)
	if ttl, _ := c.TTL(ctx, "forever"); ttl != cache.NoExpiry {
		t.Errorf("NoExpiry: TTL = %v", ttl)
	}
	// Expiry happens.
	_ = c.Set(ctx, "short", []byte("x"), 50*time.Millisecond)
	deadline := time.Now().Add(3 * time.Second)
	for {
		if _, err := c.Get(ctx, "short"); errors.Is(err, cache.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("entry did not expire")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustMemory(t *testing.T) cache.Driver {
	d, err := cache.NewMemory(0)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestKeysValidatedNeverMangled(t *testing.T) {
	c := open(t, "memory://")
	for _, k := range []string{"", "a\nb", "tab\there", "nul\x00", strings.Repeat("k", 2000)} {
		if err := c.Set(ctx, k, []byte("v"), 0); !errors.Is(err, cache.ErrInvalidKey) {
			t.Errorf("Set(%q): %v, want ErrInvalidKey", k, err)
		}
	}
	if err := c.Set(ctx, "with space", []byte("v"), 0); err != nil {
		t.Errorf("spaces are fine on memory://: %v", err)
	}
}

// failing is a backend that is down.
type failing struct{ cache.Driver }

var errDown = errors.New("connection refused")

func (failing) Capabilities() cache.Capabilities { return cache.Capabilities{Name: "down"} }
func (failing) Get(context.Context, string) ([]byte, error) {
	return nil, errDown
}
func (failing) GetMany(context.Context, []string) (map[string][]byte, error) { return nil, errDown }
func (failing) Set(context.Context, string, []byte, time.Duration) error     { return errDown }
func (failing) Delete(context.Context, string) (bool, error)                 { return false, errDown }
func (failing) Incr(context.Context, string, int64) (int64, error)           { return 0, errDown }
func (failing) Close() error                                                 { return nil }

// slow is a backend that does not answer.
type slow struct{ failing }

func (slow) Get(ctx context.Context, _ string) ([]byte, error) { <-ctx.Done(); return nil, ctx.Err() }

func TestFailOpen(t *testing.T) {
	quiet := cache.WithLogger(slog.New(slog.DiscardHandler))
	strict, _ := cache.New(failing{}, quiet)
	if _, err := strict.Get(ctx, "k"); !errors.Is(err, errDown) {
		t.Errorf("without fail-open: %v, want the backend's error", err)
	}
	c, _ := cache.New(failing{}, cache.WithFailOpen(50*time.Millisecond), quiet)
	if _, err := c.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("fail-open Get: %v, want a miss", err)
	}
	if m, err := c.GetMany(ctx, "a", "b"); err != nil || len(m) != 0 {
		t.Errorf("fail-open GetMany: %v %v", m, err)
	}
	if err := c.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Errorf("fail-open Set: %v, want skipped", err)
	}
	if _, err := c.Incr(ctx, "k", 1); !errors.Is(err, errDown) {
		t.Errorf("fail-open Incr: %v; a counter must not silently do nothing", err)
	}
	s, _ := cache.New(slow{}, cache.WithFailOpen(50*time.Millisecond), quiet)
	start := time.Now()
	if _, err := s.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) || time.Since(start) > time.Second {
		t.Errorf("hung backend: %v after %s, want a miss within the fail timeout", err, time.Since(start))
	}
	// The caller's own cancellation is not absorbed.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Get(cctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: %v, want context.Canceled", err)
	}
}

type user struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

func TestGetOrSetSingleLoader(t *testing.T) {
	c := open(t, "memory://")
	users := cache.NewTyped[user](c)
	var calls atomic.Int32
	release := make(chan struct{})
	loader := func(context.Context) (user, error) {
		calls.Add(1)
		<-release
		return user{ID: 7, Name: "ada"}, nil
	}
	var wg sync.WaitGroup
	results := make(chan user, 100)
	var started sync.WaitGroup
	started.Add(100)
	for range 100 {
		wg.Go(func() {
			started.Done()
			u, err := users.GetOrSet(ctx, "user:7", time.Minute, loader)
			if err != nil {
				t.Error(err)
			}
			results <- u
		})
	}
	started.Wait()
	close(release)
	wg.Wait()
	close(results)
	for u := range results {
		if u.Name != "ada" {
			t.Fatalf("got %+v", u)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("loader called %d times for 100 concurrent misses, want 1", n)
	}
	if u, err := users.Get(ctx, "user:7"); err != nil || u.ID != 7 {
		t.Errorf("value not stored: %+v %v", u, err)
	}
}

func TestGetOrSetLoaderErrorNotCached(t *testing.T) {
	c := open(t, "memory://")
	n := cache.NewTyped[int](c)
	boom := errors.New("db down")
	if _, err := n.GetOrSet(ctx, "k", 0, func(context.Context) (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if v, err := n.GetOrSet(ctx, "k", 0, func(context.Context) (int, error) { return 42, nil }); err != nil || v != 42 {
		t.Errorf("after a failed load: %v %v", v, err)
	}
}

func TestUndecodableIsMiss(t *testing.T) {
	c := open(t, "memory://")
	_ = c.Set(ctx, "u", []byte("{not json"), 0)
	users := cache.NewTyped[user](c)
	if _, err := users.Get(ctx, "u"); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("undecodable: %v, want a miss", err)
	}
	if ok, _ := c.Has(ctx, "u"); ok {
		t.Error("undecodable value was not deleted")
	}
	u, err := users.GetOrSet(ctx, "u", 0, func(context.Context) (user, error) { return user{ID: 1}, nil })
	if err != nil || u.ID != 1 {
		t.Errorf("GetOrSet over an undecodable value: %+v %v", u, err)
	}
}

func TestEarlyRefresh(t *testing.T) {
	c := open(t, "memory://")
	var loads atomic.Int32
	n := cache.NewTyped[int](c, cache.EarlyRefresh(1))
	loader := func(context.Context) (int, error) {
		loads.Add(1)
		time.Sleep(20 * time.Millisecond) // a slow loader makes XFetch refresh earlier
		return int(loads.Load()), nil
	}
	// A 300ms TTL with a 20ms loader: reads in the last stretch trigger a refresh in the
	// background while still being served the current value.
	if v, _ := n.GetOrSet(ctx, "k", 300*time.Millisecond, loader); v != 1 {
		t.Fatalf("first load = %d", v)
	}
	deadline := time.Now().Add(3 * time.Second)
	for loads.Load() < 2 && time.Now().Before(deadline) {
		v, err := n.GetOrSet(ctx, "k", 300*time.Millisecond, loader)
		if err != nil || v == 0 {
			t.Fatalf("read during refresh: %v %v", v, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if loads.Load() < 2 {
		t.Fatal("no early refresh happened before expiry")
	}
	// The stored bytes carry the refresh envelope and still decode through Get. (Not "k": its
	// refresh may still be storing while the entry expires, which makes Get a miss.)
	if v, err := n.GetOrSet(ctx, "k2", time.Minute, func(context.Context) (int, error) { return 42, nil }); err != nil || v != 42 {
		t.Fatalf("GetOrSet k2: %v %v", v, err)
	}
	if raw, err := c.Get(ctx, "k2"); err != nil || len(raw) < 13 || raw[0] != 0 {
		t.Fatalf("k2 is stored without the refresh envelope: %q %v", raw, err)
	}
	if v, err := n.Get(ctx, "k2"); err != nil || v != 42 {
		t.Errorf("Get of an enveloped value: %v %v", v, err)
	}
}

func TestPrefixAndVersionIsolation(t *testing.T) {
	// Two caches on one shared store: a driver that is not private.
	shared := &sharedMemory{Driver: mustMemory(t)}
	a, _ := cache.New(shared, cache.WithPrefix("a"))
	a2, _ := cache.New(shared, cache.WithPrefix("a"), cache.WithVersion(2))
	b, _ := cache.New(shared, cache.WithPrefix("b"))
	_ = a.Set(ctx, "k", []byte("a1"), 0)
	_ = a2.Set(ctx, "k", []byte("a2"), 0)
	_ = b.Set(ctx, "k", []byte("b1"), 0)
	for c, want := range map[*cache.Cache]string{a: "a1", a2: "a2", b: "b1"} {
		if v, _ := c.Get(ctx, "k"); string(v) != want {
			t.Errorf("got %q, want %q", v, want)
		}
	}
	if err := a.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a2.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
		t.Error("Clear left another version of its own prefix")
	}
	if v, _ := b.Get(ctx, "k"); string(v) != "b1" {
		t.Error("Clear removed another prefix's key")
	}
	if got := fmt.Sprint(shared.keys()); !strings.Contains(got, "b:1:k") {
		t.Errorf("full keys %v, want Django's prefix:version:key", got)
	}
}

// sharedMemory is a memory store presented as shared, with prefix-aware Clear, to test the
// portable type's prefixing without a server.
type sharedMemory struct {
	cache.Driver
	mu   sync.Mutex
	seen map[string]bool
}

func (s *sharedMemory) Capabilities() cache.Capabilities { return cache.Capabilities{Name: "shared"} }
func (s *sharedMemory) Set(ctx context.Context, k string, v []byte, ttl time.Duration) error {
	s.mu.Lock()
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[k] = true
	s.mu.Unlock()
	return s.Driver.Set(ctx, k, v, ttl)
}
func (s *sharedMemory) Clear(ctx context.Context, prefix string) error {
	for _, k := range s.keys() {
		if strings.HasPrefix(k, prefix) {
			_, _ = s.Driver.Delete(ctx, k)
		}
	}
	return nil
}
func (s *sharedMemory) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.seen {
		out = append(out, k)
	}
	return out
}

func TestDummy(t *testing.T) {
	c := open(t, "dummy://")
	if err := c.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("dummy stored something: %v", err)
	}
}

func TestClosed(t *testing.T) {
	c, _ := cache.Open(ctx, "memory://")
	_ = c.Close()
	if _, err := c.Get(ctx, "k"); !errors.Is(err, cache.ErrClosed) {
		t.Errorf("Get after Close: %v", err)
	}
}
