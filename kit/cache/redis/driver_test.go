package redis_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stackkit/stackkit/kit/cache"
	"github.com/stackkit/stackkit/kit/cache/redis"
)

// TestDriver runs the driver-level tests against the shared Redis.
func TestDriver(t *testing.T) {
	base := sharedURL(t)
	runDriverTests(t, func(t *testing.T) *redis.Driver { return openDriver(t, base) })
}

// runDriverTests checks every Driver method; the Cluster test runs it too.
func runDriverTests(t *testing.T, open func(t *testing.T) *redis.Driver) {
	tests := []struct {
		name string
		fn   func(t *testing.T, d *redis.Driver, ns string)
	}{
		{"GetSetDelete", testGetSetDelete},
		{"TTL", testTTL},
		{"Expiry", testExpiry},
		{"AddReplace", testAddReplace},
		{"ManyOneRoundTrip", testManyOneRoundTrip},
		{"Incr", testIncr},
		{"IncrConcurrent", testIncrConcurrent},
		{"Touch", testTouch},
		{"Clear", testClear},
		{"Lock", testLock},
		{"Invalidation", testInvalidation},
		{"Stats", testStats},
		{"Closed", testClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			tt.fn(t, d, namespace(t, d))
		})
	}
}

func testGetSetDelete(t *testing.T, d *redis.Driver, ns string) {
	ctx := context.Background()
	must(t, d.Ping(ctx))
	if _, err := d.Get(ctx, ns+"missing"); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Get missing: %v, want ErrNotFound", err)
	}
	if ok, err := d.Has(ctx, ns+"k"); err != nil || ok {
		t.Fatalf("Has before Set = %v, %v", ok, err)
	}
	must(t, d.Set(ctx, ns+"k", []byte("v\x00\xff binary"), 0))
	got, err := d.Get(ctx, ns+"k")
	if err != nil || string(got) != "v\x00\xff binary" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if ok, err := d.Has(ctx, ns+"k"); err != nil || !ok {
		t.Fatalf("Has after Set = %v, %v", ok, err)
	}
	must(t, d.Set(ctx, ns+"empty", []byte{}, time.Minute))
	if got, err := d.Get(ctx, ns+"empty"); err != nil || len(got) != 0 {
		t.Fatalf("Get empty value = %q, %v", got, err)
	}
	if ok, err := d.Delete(ctx, ns+"k"); err != nil || !ok {
		t.Fatalf("Delete existing = %v, %v", ok, err)
	}
	if ok, err := d.Delete(ctx, ns+"k"); err != nil || ok {
		t.Fatalf("Delete missing = %v, %v", ok, err)
	}
	if _, err := d.Get(ctx, ns+"k"); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
	if caps := d.Capabilities(); caps.Name != "redis" || !caps.AtomicIncr || caps.TTLResolution != time.Millisecond || caps.MaxKeyLen < 1024 || caps.Private {
		t.Errorf("Capabilities = %+v", caps)
	}
}

func testTTL(t *testing.T, d *redis.Driver, ns string) {
	ctx := context.Background()
	// PTTL -2 (missing) is ErrNotFound.
	if _, err := d.TTL(ctx, ns+"missing"); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("TTL missing: %v, want ErrNotFound", err)
	}
	// PTTL -1 (no expiry) is 0, for keys written by the driver and by anyone else.
	must(t, d.Set(ctx, ns+"forever", []byte("1"), 0))
	must(t, d.Client().Set(ctx, ns+"raw", "1", 0).Err())
	for _, k := range []string{"forever", "raw"} {
		if ttl, err := d.TTL(ctx, ns+k); err != nil || ttl != 0 {
			t.Fatalf("TTL of %s without expiry = %v, %v; want 0", k, ttl, err)
		}
	}
	must(t, d.Set(ctx, ns+"minute", []byte("1"), time.Minute))
	if ttl, err := d.TTL(ctx, ns+"minute"); err != nil || ttl <= 55*time.Second || ttl > time.Minute {
		t.Fatalf("TTL = %v, %v; want about 1m", ttl, err)
	}
	// Millisecond precision: a sub-second TTL is not rounded to seconds, and a fraction of a
	// millisecond is rounded up, never down to "no expiry".
	must(t, d.Set(ctx, ns+"short", []byte("1"), 1500*time.Millisecond))
	if ms, err := d.Client().PTTL(ctx, ns+"short").Result(); err != nil || ms <= time.Second || ms > 1500*time.Millisecond {
		t.Fatalf("PTTL after Set 1.5s = %v, %v", ms, err)
	}
	must(t, d.Set(ctx, ns+"tiny", []byte("1"), 300*time.Microsecond+time.Hour))
	if ms, err := d.Client().PTTL(ctx, ns+"tiny").Result(); err != nil || ms <= time.Hour-time.Second || ms > time.Hour+time.Millisecond {
		t.Fatalf("PTTL after Set 1h0.3ms = %v, %v", ms, err)
	}
	// Set without TTL over a key with one removes the TTL (SET semantics).
	must(t, d.Set(ctx, ns+"minute", []byte("2"), 0))
	if ttl, err := d.TTL(ctx, ns+"minute"); err != nil || ttl != 0 {
		t.Fatalf("TTL after Set with 0 = %v, %v; want 0", ttl, err)
	}
}

func testExpiry(t *testing.T, d *redis.Driver, ns string) {
	ctx := context.Background()
	must(t, d.Set(ctx, ns+"k", []byte("v"), 50*time.Millisecond))
	ok, err := d.Add(ctx, ns+"added", []byte("v"), 50*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("Add = %v, %v", ok, err)
	}
	eventually(t, 5*time.Second, "keys with a 50ms TTL expire", func() bool {
		_, err1 := d.Get(ctx, ns+"k")
		_, err2 := d.Get(ctx, ns+"added")
		return errors.Is(err1, cache.ErrNotFound) && errors.Is(err2, cache.ErrNotFound)
	})
}

func testAddReplace(t *testing.T, d *redis.Driver, ns string) {
	ctx := context.Background()
	if ok, err := d.Replace(ctx, ns+"k", []byte("r"), time.Minute); err != nil || ok {
		t.Fatalf("Replace missing = %v, %v; want false", ok, err)
	}
	if ok, _ := d.Has(ctx, ns+"k"); ok {
		t.Fatal("Replace created a missing key")
	}
	if ok, err := d.Add(ctx, ns+"k", []byte("a"), time.Minute); err != nil || !ok {
		t.Fatalf("Add missing = %v, %v; want true", ok, err)
	}
	if ttl, err := d.TTL(ctx, ns+"k"); err != nil || ttl <= 0 {
		t.Fatalf("TTL after Add = %v, %v", ttl, err)
	}
	if ok, err := d.Add(ctx, ns+"k", []byte("b"), 0); err != nil || ok {
		t.Fatalf("Add existing = %v, %v; want false", ok, err)
	}
	if v, _ := d.Get(ctx, ns+"k"); string(v) != "a" {
		t.Fatalf("Add overwrote: %q", v)
	}
	if ok, err := d.Replace(ctx, ns+"k", []byte("r"), 0); err != nil || !ok {
		t.Fatalf("Replace existing = %v, %v; want true", ok, err)
	}
	if v, _ := d.Get(ctx, ns+"k"); string(v) != "r" {
		t.Fatalf("after Replace: %q", v)
	}
	if ttl, err := d.TTL(ctx, ns+"k"); err != nil || ttl != 0 {
		t.Fatalf("TTL after Replace with 0 = %v, %v; want 0", ttl, err)
	}
}

// testManyOneRoundTrip checks SetMany, GetMany and DeleteMany each cost one round trip, counted
// by a go-redis hook (a single MGET/UNLINK, or one pipeline).
func testManyOneRoundTrip(t *testing.T, d *redis.Driver, ns string) {
	ctx := context.Background()
	counter := &callCounter{}
	d.Client().AddHook(counter)
	// Open a connection in both of go-redis' pools (commands, pipelines) before counting, so
	// connection setup (HELLO, CLIENT SETINFO) is not counted against the operations.
	must(t, d.Ping(ctx))
	_, err := d.Client().Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i := range 100 { // keys on every node of a Cluster
			p.Get(ctx, ns+"warm-up:"+strconv.Itoa(i))
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		t.Fatal(err)
	}

	const n = 100
	items := make([]cache.Item, n)
	keys := make([]string, 0, n+5)
	for i := range items {
		ttl := time.Duration(0)
		if i%2 == 1 {
			ttl = time.Minute
		}
		items[i] = cache.Item{Key: fmt.Sprintf("%sk%03d", ns, i), Value: []byte("value-" + strconv.Itoa(i)), TTL: ttl}
		keys = append(keys, items[i].Key)
	}
	for i := range 5 {
		keys = append(keys, fmt.Sprintf("%smissing%d", ns, i))
	}

	counter.reset()
	must(t, d.SetMany(ctx, items))
	cmds, pipes, trips := counter.calls()
	if trips != 1 || len(pipes) != 1 || len(pipes[0]) != n {
		t.Errorf("SetMany: %d round trips (commands %v, pipelines of %v); want one pipeline of %d SETs", trips, cmds, pipeLens(pipes), n)
	}

	counter.reset()
	got, err := d.GetMany(ctx, keys)
	must(t, err)
	cmds, pipes, trips = counter.calls()
	if trips != 1 {
		t.Errorf("GetMany: %d round trips (commands %v, pipelines of %v); want 1", trips, cmds, pipeLens(pipes))
	}
	if len(got) != n {
		t.Fatalf("GetMany found %d keys, want %d", len(got), n)
	}
	for _, it := range items {
		if string(got[it.Key]) != string(it.Value) {
			t.Fatalf("GetMany[%s] = %q, want %q", it.Key, got[it.Key], it.Value)
		}
	}
	for i, it := range items[:4] {
		ttl, err := d.TTL(ctx, it.Key)
		if err != nil || (i%2 == 0) != (ttl == 0) {
			t.Fatalf("TTL of SetMany item %d = %v, %v", i, ttl, err)
		}
	}
	if got, err := d.GetMany(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("GetMany() = %v, %v", got, err)
	}

	counter.reset()
	deleted, err := d.DeleteMany(ctx, keys)
	must(t, err)
	cmds, pipes, trips = counter.calls()
	if trips != 1 {
		t.Errorf("DeleteMany: %d round trips (commands %v, pipelines of %v); want 1", trips, cmds, pipeLens(pipes))
	}
	if deleted != n {
		t.Fatalf("DeleteMany = %d, want %d (the 5 missing keys do not count)", deleted, n)
	}
	if got, _ := d.GetMany(ctx, keys); len(got) != 0 {
		t.Fatalf("after DeleteMany, GetMany found %d keys", len(got))
	}
	if n, err := d.DeleteMany(ctx, nil); err != nil || n != 0 {
		t.Fatalf("DeleteMany() = %d, %v", n, err)
	}
}

func pipeLens(pipes [][]string) []int {
	lens := make([]int, len(pipes))
	for i, p := range pipes {
		lens[i] = len(p)
	}
	return lens
}

func testIncr(t *testing.T, d *redis.Driver, ns string) {
	ctx := context.Background()
	if _, err := d.Incr(ctx, ns+"missing", 1); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Incr missing: %v, want ErrNotFound", err)
	}
	if ok, _ := d.Has(ctx, ns+"missing"); ok {
		t.Fatal("Incr created a missing key")
	}
	must(t, d.Set(ctx, ns+"n", []byte("10"), time.Minute))
	if n, err := d.Incr(ctx, ns+"n", 5); err != nil || n != 15 {
		t.Fatalf("Incr +5 = %d, %v; want 15", n, err)
	}
	if n, err := d.Incr(ctx, ns+"n", -20); err != nil || n != -5 {
		t.Fatalf("Incr -20 = %d, %v; want -5", n, err)
	}
	if v, _ := d.Get(ctx, ns+"n"); string(v) != "-5" {
		t.Fatalf("stored counter = %q, want -5", v)
	}
	if ttl, err := d.TTL(ctx, ns+"n"); err != nil || ttl <= 0 {
		t.Fatalf("Incr dropped the TTL: %v, %v", ttl, err)
	}
	must(t, d.Set(ctx, ns+"forever", []byte("1"), 0))
	if _, err := d.Incr(ctx, ns+"forever", 1); err != nil {
		t.Fatal(err)
	}
	if ttl, err := d.TTL(ctx, ns+"forever"); err != nil || ttl != 0 {
		t.Fatalf("Incr gave a TTL to a key without one: %v, %v", ttl, err)
	}
	// The whole int64 range, which a Lua number (a double) cannot carry.
	must(t, d.Set(ctx, ns+"big", []byte("9223372036854775800"), time.Minute))
	if n, err := d.Incr(ctx, ns+"big", 7); err != nil || n != 9223372036854775807 {
		t.Fatalf("Incr to MaxInt64 = %d, %v", n, err)
	}
	if n, err := d.Incr(ctx, ns+"big", 1); err == nil || errors.Is(err, cache.ErrNotInteger) {
		t.Fatalf("Incr past MaxInt64 = %d, %v; want an overflow error", n, err)
	}
	for _, v := range []string{"abc", "1.5", " 1", "", "99999999999999999999"} {
		must(t, d.Set(ctx, ns+"s", []byte(v), time.Minute))
		if _, err := d.Incr(ctx, ns+"s", 1); !errors.Is(err, cache.ErrNotInteger) {
			t.Fatalf("Incr of %q: %v, want ErrNotInteger", v, err)
		}
		if got, _ := d.Get(ctx, ns+"s"); string(got) != v {
			t.Fatalf("failed Incr changed %q to %q", v, got)
		}
	}
}

func testIncrConcurrent(t *testing.T, d *redis.Driver, ns string) {
	ctx := context.Background()
	must(t, d.Set(ctx, ns+"n", []byte("0"), time.Minute))
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for range 25 {
				if _, err := d.Incr(ctx, ns+"n", 1); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if v, _ := d.Get(ctx, ns+"n"); string(v) != "500" {
		t.Fatalf("after 500 concurrent Incr: %q", v)
	}
}

func testTouch(t *testing.T, d *redis.Driver, ns string) {
	ctx := context.Background()
	for _, ttl := range []time.Duration{time.Minute, 0} {
		if ok, err := d.Touch(ctx, ns+"missing", ttl); err != nil || ok {
			t.Fatalf("Touch(missing, %v) = %v, %v; want false", ttl, ok, err)
		}
		if ok, _ := d.Has(ctx, ns+"missing"); ok {
			t.Fatal("Touch created a key")
		}
	}
	must(t, d.Set(ctx, ns+"k", []byte("v"), 0))
	if ok, err := d.Touch(ctx, ns+"k", time.Hour); err != nil || !ok {
		t.Fatalf("Touch(k, 1h) = %v, %v", ok, err)
	}
	if ttl, err := d.TTL(ctx, ns+"k"); err != nil || ttl <= 59*time.Minute {
		t.Fatalf("TTL after Touch 1h = %v, %v", ttl, err)
	}
	if ok, err := d.Touch(ctx, ns+"k", 0); err != nil || !ok {
		t.Fatalf("Touch(k, 0) = %v, %v", ok, err)
	}
	if ttl, err := d.TTL(ctx, ns+"k"); err != nil || ttl != 0 {
		t.Fatalf("TTL after Touch 0 = %v, %v; want 0", ttl, err)
	}
	// PERSIST answers 0 for a key without TTL; Touch must still say the key exists.
	if ok, err := d.Touch(ctx, ns+"k", 0); err != nil || !ok {
		t.Fatalf("Touch(k, 0) of a key without TTL = %v, %v; want true", ok, err)
	}
	if v, _ := d.Get(ctx, ns+"k"); string(v) != "v" {
		t.Fatalf("Touch changed the value: %q", v)
	}
}

// testClear checks Clear deletes exactly its prefix on a shared database, with glob characters
// in the prefix and in neighbouring keys.
func testClear(t *testing.T, d *redis.Driver, ns string) {
	ctx := context.Background()
	cases := []struct {
		prefix string
		under  []string // keys under the prefix: deleted
		beside []string // keys that a glob would match if the prefix were not escaped: kept
	}{
		{"a*", []string{"a*", "a*:1", "a**"}, []string{"ab:1", "a:1", "a", "a\\*", "b*"}},
		{"q?", []string{"q?", "q?:1"}, []string{"qx", "qx:1", "q"}},
		{"[ab]", []string{"[ab]:1", "[ab]"}, []string{"a", "b:1", "[a]", "ab"}},
		{"s\\", []string{"s\\", "s\\:1", "s\\*"}, []string{"s", "s:1", "s*"}},
		{"r]", []string{"r]x"}, []string{"r", "rx"}},
	}
	for _, tc := range cases {
		t.Run(tc.prefix, func(t *testing.T) {
			sub := ns + randomHex(4) + ":"
			all := slices.Concat(tc.under, tc.beside)
			items := make([]cache.Item, len(all))
			for i, k := range all {
				items[i] = cache.Item{Key: sub + k, Value: []byte("v"), TTL: time.Minute}
			}
			must(t, d.SetMany(ctx, items))
			must(t, d.Clear(ctx, sub+tc.prefix))
			for _, k := range tc.under {
				if ok, _ := d.Has(ctx, sub+k); ok {
					t.Errorf("Clear(%q) left %q", tc.prefix, k)
				}
			}
			for _, k := range tc.beside {
				if ok, _ := d.Has(ctx, sub+k); !ok {
					t.Errorf("Clear(%q) deleted %q, outside its prefix", tc.prefix, k)
				}
			}
		})
	}

	// More keys than one SCAN step returns, beside a key of another cache.
	const n = 2500
	items := make([]cache.Item, n)
	for i := range items {
		items[i] = cache.Item{Key: fmt.Sprintf("%sbig:%d", ns, i), Value: []byte("v")}
	}
	must(t, d.SetMany(ctx, items))
	must(t, d.Set(ctx, ns+"bigger", []byte("kept"), 0))
	must(t, d.Clear(ctx, ns+"big:"))
	keys := make([]string, n)
	for i, it := range items {
		keys[i] = it.Key
	}
	if got, err := d.GetMany(ctx, keys); err != nil || len(got) != 0 {
		t.Fatalf("after Clear, %d of %d keys left (%v)", len(got), n, err)
	}
	if v, _ := d.Get(ctx, ns+"bigger"); string(v) != "kept" {
		t.Fatalf("Clear(big:) deleted bigger")
	}
	if err := d.Clear(ctx, ""); err == nil {
		t.Fatal("Clear with an empty prefix must refuse")
	}
}

func testLock(t *testing.T, d *redis.Driver, ns string) {
	ctx := context.Background()
	key := ns + "lock"
	if ok, err := d.Lock(ctx, key, "A", time.Minute); err != nil || !ok {
		t.Fatalf("Lock A = %v, %v", ok, err)
	}
	if ok, err := d.Lock(ctx, key, "B", time.Minute); err != nil || ok {
		t.Fatalf("Lock B while A holds it = %v, %v; want false", ok, err)
	}
	must(t, d.Unlock(ctx, key, "B")) // not B's: nothing happens
	if ok, _ := d.Lock(ctx, key, "B", time.Minute); ok {
		t.Fatal("Unlock with the wrong token released the lock")
	}
	must(t, d.Unlock(ctx, key, "A"))
	if ok, err := d.Lock(ctx, key, "B", time.Minute); err != nil || !ok {
		t.Fatalf("Lock B after A's Unlock = %v, %v", ok, err)
	}
	must(t, d.Unlock(ctx, key, "B"))
	must(t, d.Unlock(ctx, key, "B")) // unlocking a free lock is not an error

	// An expired lock can be taken, and its first owner's Unlock leaves the new owner's alone.
	if ok, _ := d.Lock(ctx, key, "A", 30*time.Millisecond); !ok {
		t.Fatal("Lock A with a short TTL failed")
	}
	eventually(t, 5*time.Second, "lock with a 30ms TTL expires", func() bool {
		ok, err := d.Lock(ctx, key, "C", time.Minute)
		return err == nil && ok
	})
	must(t, d.Unlock(ctx, key, "A"))
	if ok, _ := d.Lock(ctx, key, "D", time.Minute); ok {
		t.Fatal("a stale owner's Unlock released the new owner's lock")
	}
	if _, err := d.Lock(ctx, key+"2", "A", 0); !errors.Is(err, cache.ErrInvalidTTL) {
		t.Fatalf("Lock with TTL 0: %v, want ErrInvalidTTL", err)
	}
}

type invalidation struct {
	origin string
	keys   []string
	all    bool
}

// collect subscribes to channel and returns the channel its invalidations arrive on.
func collect(t *testing.T, ctx context.Context, d *redis.Driver, channel string) <-chan invalidation {
	t.Helper()
	got := make(chan invalidation, 100)
	err := d.SubscribeInvalidations(ctx, channel, func(origin string, keys []string, all bool) {
		got <- invalidation{origin, keys, all}
	})
	must(t, err)
	return got
}

func next(t *testing.T, ch <-chan invalidation) invalidation {
	t.Helper()
	select {
	case inv := <-ch:
		return inv
	case <-time.After(5 * time.Second):
		t.Fatal("no invalidation within 5s")
		return invalidation{}
	}
}

func testInvalidation(t *testing.T, d *redis.Driver, ns string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	channel := ns + "invalidate"
	got := collect(t, ctx, d, channel)

	// Published right after SubscribeInvalidations returns: delivered, own origin included (the
	// caller filters its own messages by origin).
	must(t, d.PublishInvalidation(ctx, channel, "me", ns+"a", ns+"b"))
	if inv := next(t, got); inv.origin != "me" || !slices.Equal(inv.keys, []string{ns + "a", ns + "b"}) || inv.all {
		t.Fatalf("got %+v", inv)
	}
	// Origins and keys with any bytes survive the encoding.
	weird := []string{"", "with\nnewline", "\x00\x01", string(make([]byte, 300))}
	must(t, d.PublishInvalidation(ctx, channel, "other\x00origin", weird...))
	if inv := next(t, got); inv.origin != "other\x00origin" || !slices.Equal(inv.keys, weird) || inv.all {
		t.Fatalf("got %+v", inv)
	}
	// No keys: drop everything (what the tiered cache sends after Clear).
	must(t, d.PublishInvalidation(ctx, channel, "me"))
	if inv := next(t, got); !inv.all {
		t.Fatalf("a message without keys gave %+v, want all", inv)
	}
	// A message in another format (someone else publishing on the channel): drop everything
	// rather than guess.
	must(t, d.Client().Publish(ctx, channel, "hello").Err())
	if inv := next(t, got); !inv.all {
		t.Fatalf("a foreign message gave %+v, want all", inv)
	}

	// After ctx is done nothing more is delivered, and the subscription is gone from Redis.
	cancel()
	check := context.Background()
	eventually(t, 5*time.Second, "subscription ends with its context", func() bool {
		n, err := d.Client().PubSubNumSub(check, channel).Result()
		return err == nil && n[channel] == 0
	})
	must(t, d.PublishInvalidation(check, channel, "me", "late"))
	select {
	case inv := <-got:
		t.Fatalf("delivered after the context ended: %+v", inv)
	case <-time.After(50 * time.Millisecond):
	}
}

func testStats(t *testing.T, d *redis.Driver, ns string) {
	ctx := context.Background()
	must(t, d.Set(ctx, ns+"k", []byte("v"), time.Minute))
	stats, err := d.Stats(ctx)
	must(t, err)
	for _, field := range []string{"redis_version", "used_memory", "keyspace_hits", "keyspace_misses", "connected_clients"} {
		found := false
		for k := range stats { // "field", or "host:port/field" per Cluster node
			found = found || k == field || strings.HasSuffix(k, "/"+field)
		}
		if !found {
			t.Errorf("Stats has no %s: %v", field, stats)
		}
	}
}

func testClosed(t *testing.T, d *redis.Driver, ns string) {
	ctx := context.Background()
	sub, cancel := context.WithCancel(ctx)
	defer cancel()
	calls := collect(t, sub, d, ns+"closing")
	must(t, d.Close())
	must(t, d.Close()) // twice is fine
	if _, err := d.Get(ctx, ns+"k"); !errors.Is(err, cache.ErrClosed) {
		t.Fatalf("Get after Close: %v, want ErrClosed", err)
	}
	if err := d.SubscribeInvalidations(ctx, ns+"x", func(string, []string, bool) {}); !errors.Is(err, cache.ErrClosed) {
		t.Fatalf("SubscribeInvalidations after Close: %v, want ErrClosed", err)
	}
	// Close waited for the subscriber, which reported nothing: it was stopped, not interrupted.
	select {
	case inv := <-calls:
		t.Fatalf("subscriber called on Close: %+v", inv)
	default:
	}
}

// TestSubscriptionInterrupted kills the subscription's connection on the shared server (only that
// connection, found by a client name of its own): the subscriber drops everything, subscribes
// again, drops everything once more, and delivers again.
func TestSubscriptionInterrupted(t *testing.T) {
	name := "kittest-" + randomHex(6)
	d := openDriver(t, withQuery(t, sharedURL(t), "client_name", name))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	channel := "kittest:redis:" + randomHex(8) + ":invalidate"
	got := collect(t, ctx, d, channel)

	clients, err := d.Client().ClientList(ctx).Result()
	must(t, err)
	var ids []int64
	for _, line := range strings.Split(clients, "\n") {
		f := fields(line)
		if f["name"] == name && f["sub"] == "1" {
			id, _ := strconv.ParseInt(f["id"], 10, 64)
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("found %d subscribed connections named %s, want 1", len(ids), name)
	}
	must(t, d.Client().ClientKillByFilter(ctx, "ID", strconv.FormatInt(ids[0], 10)).Err())

	if inv := next(t, got); !inv.all {
		t.Fatalf("after the connection died: %+v, want all", inv)
	}
	if inv := next(t, got); !inv.all {
		t.Fatalf("after subscribing again: %+v, want all", inv)
	}
	must(t, d.PublishInvalidation(ctx, channel, "o", "k"))
	if inv := next(t, got); inv.all || !slices.Equal(inv.keys, []string{"k"}) {
		t.Fatalf("after resubscribing: %+v", inv)
	}
}

// fields parses one CLIENT LIST line: "id=3 addr=... name=x sub=1 ...".
func fields(line string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Fields(line) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
