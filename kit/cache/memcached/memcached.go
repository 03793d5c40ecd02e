// Package memcached registers the memcached:// scheme with kit/cache, on
// github.com/bradfitz/gomemcache.
//
//	import _ "github.com/stackkit/stackkit/kit/cache/memcached"
//
//	c, err := cache.Open(ctx, "memcached://10.0.0.1:11211,10.0.0.2:11211?prefix=orders&timeout=250ms")
//	err = c.Set(ctx, "greeting", []byte("hello"), time.Minute)
//
// Keys are spread over the servers by a hash of the key. Options: timeout (default 500ms),
// max_idle_conns (per server, default 16), server (repeatable; for IPv6 addresses and lists that
// url.Parse cannot take in the host) and flush_on_clear; see README.md.
//
// What Memcached cannot do, and what the driver does about it:
//
//   - Clear: Memcached cannot list keys or delete by prefix, so Clear returns
//     cache.ErrNotSupported — unless flush_on_clear=true, where it runs flush_all on every server,
//     deleting every key there, this cache's or not. Use that only for servers dedicated to
//     this one cache. To invalidate a shared server's cache, bump the cache's version instead.
//   - TTL: the text protocol cannot report a key's remaining lifetime: TTL returns
//     cache.ErrNotSupported.
//   - Incr/Decr: Memcached counters are unsigned 64-bit: decrementing floors at 0, incrementing
//     wraps at 2^64, and a value such as "-5" is not a number to it (cache.ErrNotInteger).
//   - Expiry has whole-second resolution: a sub-second part of a TTL rounds up (1500ms keeps the
//     entry 2s). A TTL over 30 days is sent as an absolute Unix time, as Memcached requires.
//   - Keys are at most 250 bytes, prefix included, without spaces or control characters.
//   - Context: gomemcache takes no context. Each call checks ctx first, and a call whose ctx
//     ends before the server answers returns ctx.Err() at once; the request itself finishes (or
//     fails) in the background within the socket timeout, so a write may still land.
//
// Besides cache.Driver, the driver is a cache.Pinger (version on every server) and a
// cache.Statser (the servers' stats). [New] builds one from a [Config] for cache.New, and
// [Driver.Client] returns the gomemcache client.
package memcached

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/stackkit/stackkit/kit/cache"
)

// MaxKeyLen is the longest key Memcached accepts, in bytes.
const MaxKeyLen = 250

// maxRelative is the longest expiration Memcached takes as relative seconds; above it, an
// expiration is an absolute Unix time.
const maxRelative = 30 * 24 * 60 * 60

// fanOut bounds the concurrent requests of SetMany and DeleteMany: the protocol has no
// multi-key set or delete.
const fanOut = 16

// Driver is the Memcached cache driver. It is safe for concurrent use.
type Driver struct {
	client       *memcache.Client
	servers      *memcache.ServerList
	timeout      time.Duration
	flushOnClear bool
}

var (
	_ cache.Driver  = (*Driver)(nil)
	_ cache.Pinger  = (*Driver)(nil)
	_ cache.Statser = (*Driver)(nil)
)

// Client returns the gomemcache client, for what the portable API does not cover.
func (d *Driver) Client() *memcache.Client { return d.client }

// do runs fn, which blocks in gomemcache without a context, so that the caller gets ctx.Err()
// as soon as ctx ends. fn then finishes in the background within the socket timeout; its
// results must only be read when do returns fn's own error.
func do(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := ctx.Done()
	if done == nil { // context.Background and the like: nothing to wait for
		return fn()
	}
	ch := make(chan error, 1)
	go func() { ch <- fn() }()
	select {
	case err := <-ch:
		return err
	case <-done:
		return ctx.Err()
	}
}

// expiration converts a TTL into Memcached's exptime: whole seconds rounded up, relative up to
// 30 days and an absolute Unix time beyond (capped at the largest the protocol's int32 holds,
// in 2038). 0 means never.
func expiration(ttl time.Duration, now time.Time) int32 {
	if ttl <= 0 {
		return 0
	}
	secs := int64((ttl + time.Second - 1) / time.Second)
	if secs <= maxRelative {
		return int32(secs)
	}
	abs := now.Unix() + secs
	if abs > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(abs)
}

// mapErr turns gomemcache's errors into the portable ones, keeping the original in the chain.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, memcache.ErrCacheMiss):
		return fmt.Errorf("%w (%w)", cache.ErrNotFound, err)
	case errors.Is(err, memcache.ErrMalformedKey):
		return fmt.Errorf("%w: memcached keys are at most %d bytes without spaces or control characters (%w)",
			cache.ErrInvalidKey, MaxKeyLen, err)
	}
	return fmt.Errorf("memcached: %w", err)
}

// Get returns the value stored at key, or cache.ErrNotFound.
func (d *Driver) Get(ctx context.Context, key string) ([]byte, error) {
	var it *memcache.Item
	err := do(ctx, func() (err error) { it, err = d.client.Get(key); return })
	if err != nil {
		return nil, mapErr(err)
	}
	return it.Value, nil
}

// GetMany fetches keys with one request per server holding any of them, in parallel.
func (d *Driver) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	var items map[string]*memcache.Item
	err := do(ctx, func() (err error) { items, err = d.client.GetMulti(keys); return })
	if err != nil {
		return nil, mapErr(err)
	}
	out := make(map[string][]byte, len(items))
	for k, it := range items {
		out[k] = it.Value
	}
	return out, nil
}

// Set stores value at key for ttl (0: never expires).
func (d *Driver) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	it := &memcache.Item{Key: key, Value: value, Expiration: expiration(ttl, time.Now())}
	return mapErr(do(ctx, func() error { return d.client.Set(it) }))
}

// SetMany stores every item. The protocol has no multi-key set: the sets run concurrently,
// at most 16 at a time, rather than in one round trip.
func (d *Driver) SetMany(ctx context.Context, items []cache.Item) error {
	now := time.Now()
	return d.each(ctx, len(items), func(i int) error {
		it := items[i]
		return d.client.Set(&memcache.Item{Key: it.Key, Value: it.Value, Expiration: expiration(it.TTL, now)})
	})
}

// each runs fn(0..n-1) with bounded concurrency and returns the errors joined.
func (d *Driver) each(ctx context.Context, n int, fn func(i int) error) error {
	if n == 1 {
		return mapErr(do(ctx, func() error { return fn(0) }))
	}
	errs := make([]error, n)
	err := do(ctx, func() error {
		sem := make(chan struct{}, fanOut)
		var wg sync.WaitGroup
		for i := range n {
			sem <- struct{}{}
			if ctx.Err() != nil { // stop sending once the caller gave up
				<-sem
				errs[i] = ctx.Err()
				continue
			}
			wg.Go(func() {
				defer func() { <-sem }()
				errs[i] = fn(i)
			})
		}
		wg.Wait()
		return nil
	})
	if err != nil {
		return err
	}
	for i, e := range errs {
		errs[i] = mapErr(e)
	}
	return errors.Join(errs...)
}

// Add stores value only if key is absent and reports whether it stored.
func (d *Driver) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	it := &memcache.Item{Key: key, Value: value, Expiration: expiration(ttl, time.Now())}
	return stored(do(ctx, func() error { return d.client.Add(it) }))
}

// Replace stores value only if key is present and reports whether it stored.
func (d *Driver) Replace(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	it := &memcache.Item{Key: key, Value: value, Expiration: expiration(ttl, time.Now())}
	return stored(do(ctx, func() error { return d.client.Replace(it) }))
}

// stored reads the outcome of add and replace: NOT_STORED is a false, not an error.
func stored(err error) (bool, error) {
	if errors.Is(err, memcache.ErrNotStored) {
		return false, nil
	}
	return err == nil, mapErr(err)
}

// found reads the outcome of delete and touch: NOT_FOUND is a false, not an error.
func found(err error) (bool, error) {
	if errors.Is(err, memcache.ErrCacheMiss) {
		return false, nil
	}
	return err == nil, mapErr(err)
}

// Delete removes key and reports whether it existed.
func (d *Driver) Delete(ctx context.Context, key string) (bool, error) {
	return found(do(ctx, func() error { return d.client.Delete(key) }))
}

// DeleteMany removes keys and returns how many existed. The protocol has no multi-key delete:
// the deletes run concurrently, at most 16 at a time.
func (d *Driver) DeleteMany(ctx context.Context, keys []string) (int, error) {
	var existed atomic.Int64 // also written by deletes still running after ctx ended
	err := d.each(ctx, len(keys), func(i int) error {
		err := d.client.Delete(keys[i])
		if err == nil {
			existed.Add(1)
		}
		if errors.Is(err, memcache.ErrCacheMiss) {
			return nil
		}
		return err
	})
	return int(existed.Load()), err
}

// Incr adds delta to the counter at key with incr, or subtracts with decr when delta is
// negative. Memcached counters are unsigned 64-bit: decr stops at 0 and incr wraps at 2^64. A
// result above math.MaxInt64 is an error (the counter keeps it).
func (d *Driver) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	var n uint64
	err := do(ctx, func() (err error) {
		if delta >= 0 {
			n, err = d.client.Increment(key, uint64(delta))
		} else {
			n, err = d.client.Decrement(key, uint64(-(delta+1))+1) // -MinInt64 overflows int64
		}
		return err
	})
	if err != nil {
		// gomemcache reports "CLIENT_ERROR cannot increment or decrement non-numeric value"
		// only as text.
		if msg := err.Error(); strings.Contains(msg, "non-numeric") || strings.Contains(msg, "invalid numeric") {
			return 0, fmt.Errorf("%w (%w)", cache.ErrNotInteger, err)
		}
		return 0, mapErr(err)
	}
	if n > math.MaxInt64 {
		return 0, fmt.Errorf("memcached: counter %q is %d, beyond int64 (Memcached counters are unsigned)", key, n)
	}
	return int64(n), nil
}

// Touch sets a new TTL on key and reports whether it existed.
func (d *Driver) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	exp := expiration(ttl, time.Now())
	return found(do(ctx, func() error { return d.client.Touch(key, exp) }))
}

// Has reports whether key is present. gomemcache has no meta commands, so this is a get that
// transfers the value.
func (d *Driver) Has(ctx context.Context, key string) (bool, error) {
	_, err := d.Get(ctx, key)
	if errors.Is(err, cache.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// TTL returns cache.ErrNotSupported: Memcached's text protocol cannot report a key's remaining
// time to live.
func (d *Driver) TTL(ctx context.Context, key string) (time.Duration, error) {
	return 0, fmt.Errorf("%w: Memcached cannot report a key's TTL", cache.ErrNotSupported)
}

// Clear returns cache.ErrNotSupported, because Memcached can neither list keys nor delete them
// by prefix. With flush_on_clear=true (Config.FlushOnClear) it runs flush_all on every server
// instead, deleting EVERY key there — whatever its prefix — so only use that on servers
// dedicated to this cache.
func (d *Driver) Clear(ctx context.Context, prefix string) error {
	if !d.flushOnClear {
		return fmt.Errorf("%w: Memcached cannot delete keys by prefix; bump the cache version to "+
			"invalidate it, or set flush_on_clear=true if the servers hold this cache alone", cache.ErrNotSupported)
	}
	return mapErr(do(ctx, d.client.FlushAll))
}

// Capabilities describes Memcached to the portable cache.
func (d *Driver) Capabilities() cache.Capabilities {
	return cache.Capabilities{
		Name:          "memcached",
		MaxKeyLen:     MaxKeyLen,
		NoSpaceInKeys: true,
		AtomicIncr:    true,
		TTLResolution: time.Second,
	}
}

// Ping asks every server for its version.
func (d *Driver) Ping(ctx context.Context) error {
	return mapErr(do(ctx, d.client.Ping))
}

// Close closes the idle connections.
func (d *Driver) Close() error { return d.client.Close() }
