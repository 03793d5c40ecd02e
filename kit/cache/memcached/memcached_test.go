package memcached_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/cache"
	"github.com/stackkit/stackkit/kit/cache/cachetest"
	"github.com/stackkit/stackkit/kit/cache/memcached"
)

// server returns the shared test server's address. Tests share it, and other test runs may
// too: every test writes under its own random key prefix and never flushes it.
func server(t *testing.T) string {
	t.Helper()
	return testenv.Get(t, "KIT_TEST_MEMCACHED_ADDR")
}

func unique(t *testing.T) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "kittest-" + hex.EncodeToString(b[:]) + "-"
}

func newDriver(t *testing.T, cfg memcached.Config) *memcached.Driver {
	t.Helper()
	d, err := memcached.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// openCache opens the shared server through the URL, with a prefix of its own.
func openCache(t *testing.T, query string) *cache.Cache {
	t.Helper()
	raw := "memcached://" + server(t) + "?prefix=" + strings.TrimSuffix(unique(t), "-")
	if query != "" {
		raw += "&" + query
	}
	c, err := cache.Open(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestDriver(t *testing.T) {
	d := newDriver(t, memcached.Config{Servers: []string{server(t)}})
	ctx := context.Background()
	p := unique(t)
	k := func(s string) string { return p + s }

	if _, err := d.Get(ctx, k("missing")); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Get missing: %v, want ErrNotFound", err)
	}
	if err := d.Set(ctx, k("a"), []byte("1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := d.Set(ctx, k("empty"), nil, 0); err != nil {
		t.Fatal(err)
	}
	if v, err := d.Get(ctx, k("a")); err != nil || string(v) != "1" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if v, err := d.Get(ctx, k("empty")); err != nil || len(v) != 0 {
		t.Fatalf("Get empty = %q, %v", v, err)
	}

	// GetMany / SetMany
	if err := d.SetMany(ctx, []cache.Item{{Key: k("m1"), Value: []byte("x")}, {Key: k("m2"), Value: []byte("y"), TTL: time.Hour}}); err != nil {
		t.Fatal(err)
	}
	got, err := d.GetMany(ctx, []string{k("m1"), k("m2"), k("m3")})
	if err != nil || len(got) != 2 || string(got[k("m1")]) != "x" || string(got[k("m2")]) != "y" {
		t.Fatalf("GetMany = %q, %v", got, err)
	}

	// Add / Replace
	if ok, err := d.Add(ctx, k("a"), []byte("2"), 0); ok || err != nil {
		t.Fatalf("Add over a present key = %v, %v; want false", ok, err)
	}
	if ok, err := d.Add(ctx, k("b"), []byte("2"), 0); !ok || err != nil {
		t.Fatalf("Add = %v, %v; want true", ok, err)
	}
	if ok, err := d.Replace(ctx, k("c"), []byte("3"), 0); ok || err != nil {
		t.Fatalf("Replace of a missing key = %v, %v; want false", ok, err)
	}
	if ok, err := d.Replace(ctx, k("b"), []byte("3"), 0); !ok || err != nil {
		t.Fatalf("Replace = %v, %v; want true", ok, err)
	}
	if v, _ := d.Get(ctx, k("b")); string(v) != "3" {
		t.Fatalf("after Replace: %q", v)
	}

	// Has / Touch / TTL
	if ok, err := d.Has(ctx, k("b")); !ok || err != nil {
		t.Fatalf("Has = %v, %v", ok, err)
	}
	if ok, err := d.Has(ctx, k("c")); ok || err != nil {
		t.Fatalf("Has missing = %v, %v", ok, err)
	}
	if ok, err := d.Touch(ctx, k("b"), time.Hour); !ok || err != nil {
		t.Fatalf("Touch = %v, %v", ok, err)
	}
	if ok, err := d.Touch(ctx, k("c"), time.Hour); ok || err != nil {
		t.Fatalf("Touch missing = %v, %v", ok, err)
	}
	if _, err := d.TTL(ctx, k("b")); !errors.Is(err, cache.ErrNotSupported) {
		t.Fatalf("TTL: %v, want ErrNotSupported", err)
	}

	// Delete / DeleteMany
	if ok, err := d.Delete(ctx, k("b")); !ok || err != nil {
		t.Fatalf("Delete = %v, %v", ok, err)
	}
	if ok, err := d.Delete(ctx, k("b")); ok || err != nil {
		t.Fatalf("Delete again = %v, %v", ok, err)
	}
	if n, err := d.DeleteMany(ctx, []string{k("m1"), k("m2"), k("m3")}); n != 2 || err != nil {
		t.Fatalf("DeleteMany = %d, %v; want 2", n, err)
	}
	many := make([]string, 40)
	items := make([]cache.Item, len(many))
	for i := range many {
		many[i] = k("many" + strconv.Itoa(i))
		items[i] = cache.Item{Key: many[i], Value: []byte(strconv.Itoa(i))}
	}
	if err := d.SetMany(ctx, items); err != nil {
		t.Fatal(err)
	}
	if got, err := d.GetMany(ctx, many); err != nil || len(got) != len(many) || string(got[many[39]]) != "39" {
		t.Fatalf("GetMany of 40: %d found, %v", len(got), err)
	}
	if n, err := d.DeleteMany(ctx, append(many, k("nope"))); n != len(many) || err != nil {
		t.Fatalf("DeleteMany of 40 = %d, %v", n, err)
	}

	// Bad keys are the portable type's to reject; the driver still maps Memcached's refusal.
	if err := d.Set(ctx, k("has space"), nil, 0); !errors.Is(err, cache.ErrInvalidKey) {
		t.Fatalf("Set with a space: %v, want ErrInvalidKey", err)
	}
}

func TestIncr(t *testing.T) {
	d := newDriver(t, memcached.Config{Servers: []string{server(t)}})
	ctx := context.Background()
	p := unique(t)
	if _, err := d.Incr(ctx, p+"missing", 1); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Incr missing: %v, want ErrNotFound", err)
	}
	if err := d.Set(ctx, p+"n", []byte("10"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if n, err := d.Incr(ctx, p+"n", 5); n != 15 || err != nil {
		t.Fatalf("Incr = %d, %v; want 15", n, err)
	}
	if n, err := d.Incr(ctx, p+"n", -3); n != 12 || err != nil {
		t.Fatalf("Incr -3 = %d, %v; want 12", n, err)
	}
	// Memcached's decr floors at zero: counters are unsigned.
	if n, err := d.Incr(ctx, p+"n", -100); n != 0 || err != nil {
		t.Fatalf("Incr -100 = %d, %v; want 0 (decr floors at 0)", n, err)
	}
	if n, err := d.Incr(ctx, p+"n", -1<<63); n != 0 || err != nil {
		t.Fatalf("Incr MinInt64 = %d, %v; want 0", n, err)
	}
	// decr rewrites the number in place: a shorter result is padded with spaces ("12" -> "0 ").
	if v, _ := d.Get(ctx, p+"n"); strings.TrimRight(string(v), " ") != "0" {
		t.Fatalf("stored %q after Incr, want 0", v)
	}
	for _, bad := range []string{"abc", "-5", "1.5"} {
		if err := d.Set(ctx, p+"s", []byte(bad), time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Incr(ctx, p+"s", 1); !errors.Is(err, cache.ErrNotInteger) {
			t.Errorf("Incr of %q: %v, want ErrNotInteger", bad, err)
		}
	}
	// Incrementing past int64 leaves Memcached's unsigned counter above what Incr can return.
	if err := d.Set(ctx, p+"big", []byte(strconv.FormatInt(1<<63-1, 10)), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Incr(ctx, p+"big", 1); err == nil || !strings.Contains(err.Error(), "beyond int64") {
		t.Fatalf("Incr past int64: %v", err)
	}
}

func TestExpiry(t *testing.T) {
	d := newDriver(t, memcached.Config{Servers: []string{server(t)}})
	ctx := context.Background()
	p := unique(t)

	// A sub-second TTL rounds up to a second instead of meaning "never" (0) or being dropped.
	if err := d.Set(ctx, p+"short", []byte("v"), 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// Over 30 days must travel as an absolute time: sent as relative seconds, Memcached would
	// read it as a moment in 1970 and expire the entry at once.
	if err := d.Set(ctx, p+"long", []byte("v"), 45*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := d.Set(ctx, p+"never", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	got, err := d.GetMany(ctx, []string{p + "short", p + "long", p + "never"})
	if err != nil || len(got) != 3 {
		t.Fatalf("right after Set: %d of 3 present (%v)", len(got), err)
	}
	gone := false
	for deadline := time.Now().Add(4 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if ok, err := d.Has(ctx, p+"short"); err != nil {
			t.Fatal(err)
		} else if !ok {
			gone = true
			break
		}
	}
	if !gone {
		t.Fatal("an entry with a 300ms TTL is still there after 4s")
	}
	if ok, _ := d.Has(ctx, p+"long"); !ok {
		t.Fatal("the 45-day entry expired")
	}
	// Touch with a long TTL keeps the entry too.
	if ok, err := d.Touch(ctx, p+"long", 60*24*time.Hour); !ok || err != nil {
		t.Fatalf("Touch = %v, %v", ok, err)
	}
	if ok, _ := d.Has(ctx, p+"long"); !ok {
		t.Fatal("the entry touched for 60 days expired")
	}
}

func TestClearNotSupported(t *testing.T) {
	c := openCache(t, "")
	if err := c.Clear(context.Background()); !errors.Is(err, cache.ErrNotSupported) {
		t.Fatalf("Clear: %v, want ErrNotSupported", err)
	}
}

// TestFlushOnClear runs on a private server: flush_all empties the whole server.
func TestFlushOnClear(t *testing.T) {
	addr := privateServer(t)
	c, err := cache.Open(context.Background(), "memcached://"+addr+"?prefix=x&flush_on_clear=true")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	other, err := cache.Open(context.Background(), "memcached://"+addr+"?prefix=other")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	for _, cc := range []*cache.Cache{c, other} {
		if err := cc.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	for _, cc := range []*cache.Cache{c, other} {
		if _, err := cc.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("after flush_all: %v, want ErrNotFound (flush_all empties the server, every prefix)", err)
		}
	}
}

// privateServer starts a memcached of this test's own (KIT_TEST_MEMCACHED_BIN) on a free port.
func privateServer(t *testing.T, extra ...string) string {
	t.Helper()
	bin := testenv.Get(t, "KIT_TEST_MEMCACHED_BIN")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	_ = l.Close()
	args := append([]string{"-l", "127.0.0.1", "-p", port, "-U", "0", "-m", "64"}, extra...)
	if os.Geteuid() == 0 { // memcached refuses to run as root
		name := "nobody"
		if _, err := user.Lookup("memcache"); err == nil {
			name = "memcache"
		}
		args = append(args, "-u", name)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("private memcached on %s did not start", addr)
		}
	}
}

func TestPortableKeyRules(t *testing.T) {
	c := openCache(t, "")
	ctx := context.Background()
	for _, key := range []string{"has space", strings.Repeat("k", 250), "tab\there"} {
		if err := c.Set(ctx, key, []byte("v"), time.Minute); !errors.Is(err, cache.ErrInvalidKey) {
			t.Errorf("Set(%.20q...): %v, want ErrInvalidKey", key, err)
		}
	}
	// The longest key that fits with the prefix "kittest-xxxxxxxxxxxx:1:" (23 bytes).
	key := strings.Repeat("k", memcached.MaxKeyLen-23)
	if err := c.Set(ctx, key, []byte("v"), time.Minute); err != nil {
		t.Fatalf("a %d-byte key with its prefix: %v", memcached.MaxKeyLen, err)
	}
	if v, err := c.Get(ctx, key); err != nil || string(v) != "v" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	// The portable type rounds sub-second TTLs up too; TTL is not supported.
	if err := c.Set(ctx, "ttl", []byte("v"), 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TTL(ctx, "ttl"); !errors.Is(err, cache.ErrNotSupported) {
		t.Fatalf("TTL: %v, want ErrNotSupported", err)
	}
}

func TestContext(t *testing.T) {
	// A server that accepts and never answers: the call must end with the context, not after
	// the socket timeout.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	d := newDriver(t, memcached.Config{Servers: []string{l.Addr().String()}, Timeout: 3 * time.Second})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = d.Get(ctx, "k")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get: %v, want DeadlineExceeded", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("Get returned after %s, want about 50ms", el)
	}
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := d.Set(cancelled, "k", nil, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Set with a cancelled ctx: %v", err)
	}
	if _, err := d.DeleteMany(ctx, []string{"a", "b", "c"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("DeleteMany: %v", err)
	}
	if _, err := d.Stats(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stats: %v", err)
	}
}

func TestPingStats(t *testing.T) {
	d := newDriver(t, memcached.Config{Servers: []string{server(t)}})
	ctx := context.Background()
	if err := d.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	stats, err := d.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats["version"] == "" || stats["curr_items"] == "" {
		t.Fatalf("stats lack version or curr_items: %v", stats)
	}
	two := newDriver(t, memcached.Config{Servers: []string{server(t), server(t)}})
	stats, err = two.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprint(must(net.ResolveTCPAddr("tcp", server(t))))
	if stats[addr+"/version"] == "" {
		t.Fatalf("stats of two servers lack %s/version: %v", addr, stats)
	}

	down := newDriver(t, memcached.Config{Servers: []string{freeAddr(t)}, Timeout: 200 * time.Millisecond})
	if err := down.Ping(ctx); err == nil {
		t.Fatal("Ping of a server that is down succeeded")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestConformance(t *testing.T) {
	addr := server(t)
	// The suite stores 1 MiB values, which need memcached -I 2m (the default item size is 1 MiB,
	// overhead included). A shared server without it gets the suite run on a private one.
	d := newDriver(t, memcached.Config{Servers: []string{addr}})
	key := unique(t) + "1MiB"
	if err := d.Set(context.Background(), key, make([]byte, 1<<20), time.Minute); err != nil {
		if !strings.Contains(err.Error(), "too large") {
			t.Fatal(err)
		}
		t.Logf("%s takes no 1 MiB values (start it with -I 2m); running the suite on a private server", addr)
		addr = privateServer(t, "-I", "2m")
	}
	_, _ = d.Delete(context.Background(), key)
	cachetest.Run(t, func(t *testing.T) *cache.Cache {
		return cachetest.Open(t, "memcached://"+addr+"?prefix="+cachetest.UniquePrefix())
	})
}
