// Package redis registers the redis:// and rediss:// (TLS) schemes with kit/cache, on go-redis v9.
//
//	import _ "github.com/stackkit/stackkit/kit/cache/redis"
//
//	c, err := cache.Open(ctx, "redis://:secret@localhost:6379/0?prefix=orders&pool_size=20")
//
// One URL reaches a single server, a Sentinel-managed primary (master_name and sentinel) or a
// Redis Cluster (cluster=true and addr); see README.md for every option. Opening does no I/O:
// a cache whose Redis is down still opens, which fail-open caches rely on; use the portable
// cache's health check (the driver is a [cache.Pinger]) to find out whether Redis answers.
//
// Besides [cache.Driver] the driver implements [cache.Pinger], [cache.Locker] (SET NX PX with a
// token, released by a compare-and-delete script), [cache.Invalidator] (pub/sub, for the tiered
// cache) and [cache.Statser] (INFO). Clear removes only the keys under the cache's prefix, with
// SCAN and UNLINK; it never flushes a database. TTLs have millisecond precision.
//
// [NewDriver] wraps a go-redis client you configured yourself, and [Driver.Client] returns the
// client behind a cache for what the portable API does not cover.
package redis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stackkit/stackkit/kit/cache"
)

// maxKeyLen bounds full keys. Redis itself takes keys up to 512MB; a cache key longer than this is
// a bug in the caller, and every key travels in each command and pub/sub message.
const maxKeyLen = 1 << 16

// Driver is the Redis cache driver. It is safe for concurrent use.
type Driver struct {
	client goredis.UniversalClient
	// sharded is true for Cluster and Ring clients, where one command must not carry keys from
	// different hash slots: GetMany and DeleteMany become a pipeline of single-key commands
	// (still one round trip per node, in parallel).
	sharded bool

	ctx    context.Context // cancelled by Close: stops the invalidation subscribers
	cancel context.CancelFunc
	subs   sync.WaitGroup // running invalidation subscribers

	mu       sync.Mutex
	closed   bool
	closeErr error
}

// Interface checks: the portable type finds these capabilities by type assertion.
var (
	_ cache.Driver      = (*Driver)(nil)
	_ cache.Pinger      = (*Driver)(nil)
	_ cache.Locker      = (*Driver)(nil)
	_ cache.Invalidator = (*Driver)(nil)
	_ cache.Statser     = (*Driver)(nil)
)

// NewDriver returns a driver over a go-redis client you configured yourself (a *redis.Client, a
// failover client, a *redis.ClusterClient or a *redis.Ring); hand it to cache.New. The driver
// owns the client from then on: closing the cache closes it.
//
// Set ContextTimeoutEnabled on the client's options, as the URL opener does, if the cache is to
// be fail-open: without it go-redis waits for its own read timeout rather than the context's
// deadline.
func NewDriver(client goredis.UniversalClient) *Driver {
	d := &Driver{client: client}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	switch client.(type) {
	case *goredis.ClusterClient, *goredis.Ring:
		d.sharded = true
	}
	return d
}

// Client returns the go-redis client behind the driver, for what the portable API does not
// cover. Keys written through it bypass the cache's prefix and version.
func (d *Driver) Client() goredis.UniversalClient { return d.client }

// Capabilities describes Redis to the portable type.
func (d *Driver) Capabilities() cache.Capabilities {
	return cache.Capabilities{
		Name:          "redis",
		MaxKeyLen:     maxKeyLen,
		AtomicIncr:    true,
		TTLResolution: time.Millisecond,
	}
}

// Get returns the value stored at key, or cache.ErrNotFound.
func (d *Driver) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := d.client.Get(ctx, key).Bytes()
	if err != nil {
		return nil, wrap("get", err)
	}
	return v, nil
}

// GetMany reads every key with one MGET (one pipeline of GETs on Cluster and Ring).
func (d *Driver) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	found := make(map[string][]byte, len(keys))
	if len(keys) == 0 {
		return found, nil
	}
	if d.sharded {
		cmds := make([]*goredis.StringCmd, len(keys))
		_, err := d.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, k := range keys {
				cmds[i] = p.Get(ctx, k)
			}
			return nil
		})
		if err != nil && !errors.Is(err, goredis.Nil) {
			return nil, wrap("get many", err)
		}
		for i, cmd := range cmds {
			v, err := cmd.Bytes()
			switch {
			case err == nil:
				found[keys[i]] = v
			case !errors.Is(err, goredis.Nil):
				return nil, wrap("get many", err)
			}
		}
		return found, nil
	}
	vals, err := d.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, wrap("get many", err)
	}
	for i, v := range vals {
		switch v := v.(type) {
		case string:
			found[keys[i]] = []byte(v)
		case []byte:
			found[keys[i]] = v
		}
	}
	return found, nil
}

// Set stores value at key with SET PX, or with no expiry when ttl is 0.
func (d *Driver) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := d.client.Set(ctx, key, value, roundTTL(ttl)).Err(); err != nil {
		return wrap("set", err)
	}
	return nil
}

// SetMany stores every item in one pipeline of SETs.
func (d *Driver) SetMany(ctx context.Context, items []cache.Item) error {
	if len(items) == 0 {
		return nil
	}
	cmds, err := d.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, it := range items {
			p.Set(ctx, it.Key, it.Value, roundTTL(it.TTL))
		}
		return nil
	})
	if err != nil {
		return wrap("set many", err)
	}
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			return wrap("set many", err)
		}
	}
	return nil
}

// Add stores value only if key is absent (SET NX) and reports whether it did.
func (d *Driver) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	ok, err := d.client.SetNX(ctx, key, value, roundTTL(ttl)).Result()
	if err != nil {
		return false, wrap("add", err)
	}
	return ok, nil
}

// Replace stores value only if key is present (SET XX) and reports whether it did.
func (d *Driver) Replace(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	ok, err := d.client.SetXX(ctx, key, value, roundTTL(ttl)).Result()
	if err != nil {
		return false, wrap("replace", err)
	}
	return ok, nil
}

// Delete removes key and reports whether it existed.
func (d *Driver) Delete(ctx context.Context, key string) (bool, error) {
	n, err := d.client.Del(ctx, key).Result()
	if err != nil {
		return false, wrap("delete", err)
	}
	return n > 0, nil
}

// DeleteMany removes keys with one UNLINK (a pipeline of UNLINKs on Cluster and Ring) and returns
// how many existed. UNLINK frees large values in the background, so it does not stall Redis.
func (d *Driver) DeleteMany(ctx context.Context, keys []string) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	if !d.sharded {
		n, err := d.client.Unlink(ctx, keys...).Result()
		if err != nil {
			return 0, wrap("delete many", err)
		}
		return int(n), nil
	}
	cmds, err := d.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, k := range keys {
			p.Unlink(ctx, k)
		}
		return nil
	})
	if err != nil {
		return 0, wrap("delete many", err)
	}
	total := 0
	for _, cmd := range cmds {
		total += int(cmd.(*goredis.IntCmd).Val())
	}
	return total, nil
}

// incrScript adds to an existing integer and keeps its TTL (INCRBY does not touch it). A plain
// INCRBY would create a missing key at 0; the script returns nil instead, mapped to ErrNotFound.
// It returns the new value as the stored string: INCRBY's reply would pass through a Lua number,
// a double, which cannot hold every int64 (9223372036854775807 would come back negative).
var incrScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('INCRBY', KEYS[1], ARGV[1])
return redis.call('GET', KEYS[1])`)

// Incr adds delta to the integer at key atomically, keeping the key's TTL.
func (d *Driver) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	s, err := incrScript.Run(ctx, d.client, []string{key}, delta).Text()
	if err != nil {
		if strings.Contains(err.Error(), "not an integer") {
			return 0, fmt.Errorf("redis: incr: %w", cache.ErrNotInteger)
		}
		return 0, wrap("incr", err)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("redis: incr: %w", cache.ErrNotInteger)
	}
	return n, nil
}

// persistScript reports whether the key exists and removes its TTL. PERSIST alone answers 0 both
// for a missing key and for a key without a TTL.
var persistScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('PERSIST', KEYS[1])
return 1`)

// Touch sets a new TTL on key (PEXPIRE; for ttl 0, PERSIST) and reports whether it existed.
func (d *Driver) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	var (
		ok  bool
		err error
	)
	if ttl = roundTTL(ttl); ttl > 0 {
		ok, err = d.client.PExpire(ctx, key, ttl).Result()
	} else {
		var n int64
		n, err = persistScript.Run(ctx, d.client, []string{key}).Int64()
		ok = n == 1
	}
	if err != nil {
		return false, wrap("touch", err)
	}
	return ok, nil
}

// Has reports whether key exists.
func (d *Driver) Has(ctx context.Context, key string) (bool, error) {
	n, err := d.client.Exists(ctx, key).Result()
	if err != nil {
		return false, wrap("has", err)
	}
	return n > 0, nil
}

// TTL returns key's remaining time to live from PTTL: 0 for a key without expiry, ErrNotFound for
// a missing key.
func (d *Driver) TTL(ctx context.Context, key string) (time.Duration, error) {
	ttl, err := d.client.PTTL(ctx, key).Result()
	if err != nil {
		return 0, wrap("ttl", err)
	}
	switch {
	case ttl == -2: // go-redis passes PTTL's -2 and -1 through unscaled
		return 0, fmt.Errorf("redis: ttl: %w", cache.ErrNotFound)
	case ttl == -1:
		return 0, nil
	case ttl < time.Millisecond:
		// Under a millisecond left: still expiring, which 0 ("never expires") would deny.
		return time.Millisecond, nil
	}
	return ttl, nil
}

// Ping checks that Redis answers.
func (d *Driver) Ping(ctx context.Context) error {
	if err := d.client.Ping(ctx).Err(); err != nil {
		return wrap("ping", err)
	}
	return nil
}

// Close stops the invalidation subscribers and closes the client. It is safe to call twice.
func (d *Driver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return d.closeErr
	}
	d.closed = true
	d.cancel()
	d.subs.Wait() // subscribers never take d.mu, so waiting under it cannot deadlock
	if err := d.client.Close(); err != nil {
		d.closeErr = wrap("close", err)
	}
	return d.closeErr
}

// roundTTL rounds a TTL up to Redis' millisecond resolution: go-redis would truncate 1.5ms to 1ms
// (and log about anything shorter), and a TTL must never shrink.
func roundTTL(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return 0
	}
	if r := ttl % time.Millisecond; r != 0 {
		if ttl > math.MaxInt64-time.Millisecond {
			return ttl - r
		}
		ttl += time.Millisecond - r
	}
	return ttl
}

// wrap adds the operation to a go-redis error and maps it to the portable sentinels. go-redis
// errors carry neither keys nor values, so neither do these.
func wrap(op string, err error) error {
	switch {
	case errors.Is(err, goredis.Nil):
		return fmt.Errorf("redis: %s: %w", op, cache.ErrNotFound)
	case errors.Is(err, goredis.ErrClosed):
		return fmt.Errorf("redis: %s: %w: %w", op, cache.ErrClosed, err)
	}
	return fmt.Errorf("redis: %s: %w", op, err)
}
