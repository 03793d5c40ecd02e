// Package cache is Stackkit's cache framework, Django's in Go: one API over memory://, dummy://,
// file://, redis://, memcached:// and a kit/db database, with key prefixes and versions, TTL
// rules, fail-open, telemetry, a typed layer with stampede protection (Typed, GetOrSet), a tiered
// mode (a local layer in front of Redis, invalidated across instances) and an HTTP page cache
// (kit/cache/pagecache).
//
//	import _ "github.com/stackkit/stackkit/kit/cache/redis"
//
//	c, err := cache.Open(ctx, "redis://localhost:6379/0?prefix=orders&default_ttl=10m&fail_open=true")
//	err = c.Set(ctx, "greeting", []byte("hello"), cache.DefaultTTL)
//	v, err := c.Get(ctx, "greeting") // errors.Is(err, cache.ErrNotFound) on a miss
//
// Backends register their schemes when imported; memory://, dummy:// and file:// are built in.
package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stackkit/stackkit/kit/registry"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// DefaultURL is the cache used when none is configured.
const DefaultURL = "memory://"

// TTL values with a meaning of their own. Any other negative TTL is rejected with ErrInvalidTTL.
const (
	// DefaultTTL stores with the cache's default TTL (5 minutes unless configured).
	DefaultTTL time.Duration = 0
	// NoExpiry stores an entry that never expires (it may still be evicted).
	NoExpiry time.Duration = -1
)

// Defaults of the portable options.
const (
	DefaultDefaultTTL  = 5 * time.Minute
	DefaultFailTimeout = 100 * time.Millisecond
	defaultMaxKeyLen   = 1024
)

var drivers = registry.New[Driver]("cache")

// Register makes a backend available under a URL scheme; backends call it from init. It panics
// if the scheme is taken or open is nil.
func Register(scheme string, open registry.Opener[Driver]) { drivers.Register(scheme, open) }

// Schemes returns the registered URL schemes, sorted.
func Schemes() []string { return drivers.Schemes() }

// Option configures a Cache. In [Open], options in the URL override these, so operators can tune
// a cache without a rebuild.
type Option func(*config)

type config struct {
	prefix         string
	version        int
	defaultTTL     time.Duration // NoExpiry or positive
	failOpen       bool
	failTimeout    time.Duration
	logger         *slog.Logger
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
}

// WithPrefix sets the key prefix (Django's KEY_PREFIX): caches with different prefixes share a
// backend without seeing each other's keys, and Clear removes only its own prefix.
func WithPrefix(p string) Option { return func(c *config) { c.prefix = p } }

// WithVersion sets the key version (Django's VERSION, default 1): bumping it makes every old
// entry unreachable at once.
func WithVersion(v int) Option { return func(c *config) { c.version = v } }

// WithDefaultTTL sets the TTL used for DefaultTTL (default 5 minutes); NoExpiry makes entries
// stored with DefaultTTL never expire.
func WithDefaultTTL(d time.Duration) Option { return func(c *config) { c.defaultTTL = d } }

// WithFailOpen makes the cache fail open: when the backend errors or does not answer within
// timeout, reads are misses and writes are skipped, counted and logged (at most every 10s),
// so a cache outage slows the service instead of breaking it.
func WithFailOpen(timeout time.Duration) Option {
	return func(c *config) { c.failOpen, c.failTimeout = true, timeout }
}

// WithLogger sets the logger; the default is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithTracerProvider sets the tracer provider; the default is the OpenTelemetry global one.
// Operations are traced only inside a recording span (a traced request), never as root spans.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tracerProvider = tp }
}

// WithMeterProvider sets the meter provider; the default is the OpenTelemetry global one.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.meterProvider = mp }
}

// Cache is the portable cache. It is safe for concurrent use.
type Cache struct {
	d         Driver
	caps      Capabilities
	prefix    string // the configured prefix
	keyPrefix string // prepended to every key: "prefix:version:", or "" for a private store
	maxKeyLen int
	ttl       time.Duration // the resolved default TTL: NoExpiry or positive
	failOpen  bool
	failWait  time.Duration
	logger    *slog.Logger
	tel       *telemetry
	// plain is true when no metrics are recorded and the cache does not fail open: an
	// operation outside a recording span then needs no bookkeeping around the driver call.
	plain bool
	// mem is the driver when it is memory://: a plain Get or Set goes straight to otter instead
	// of through the Driver interface (at tens of nanoseconds an operation, every call counts).
	mem      *memory
	closed   atomic.Bool
	failures failLog
}

// Open opens the cache at rawURL. Portable URL options: prefix, version, default_ttl (a
// duration, or "none" for no expiry), fail_open (bool), fail_timeout (default 100ms); the rest
// belong to the backend. An empty URL opens DefaultURL.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Cache, error) {
	if rawURL == "" {
		rawURL = DefaultURL
	}
	var fromURL []Option
	readPortable := func(o *registry.Options) {
		if o.Has("prefix") {
			fromURL = append(fromURL, WithPrefix(o.String("prefix", "")))
		}
		if o.Has("version") {
			fromURL = append(fromURL, WithVersion(int(o.Int("version", 1, 0, 1<<31-1))))
		}
		if o.Has("default_ttl") {
			if v := o.String("default_ttl", ""); v == "none" {
				fromURL = append(fromURL, WithDefaultTTL(NoExpiry))
			} else {
				fromURL = append(fromURL, WithDefaultTTL(o.Duration("default_ttl", DefaultDefaultTTL)))
			}
		}
		failTimeout := o.Duration("fail_timeout", DefaultFailTimeout)
		if o.Bool("fail_open", false) {
			fromURL = append(fromURL, WithFailOpen(failTimeout))
		}
	}
	d, err := drivers.Open(ctx, rawURL, readPortable)
	if err != nil {
		return nil, err
	}
	c, err := New(d, append(opts, fromURL...)...)
	if err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("cache: open %q: %w", registry.Redact(rawURL), err)
	}
	return c, nil
}

// New returns a Cache over a driver; Open is New for a URL.
func New(d Driver, opts ...Option) (*Cache, error) {
	cfg := config{version: 1, defaultTTL: DefaultDefaultTTL, failTimeout: DefaultFailTimeout, logger: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.defaultTTL == DefaultTTL || cfg.defaultTTL < NoExpiry {
		return nil, fmt.Errorf("%w: default TTL %s (want a positive duration or NoExpiry)", ErrInvalidTTL, cfg.defaultTTL)
	}
	if cfg.failOpen && cfg.failTimeout <= 0 {
		return nil, fmt.Errorf("cache: fail-open timeout must be positive, got %s", cfg.failTimeout)
	}
	if strings.ContainsFunc(cfg.prefix, isControl) {
		return nil, fmt.Errorf("%w: prefix %q has a control character", ErrInvalidKey, cfg.prefix)
	}
	caps := d.Capabilities()
	c := &Cache{
		d: d, caps: caps, prefix: cfg.prefix, maxKeyLen: caps.MaxKeyLen,
		ttl: cfg.defaultTTL, failOpen: cfg.failOpen && !caps.Private, failWait: cfg.failTimeout,
		logger: cfg.logger,
	}
	if c.maxKeyLen <= 0 {
		c.maxKeyLen = defaultMaxKeyLen
	}
	if !caps.Private {
		c.keyPrefix = cfg.prefix + ":" + strconv.Itoa(cfg.version) + ":"
		if caps.NoSpaceInKeys && strings.Contains(c.keyPrefix, " ") {
			return nil, fmt.Errorf("%w: prefix %q has a space, which %s keys cannot", ErrInvalidKey, cfg.prefix, caps.Name)
		}
	}
	c.tel = newTelemetry(&cfg, caps.Name)
	c.plain = c.tel.duration == nil && !c.failOpen
	if caps.Private { // no key prefix: the caller's key is the stored key
		c.mem, _ = d.(*memory)
	}
	return c, nil
}

// Driver returns the backend, for what the portable API does not cover. Keys given to it are
// the backend's own (prefix and version included) and are not checked; on memory:// a key with
// a control character written there can then be read back by Get, which checks keys only on a
// miss.
func (c *Cache) Driver() Driver { return c.d }

// Backend names the backend ("redis", "memory", ...).
func (c *Cache) Backend() string { return c.caps.Name }

// Close closes the backend. Operations after Close return ErrClosed.
func (c *Cache) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	return c.d.Close()
}

// Check returns a readiness check for kit/http/health: a ping for network backends, a round
// trip of a probe key otherwise.
func (c *Cache) Check() func(context.Context) error {
	return func(ctx context.Context) error {
		if p, ok := c.d.(Pinger); ok {
			if err := p.Ping(ctx); err != nil {
				return fmt.Errorf("cache %s: ping: %w", c.caps.Name, err)
			}
			return nil
		}
		_, err := c.d.Has(ctx, c.keyPrefix+"kit:health")
		return err
	}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// key validates k and returns the full key the backend stores. Keys are never changed to fit:
// a bad key is an error naming what is wrong.
func (c *Cache) key(ctx context.Context, k string) (string, error) {
	if c.closed.Load() {
		return "", ErrClosed
	}
	// A cancelled call does nothing, on every backend alike: code tested against memory:// must
	// behave as it will on redis://.
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if k == "" {
		return "", fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if !plainKey(k) {
		for i := 0; i < len(k); i++ {
			b := k[i]
			if b < 0x20 || b == 0x7f {
				return "", fmt.Errorf("%w: %q has a control character at byte %d", ErrInvalidKey, shortKey(k), i)
			}
			if b == ' ' && c.caps.NoSpaceInKeys {
				return "", fmt.Errorf("%w: %q has a space at byte %d, which %s keys cannot contain", ErrInvalidKey, shortKey(k), i, c.caps.Name)
			}
		}
	}
	if n := len(c.keyPrefix) + len(k); n > c.maxKeyLen {
		return "", fmt.Errorf("%w: %q is %d bytes with its prefix; %s allows %d", ErrInvalidKey, shortKey(k), n, c.caps.Name, c.maxKeyLen)
	}
	if c.keyPrefix == "" {
		return k, nil
	}
	return c.keyPrefix + k, nil
}

// plainKey reports whether k has no control character, DEL or space, eight bytes at a time
// (every key is checked on every operation); a key of eight bytes or more ends with one
// overlapping word instead of a byte loop. A false answer is settled by the exact byte-wise
// check, which allows spaces where the backend does.
func plainKey(k string) bool {
	n := len(k)
	if n < 8 {
		for i := 0; i < n; i++ {
			if b := k[i]; b <= ' ' || b == 0x7f {
				return false
			}
		}
		return true
	}
	for i := 0; i+8 <= n; i += 8 {
		if !plainWord(word(k[i : i+8])) {
			return false
		}
	}
	return n%8 == 0 || plainWord(word(k[n-8:]))
}

// word reads eight bytes of s, little-endian, with one bounds check (one load on amd64/arm64).
func word(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// plainWord reports whether none of w's bytes is below 0x21 (control or space) or 0x7f (DEL):
// the first term has a high bit set for a byte below 0x21, the second for a zero byte in
// w^0x7f7f..., exactly (no false answers for "any byte").
func plainWord(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	del := w ^ 0x7f*ones
	return ((w-0x21*ones)&^w|(del-ones)&^del)&highs == 0
}

func shortKey(k string) string {
	if len(k) > 64 {
		return k[:61] + "..."
	}
	return k
}

// resolveTTL turns a caller's TTL into the driver's: positive, or 0 for never.
func (c *Cache) resolveTTL(ttl time.Duration) (time.Duration, error) {
	switch {
	case ttl == DefaultTTL:
		ttl = c.ttl
	case ttl < NoExpiry:
		return 0, fmt.Errorf("%w: %s (use cache.NoExpiry for entries that never expire)", ErrInvalidTTL, ttl)
	}
	if ttl == NoExpiry {
		return 0, nil
	}
	if res := c.caps.TTLResolution; res > 0 && ttl%res != 0 {
		ttl = (ttl/res + 1) * res // round up: a short TTL must not become "never expires" or "already expired"
	}
	return ttl, nil
}

// Get returns the value stored at key, or ErrNotFound. For memory:// the returned bytes are the
// cache's own: do not modify them.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, error) {
	if m := c.mem; m != nil && c.plain {
		if c.closed.Load() {
			return nil, ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if key != "" && len(key) <= c.maxKeyLen && !trace.SpanFromContext(ctx).IsRecording() {
			// Keys stored through the Cache all passed the key check on their way in, so a hit
			// proves the key valid and only a miss needs the byte-wise check, to tell a bad key
			// from a missing one: the same answer as checking first, without its cost. (A key
			// written through Driver() was never checked; see Driver.)
			if e, ok := m.c.GetIfPresent(key); ok {
				return e.value, nil
			}
			if _, err := c.key(ctx, key); err != nil {
				return nil, err
			}
			return nil, c.closedErr(ErrNotFound)
		}
	}
	k, err := c.key(ctx, key)
	if err != nil {
		return nil, err
	}
	if c.plain && !trace.SpanFromContext(ctx).IsRecording() {
		v, err := c.d.Get(ctx, k)
		return v, c.closedErr(err)
	}
	return do(ctx, c, opGet, func(ctx context.Context) ([]byte, error) { return c.d.Get(ctx, k) })
}

// GetMany returns the values found for keys, keyed as given; missing keys are absent. Network
// backends fetch them in one round trip.
func (c *Cache) GetMany(ctx context.Context, keys ...string) (map[string][]byte, error) {
	if len(keys) == 0 {
		return map[string][]byte{}, nil
	}
	full := make([]string, len(keys))
	var back map[string]string
	if c.keyPrefix != "" {
		back = make(map[string]string, len(keys))
	}
	for i, key := range keys {
		k, err := c.key(ctx, key)
		if err != nil {
			return nil, err
		}
		full[i] = k
		if back != nil {
			back[k] = key
		}
	}
	found, err := do(ctx, c, opGetMany, func(ctx context.Context) (map[string][]byte, error) { return c.d.GetMany(ctx, full) })
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return map[string][]byte{}, nil // fail-open: all misses
		}
		return nil, err
	}
	if back == nil {
		return found, nil
	}
	out := make(map[string][]byte, len(found))
	for k, v := range found {
		out[back[k]] = v
	}
	return out, nil
}

// Set stores value at key for ttl (DefaultTTL, NoExpiry or a positive duration).
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	k, err := c.key(ctx, key)
	if err != nil {
		return err
	}
	d, err := c.resolveTTL(ttl)
	if err != nil {
		return err
	}
	if c.plain && !trace.SpanFromContext(ctx).IsRecording() {
		if m := c.mem; m != nil {
			m.c.Set(k, memoryEntry{value: value, ttl: d})
			return nil
		}
		return c.closedErr(c.d.Set(ctx, k, value, d))
	}
	_, err = do(ctx, c, opSet, func(ctx context.Context) (struct{}, error) { return struct{}{}, c.d.Set(ctx, k, value, d) })
	return err
}

// SetMany stores every item for ttl, in one round trip on network backends. Keys are validated
// first: one bad key stores nothing.
func (c *Cache) SetMany(ctx context.Context, items map[string][]byte, ttl time.Duration) error {
	d, err := c.resolveTTL(ttl)
	if err != nil {
		return err
	}
	list := make([]Item, 0, len(items))
	for _, key := range keysOf(items) {
		k, err := c.key(ctx, key)
		if err != nil {
			return err
		}
		list = append(list, Item{Key: k, Value: items[key], TTL: d})
	}
	if len(list) == 0 {
		return nil
	}
	_, err = do(ctx, c, opSetMany, func(ctx context.Context) (struct{}, error) { return struct{}{}, c.d.SetMany(ctx, list) })
	return err
}

func keysOf(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range maps.Keys(m) {
		keys = append(keys, k)
	}
	return keys
}

// Add stores value only if key is absent, and reports whether it stored.
func (c *Cache) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	return c.conditional(ctx, opAdd, key, value, ttl, c.d.Add)
}

// Replace stores value only if key is present, and reports whether it stored.
func (c *Cache) Replace(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	return c.conditional(ctx, opReplace, key, value, ttl, c.d.Replace)
}

func (c *Cache) conditional(ctx context.Context, o opName, key string, value []byte, ttl time.Duration,
	fn func(context.Context, string, []byte, time.Duration) (bool, error)) (bool, error) {
	k, err := c.key(ctx, key)
	if err != nil {
		return false, err
	}
	d, err := c.resolveTTL(ttl)
	if err != nil {
		return false, err
	}
	return do(ctx, c, o, func(ctx context.Context) (bool, error) { return fn(ctx, k, value, d) })
}

// Delete removes key and reports whether it existed.
func (c *Cache) Delete(ctx context.Context, key string) (bool, error) {
	k, err := c.key(ctx, key)
	if err != nil {
		return false, err
	}
	return do(ctx, c, opDelete, func(ctx context.Context) (bool, error) { return c.d.Delete(ctx, k) })
}

// DeleteMany removes keys and returns how many existed.
func (c *Cache) DeleteMany(ctx context.Context, keys ...string) (int, error) {
	full := make([]string, 0, len(keys))
	for _, key := range keys {
		k, err := c.key(ctx, key)
		if err != nil {
			return 0, err
		}
		full = append(full, k)
	}
	if len(full) == 0 {
		return 0, nil
	}
	return do(ctx, c, opDeleteMany, func(ctx context.Context) (int, error) { return c.d.DeleteMany(ctx, full) })
}

// Incr adds delta to the integer at key and returns the result; ErrNotFound if the key is
// missing (it is not created), ErrNotInteger if the value is not a decimal integer. Atomic on
// backends whose Capabilities say so (Redis, Memcached, databases). Not subject to fail-open: a
// counter that silently does nothing would lie.
func (c *Cache) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	k, err := c.key(ctx, key)
	if err != nil {
		return 0, err
	}
	op := c.start(ctx, opIncr)
	n, err := c.d.Incr(ctx, k, delta)
	c.finish(ctx, op, err, err == nil)
	return n, err
}

// Decr subtracts delta; see Incr. Memcached cannot go below zero.
func (c *Cache) Decr(ctx context.Context, key string, delta int64) (int64, error) {
	return c.Incr(ctx, key, -delta)
}

// Touch sets a new TTL on key and reports whether it existed.
func (c *Cache) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	k, err := c.key(ctx, key)
	if err != nil {
		return false, err
	}
	d, err := c.resolveTTL(ttl)
	if err != nil {
		return false, err
	}
	return do(ctx, c, opTouch, func(ctx context.Context) (bool, error) { return c.d.Touch(ctx, k, d) })
}

// Has reports whether key is present.
func (c *Cache) Has(ctx context.Context, key string) (bool, error) {
	k, err := c.key(ctx, key)
	if err != nil {
		return false, err
	}
	ok, err := do(ctx, c, opHas, func(ctx context.Context) (bool, error) { return c.d.Has(ctx, k) })
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return ok, err
}

// TTL returns key's remaining time to live, NoExpiry for an entry that never expires, or
// ErrNotFound. Memcached cannot tell (ErrNotSupported).
func (c *Cache) TTL(ctx context.Context, key string) (time.Duration, error) {
	k, err := c.key(ctx, key)
	if err != nil {
		return 0, err
	}
	d, err := do(ctx, c, opTTL, func(ctx context.Context) (time.Duration, error) { return c.d.TTL(ctx, k) })
	if err != nil {
		return 0, err
	}
	if d == 0 {
		return NoExpiry, nil
	}
	return d, nil
}

// Clear removes every entry of this cache — its prefix, all versions — and nothing else: never a
// whole shared Redis database. A backend that cannot delete by prefix (Memcached) returns
// ErrNotSupported. Not subject to fail-open.
func (c *Cache) Clear(ctx context.Context) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	prefix := c.keyPrefix
	if c.prefix != "" {
		prefix = c.prefix + ":" // every version
	}
	op := c.start(ctx, opClear)
	var err error
	if c.caps.Private {
		err = c.d.Clear(ctx, "")
	} else {
		err = c.d.Clear(ctx, prefix)
	}
	c.finish(ctx, op, err, err == nil)
	return err
}
