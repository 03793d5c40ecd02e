package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	rediscache "github.com/go-redis/cache/v9"
	"github.com/maypok86/otter/v2"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/cache"
	_ "github.com/stackkit/stackkit/kit/cache/redis"
)

// The cache benchmarks run kit/cache beside the libraries a Go service would otherwise use: otter
// and ristretto in memory, go-redis/cache on Redis. Every library gets the same keys and the same
// 100-byte values, stored with the same TTL. See docs/benchmarks.md for what each row holds.

const (
	cacheKeyCount  = 10_000  // keys per run, prefilled before timing
	cacheValueSize = 100     // bytes per value
	cacheMaxSize   = 100_000 // entries the memory caches may hold
	cacheTTL       = 5 * time.Minute
	cacheManyCount = 100 // keys per GetMany
)

// cacheData is the key set and its values; value i belongs to key i.
type cacheData struct {
	keys   []string
	values [][]byte
}

func newCacheData() cacheData {
	d := cacheData{keys: make([]string, cacheKeyCount), values: make([][]byte, cacheKeyCount)}
	for i := range d.keys {
		d.keys[i] = fmt.Sprintf("user:%05d:profile", i)
		v := make([]byte, cacheValueSize)
		for j := range v {
			v[j] = byte('a' + (i+j)%26)
		}
		d.values[i] = v
	}
	return d
}

// memoryLib is one in-memory cache under test, filled with the key set.
type memoryLib struct {
	name  string
	get   func(key string) ([]byte, bool)
	set   func(key string, value []byte)
	close func()
}

func kitMemory(b *testing.B, d cacheData) memoryLib {
	ctx := context.Background()
	// No OpenTelemetry SDK is installed in this process, so the cache does no telemetry work.
	c, err := cache.Open(ctx, fmt.Sprintf("memory://?max_entries=%d", cacheMaxSize))
	if err != nil {
		b.Fatal(err)
	}
	for i, k := range d.keys {
		if err := c.Set(ctx, k, d.values[i], cacheTTL); err != nil {
			b.Fatal(err)
		}
	}
	return memoryLib{
		name: "kit",
		get: func(key string) ([]byte, bool) {
			v, err := c.Get(ctx, key)
			return v, err == nil
		},
		set: func(key string, value []byte) {
			if err := c.Set(ctx, key, value, cacheTTL); err != nil {
				panic(err)
			}
		},
		close: func() { _ = c.Close() },
	}
}

func otterMemory(b *testing.B, d cacheData) memoryLib {
	// ExpiryWriting gives every entry the TTL on each write, as kit's memory:// does with the TTL
	// passed to Set: otter keeps its expiry structures up to date in both.
	c, err := otter.New(&otter.Options[string, []byte]{
		MaximumSize:      cacheMaxSize,
		ExpiryCalculator: otter.ExpiryWriting[string, []byte](cacheTTL),
	})
	if err != nil {
		b.Fatal(err)
	}
	for i, k := range d.keys {
		c.Set(k, d.values[i])
	}
	return memoryLib{
		name:  "otter",
		get:   c.GetIfPresent,
		set:   func(key string, value []byte) { c.Set(key, value) },
		close: func() { c.StopAllGoroutines(); c.InvalidateAll() },
	}
}

func ristrettoMemory(b *testing.B, d cacheData) memoryLib {
	// ristretto's suggested sizing for a bound in entries: counters at ten times the entries, a
	// cost of 1 per entry, and its own per-entry overhead not counted (otherwise it would add
	// about 56 to each cost and hold under 2,000 entries).
	c, err := ristretto.NewCache(&ristretto.Config[string, []byte]{
		NumCounters:        10 * cacheMaxSize,
		MaxCost:            cacheMaxSize,
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	for i, k := range d.keys {
		c.SetWithTTL(k, d.values[i], 1, cacheTTL)
	}
	c.Wait()
	return memoryLib{
		name:  "ristretto",
		get:   c.Get,
		set:   func(key string, value []byte) { c.SetWithTTL(key, value, 1, cacheTTL) },
		close: c.Close,
	}
}

// BenchmarkMemory compares in-process caches: Get of a present key, Set of an existing key, and
// Get from every CPU at once, cycling through the same 10,000 keys.
func BenchmarkMemory(b *testing.B) {
	d := newCacheData()
	libs := []memoryLib{kitMemory(b, d), otterMemory(b, d), ristrettoMemory(b, d)}
	defer func() {
		for _, l := range libs {
			l.close()
		}
	}()
	for _, l := range libs {
		found := 0
		for _, k := range d.keys {
			if _, ok := l.get(k); ok {
				found++
			}
		}
		// ristretto may drop a write under contention; every library here must hold the whole set.
		if found != len(d.keys) {
			b.Fatalf("%s holds %d of %d prefilled keys", l.name, found, len(d.keys))
		}
	}

	var sink atomic.Int64
	b.Run("op=get", func(b *testing.B) {
		for _, l := range libs {
			b.Run("lib="+l.name, func(b *testing.B) {
				b.ReportAllocs()
				n, i := 0, 0
				for b.Loop() {
					v, _ := l.get(d.keys[i])
					n += len(v)
					if i++; i == len(d.keys) {
						i = 0
					}
				}
				sink.Add(int64(n))
			})
		}
	})
	b.Run("op=set", func(b *testing.B) {
		for _, l := range libs {
			b.Run("lib="+l.name, func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					l.set(d.keys[i], d.values[i])
					if i++; i == len(d.keys) {
						i = 0
					}
				}
			})
		}
	})
	b.Run("op=get-parallel", func(b *testing.B) {
		for _, l := range libs {
			b.Run("lib="+l.name, func(b *testing.B) {
				b.ReportAllocs()
				var start atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					// Each goroutine starts at a different place in the key set.
					i := int(start.Add(1)*7919) % len(d.keys)
					n := 0
					for pb.Next() {
						v, _ := l.get(d.keys[i])
						n += len(v)
						if i++; i == len(d.keys) {
							i = 0
						}
					}
					sink.Add(int64(n))
				})
			})
		}
	})
	if sink.Load() == 0 {
		b.Fatal("no values read")
	}
}

// benchPrefix is a key prefix no other run or test uses.
func benchPrefix() string {
	var id [6]byte
	_, _ = rand.Read(id[:])
	return "kitbench-" + hex.EncodeToString(id[:])
}

// BenchmarkRedis compares Redis caches on one server: Get and Set of a 100-byte value, and
// reading 100 keys at once. kit is kit/cache's redis://; go-redis-cache is
// github.com/go-redis/cache/v9 with its local cache off, so both make the round trip;
// go-redis-mget is one MGET on a bare go-redis client, the floor for reading 100 keys.
func BenchmarkRedis(b *testing.B) {
	rawURL := testenv.Get(b, "KIT_TEST_REDIS_URL")
	ctx := context.Background()
	d := newCacheData()

	kitPrefix := benchPrefix()
	kc, err := cache.Open(ctx, rawURL+"?prefix="+kitPrefix)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := kc.Clear(ctx); err != nil {
			b.Errorf("clear %s: %v", kitPrefix, err)
		}
		_ = kc.Close()
	}()
	items := make(map[string][]byte, len(d.keys))
	for i, k := range d.keys {
		items[k] = d.values[i]
	}
	if err := kc.SetMany(ctx, items, cacheTTL); err != nil {
		b.Fatal(err)
	}

	opts, err := goredis.ParseURL(rawURL)
	if err != nil {
		b.Fatal(err)
	}
	rdb := goredis.NewClient(opts)
	peerPrefix := benchPrefix() + ":"
	peerKeys := make([]string, len(d.keys))
	for i, k := range d.keys {
		peerKeys[i] = peerPrefix + k
	}
	defer func() {
		for chunk := range slices.Chunk(peerKeys, 1000) {
			if err := rdb.Unlink(ctx, chunk...).Err(); err != nil {
				b.Errorf("unlink %s*: %v", peerPrefix, err)
				break
			}
		}
		_ = rdb.Close()
	}()
	rc := rediscache.New(&rediscache.Options{Redis: rdb}) // no LocalCache
	if _, err := rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, k := range peerKeys {
			p.Set(ctx, k, d.values[i], cacheTTL)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}

	type lib struct {
		name string
		get  func(i int) (int, error)
		set  func(i int) error
		many func(i int) (int, error) // reads keys i..i+99, returns how many it found
	}
	libs := []lib{
		{
			name: "kit",
			get: func(i int) (int, error) {
				v, err := kc.Get(ctx, d.keys[i])
				return len(v), err
			},
			set: func(i int) error { return kc.Set(ctx, d.keys[i], d.values[i], cacheTTL) },
			many: func(i int) (int, error) {
				m, err := kc.GetMany(ctx, d.keys[i:i+cacheManyCount]...)
				return len(m), err
			},
		},
		{
			name: "go-redis-cache",
			get: func(i int) (int, error) {
				var v []byte
				err := rc.Get(ctx, peerKeys[i], &v)
				return len(v), err
			},
			set: func(i int) error {
				return rc.Set(&rediscache.Item{Ctx: ctx, Key: peerKeys[i], Value: d.values[i], TTL: cacheTTL})
			},
			// go-redis/cache has no multi-get: a user reads the keys one at a time.
			many: func(i int) (int, error) {
				n := 0
				for _, k := range peerKeys[i : i+cacheManyCount] {
					var v []byte
					err := rc.Get(ctx, k, &v)
					switch {
					case err == nil:
						n++
					case !errors.Is(err, rediscache.ErrCacheMiss):
						return n, err
					}
				}
				return n, nil
			},
		},
		{
			name: "go-redis-mget",
			many: func(i int) (int, error) {
				vals, err := rdb.MGet(ctx, peerKeys[i:i+cacheManyCount]...).Result()
				n := 0
				for _, v := range vals {
					if v != nil {
						n++
					}
				}
				return n, err
			},
		},
	}

	b.Run("op=get", func(b *testing.B) {
		for _, l := range libs {
			if l.get == nil {
				continue
			}
			b.Run("lib="+l.name, func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if n, err := l.get(i); err != nil || n != cacheValueSize {
						b.Fatalf("get %d: %d bytes, %v", i, n, err)
					}
					if i++; i == len(d.keys) {
						i = 0
					}
				}
			})
		}
	})
	b.Run("op=set", func(b *testing.B) {
		for _, l := range libs {
			if l.set == nil {
				continue
			}
			b.Run("lib="+l.name, func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if err := l.set(i); err != nil {
						b.Fatalf("set %d: %v", i, err)
					}
					if i++; i == len(d.keys) {
						i = 0
					}
				}
			})
		}
	})
	b.Run(fmt.Sprintf("op=getmany%d", cacheManyCount), func(b *testing.B) {
		for _, l := range libs {
			b.Run("lib="+l.name, func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if n, err := l.many(i); err != nil || n != cacheManyCount {
						b.Fatalf("get many at %d: %d found, %v", i, n, err)
					}
					if i += cacheManyCount; i+cacheManyCount > len(d.keys) {
						i = 0
					}
				}
			})
		}
	})
}

// BenchmarkTieredInvalidation measures the tiered cache's propagation delay: two instances, A and
// B, share one Redis prefix; B holds key k in its local layer; A sets k to a new value; B reads k
// in a loop until it sees the new value. One iteration is one such write. Reported: percentiles of
// the time from A's Set returning to B's Get first returning the new value (p50-µs, p99-µs), and
// from A's Set being called (write-p50-µs, write-p99-µs).
func BenchmarkTieredInvalidation(b *testing.B) {
	rawURL := testenv.Get(b, "KIT_TEST_REDIS_URL")
	ctx := context.Background()
	prefix := benchPrefix()

	open := func() *cache.Cache {
		shared, err := cache.Open(ctx, rawURL+"?prefix="+prefix)
		if err != nil {
			b.Fatal(err)
		}
		c, err := cache.NewTiered(ctx, shared)
		if err != nil {
			_ = shared.Close()
			b.Fatal(err)
		}
		return c
	}
	a, bb := open(), open()
	defer func() {
		if err := a.Clear(ctx); err != nil {
			b.Errorf("clear %s: %v", prefix, err)
		}
		_ = a.Close()
		_ = bb.Close()
	}()

	const key = "hot"
	value := func(n uint64) []byte { return fmt.Appendf(make([]byte, 0, cacheValueSize), "%0*d", cacheValueSize, n) }
	var gen uint64
	if err := a.Set(ctx, key, value(gen), cacheTTL); err != nil {
		b.Fatal(err)
	}
	// B reads until it has the current value in its local layer.
	waitFor := func(want []byte) int {
		polls := 0
		for {
			polls++
			v, err := bb.Get(ctx, key)
			if err != nil {
				b.Fatalf("B get: %v", err)
			}
			if string(v) == string(want) {
				return polls
			}
			if polls > 10_000_000 {
				b.Fatal("B never saw the new value")
			}
			// Let B's subscriber run if the scheduler queued it behind this loop; without this it
			// can wait for the 10ms preemption tick.
			runtime.Gosched()
		}
	}
	waitFor(value(gen))

	var sinceReturn, sinceCall []time.Duration
	stale := 0 // iterations where B's first read after A's Set still returned the old value
	for b.Loop() {
		gen++
		want := value(gen)
		called := time.Now()
		if err := a.Set(ctx, key, want, cacheTTL); err != nil {
			b.Fatal(err)
		}
		returned := time.Now()
		if waitFor(want) > 1 {
			stale++
		}
		seen := time.Now()
		sinceReturn = append(sinceReturn, seen.Sub(returned))
		sinceCall = append(sinceCall, seen.Sub(called))
		// B's local layer holds the new value again (the read that found it filled it).
		if _, err := bb.Get(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
	pct := func(s []time.Duration, p float64) float64 {
		slices.Sort(s)
		return float64(s[min(len(s)-1, int(p*float64(len(s))))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(pct(sinceReturn, 0.50), "p50-µs")
	b.ReportMetric(pct(sinceReturn, 0.99), "p99-µs")
	b.ReportMetric(pct(sinceCall, 0.50), "write-p50-µs")
	b.ReportMetric(pct(sinceCall, 0.99), "write-p99-µs")
	b.ReportMetric(float64(stale)/float64(len(sinceReturn)), "stale-first-read-frac")
}
