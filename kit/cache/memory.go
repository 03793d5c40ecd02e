package cache

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/stackkit/stackkit/kit/registry"
)

func init() {
	Register("memory", openMemory)
	Register("dummy", openDummy)
}

// DefaultMemoryMaxBytes bounds a memory:// cache that sets no bound.
const DefaultMemoryMaxBytes = 64 << 20

// memoryEntry is a stored value and the TTL it was stored with: 0 never expires, and a negative
// TTL (written by Incr) keeps the entry's remaining lifetime. Reads copy the entry out of otter,
// so it is kept to two words and a slice.
type memoryEntry struct {
	value []byte
	ttl   time.Duration
}

// forever stands for "never expires" in otter, which wants a duration.
const forever = 100 * 365 * 24 * time.Hour

// memoryExpiry gives each entry the TTL it was written with (an Incr keeps the remaining one).
// Reads leave expiry alone: otter's built-in "expire after writing" kind takes its fast read
// path, which a custom ExpiryCalculator would not.
var memoryExpiry = otter.ExpiryWritingFunc(func(e otter.Entry[string, memoryEntry]) time.Duration {
	if e.Value.ttl < 0 {
		return e.ExpiresAfter()
	}
	return ttlOrForever(e.Value.ttl)
})

func ttlOrForever(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return forever
	}
	return ttl
}

// memory is the memory:// backend: an in-process store on otter (W-TinyLFU eviction), bounded by
// entries or by bytes.
type memory struct {
	c *otter.Cache[string, memoryEntry]
}

// openMemory opens memory://?max_entries=N or memory://?max_bytes=64MiB (default 64 MiB).
func openMemory(_ context.Context, _ *url.URL, opts *registry.Options) (Driver, error) {
	maxEntries := opts.Int("max_entries", 0, 0, 1<<40)
	maxBytes := opts.Size("max_bytes", 0)
	if err := opts.Err(); err != nil {
		return nil, err
	}
	if maxEntries > 0 && maxBytes > 0 {
		return nil, fmt.Errorf("memory: give max_entries or max_bytes, not both")
	}
	o := &otter.Options[string, memoryEntry]{ExpiryCalculator: memoryExpiry}
	switch {
	case maxEntries > 0:
		o.MaximumSize = int(maxEntries)
	default:
		if maxBytes == 0 {
			maxBytes = DefaultMemoryMaxBytes
		}
		o.MaximumWeight = uint64(maxBytes)
		o.Weigher = func(k string, e memoryEntry) uint32 {
			return uint32(min(len(k)+len(e.value)+64, 1<<32-1)) // 64: the node's own overhead
		}
	}
	c, err := otter.New(o)
	if err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	return &memory{c: c}, nil
}

// NewMemory returns a memory driver bounded to maxBytes (0: DefaultMemoryMaxBytes), for New and
// for the local layer of a tiered cache.
func NewMemory(maxBytes int64) (Driver, error) {
	u := &url.URL{Scheme: "memory"}
	q := url.Values{}
	if maxBytes > 0 {
		q.Set("max_bytes", strconv.FormatInt(maxBytes, 10))
	}
	return openMemory(context.Background(), u, registry.NewOptions(q))
}

func (m *memory) Capabilities() Capabilities {
	return Capabilities{Name: "memory", Private: true, AtomicIncr: true}
}

func (m *memory) Get(_ context.Context, key string) ([]byte, error) {
	if e, ok := m.c.GetIfPresent(key); ok {
		return e.value, nil
	}
	return nil, ErrNotFound
}

func (m *memory) GetMany(_ context.Context, keys []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	for _, k := range keys {
		if e, ok := m.c.GetIfPresent(k); ok {
			out[k] = e.value
		}
	}
	return out, nil
}

func (m *memory) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	m.c.Set(key, memoryEntry{value: value, ttl: ttl})
	return nil
}

func (m *memory) SetMany(_ context.Context, items []Item) error {
	for _, it := range items {
		m.c.Set(it.Key, memoryEntry{value: it.Value, ttl: it.TTL})
	}
	return nil
}

func (m *memory) Add(_ context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	_, stored := m.c.SetIfAbsent(key, memoryEntry{value: value, ttl: ttl})
	return stored, nil
}

func (m *memory) Replace(_ context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	_, ok := m.c.ComputeIfPresent(key, func(memoryEntry) (memoryEntry, otter.ComputeOp) {
		return memoryEntry{value: value, ttl: ttl}, otter.WriteOp
	})
	return ok, nil
}

func (m *memory) Delete(_ context.Context, key string) (bool, error) {
	_, existed := m.c.Invalidate(key)
	return existed, nil
}

func (m *memory) DeleteMany(_ context.Context, keys []string) (int, error) {
	n := 0
	for _, k := range keys {
		if _, existed := m.c.Invalidate(k); existed {
			n++
		}
	}
	return n, nil
}

func (m *memory) Incr(_ context.Context, key string, delta int64) (int64, error) {
	var result int64
	var err error
	_, found := m.c.ComputeIfPresent(key, func(old memoryEntry) (memoryEntry, otter.ComputeOp) {
		n, perr := strconv.ParseInt(string(old.value), 10, 64)
		if perr != nil {
			err = ErrNotInteger
			return old, otter.CancelOp
		}
		result = n + delta
		// The remaining lifetime is kept, as Redis and Memcached keep it for INCR.
		return memoryEntry{value: strconv.AppendInt(nil, result, 10), ttl: -max(old.ttl, -old.ttl)}, otter.WriteOp
	})
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, ErrNotFound
	}
	return result, nil
}

func (m *memory) Touch(_ context.Context, key string, ttl time.Duration) (bool, error) {
	var found bool
	m.c.ComputeIfPresent(key, func(old memoryEntry) (memoryEntry, otter.ComputeOp) {
		found = true
		return memoryEntry{value: old.value, ttl: ttl}, otter.WriteOp
	})
	return found, nil
}

func (m *memory) Has(_ context.Context, key string) (bool, error) {
	_, ok := m.c.GetEntryQuietly(key)
	return ok, nil
}

func (m *memory) TTL(_ context.Context, key string) (time.Duration, error) {
	e, ok := m.c.GetEntryQuietly(key)
	if !ok {
		return 0, ErrNotFound
	}
	if e.Value.ttl == 0 {
		return 0, nil
	}
	return max(time.Until(time.Unix(0, e.ExpiresAtNano)), time.Nanosecond), nil
}

func (m *memory) Clear(context.Context, string) error {
	m.c.InvalidateAll()
	return nil
}

func (m *memory) Close() error {
	m.c.StopAllGoroutines()
	m.c.InvalidateAll()
	return nil
}

// dummy is dummy://, Django's DummyCache: it stores nothing, so every read misses. For
// development and for switching caching off without touching code.
type dummy struct{}

func openDummy(_ context.Context, _ *url.URL, opts *registry.Options) (Driver, error) {
	return dummy{}, opts.Err()
}

func (dummy) Capabilities() Capabilities { return Capabilities{Name: "dummy", Private: true} }
func (dummy) Get(context.Context, string) ([]byte, error) {
	return nil, ErrNotFound
}
func (dummy) GetMany(context.Context, []string) (map[string][]byte, error) {
	return map[string][]byte{}, nil
}
func (dummy) Set(context.Context, string, []byte, time.Duration) error { return nil }
func (dummy) SetMany(context.Context, []Item) error                    { return nil }

// Add reports true, as if stored (and immediately evicted), like Django's DummyCache.
func (dummy) Add(context.Context, string, []byte, time.Duration) (bool, error) { return true, nil }
func (dummy) Replace(context.Context, string, []byte, time.Duration) (bool, error) {
	return false, nil
}
func (dummy) Delete(context.Context, string) (bool, error)      { return false, nil }
func (dummy) DeleteMany(context.Context, []string) (int, error) { return 0, nil }
func (dummy) Incr(context.Context, string, int64) (int64, error) {
	return 0, ErrNotFound
}
func (dummy) Touch(context.Context, string, time.Duration) (bool, error) { return false, nil }
func (dummy) Has(context.Context, string) (bool, error)                  { return false, nil }
func (dummy) TTL(context.Context, string) (time.Duration, error)         { return 0, ErrNotFound }
func (dummy) Clear(context.Context, string) error                        { return nil }
func (dummy) Close() error                                               { return nil }
