package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"time"
)

// TieredOption configures NewTiered.
type TieredOption func(*tieredConfig)

type tieredConfig struct {
	localTTL      time.Duration
	localMaxBytes int64
	channel       string
}

// LocalTTL bounds how long the local layer keeps an entry (default 1 minute): the most a value
// can be stale if an invalidation message is lost without the subscription noticing.
func LocalTTL(d time.Duration) TieredOption { return func(c *tieredConfig) { c.localTTL = d } }

// LocalMaxBytes bounds the local layer (default DefaultMemoryMaxBytes).
func LocalMaxBytes(n int64) TieredOption { return func(c *tieredConfig) { c.localMaxBytes = n } }

// InvalidationChannel names the channel instances announce changes on (default
// "kit:cache:invalidate:" + the cache's prefix). Instances sharing a cache must share it.
func InvalidationChannel(name string) TieredOption { return func(c *tieredConfig) { c.channel = name } }

// NewTiered puts a local memory layer in front of shared: reads are served from process memory
// when possible; every write or delete on any instance evicts the key from every other instance's
// local layer through the backend's invalidation channel (Redis pub/sub), so two instances serve
// different values for no longer than the propagation delay. The shared cache's backend must
// implement Invalidator. The returned Cache owns shared: closing it closes both.
func NewTiered(ctx context.Context, shared *Cache, opts ...TieredOption) (*Cache, error) {
	inv, ok := shared.d.(Invalidator)
	if !ok {
		return nil, fmt.Errorf("cache: tiered: backend %s cannot publish invalidations", shared.caps.Name)
	}
	cfg := tieredConfig{localTTL: time.Minute, channel: "kit:cache:invalidate:" + shared.prefix}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.localTTL <= 0 {
		return nil, fmt.Errorf("%w: tiered local TTL %s must be positive", ErrInvalidTTL, cfg.localTTL)
	}
	local, err := NewMemory(cfg.localMaxBytes)
	if err != nil {
		return nil, err
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	subCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	t := &tiered{remote: shared.d, inv: inv, local: local, localTTL: cfg.localTTL, channel: cfg.channel,
		origin: hex.EncodeToString(id[:]), stop: stop, shared: shared}
	if err := inv.SubscribeInvalidations(subCtx, cfg.channel, t.invalidated); err != nil {
		stop()
		_ = local.Close()
		return nil, fmt.Errorf("cache: tiered: subscribe to %s: %w", cfg.channel, err)
	}
	// Same prefix, version, TTLs, fail-open and telemetry as shared; the tiered driver below.
	return &Cache{
		d: t, caps: t.Capabilities(), prefix: shared.prefix, keyPrefix: shared.keyPrefix,
		maxKeyLen: shared.maxKeyLen, ttl: shared.ttl, failOpen: shared.failOpen, failWait: shared.failWait,
		logger: shared.logger, tel: shared.tel,
	}, nil
}

// tiered is the driver behind NewTiered.
type tiered struct {
	remote   Driver
	inv      Invalidator
	local    Driver
	localTTL time.Duration
	channel  string
	origin   string
	stop     context.CancelFunc
	shared   *Cache
	// epoch counts invalidations received; a read that saw it change must not fill the local
	// layer with a value that may predate the change.
	epoch atomic.Uint64
}

func (t *tiered) invalidated(origin string, keys []string, all bool) {
	t.epoch.Add(1)
	if all || len(keys) == 0 { // a lost subscription, or a Clear somewhere
		_ = t.local.Clear(context.Background(), "")
		return
	}
	if origin == t.origin {
		return // our own write: the local layer already has the new value
	}
	_, _ = t.local.DeleteMany(context.Background(), keys)
}

func (t *tiered) publish(ctx context.Context, keys ...string) error {
	if err := t.inv.PublishInvalidation(ctx, t.channel, t.origin, keys...); err != nil {
		// The write itself succeeded; other instances' local copies of these keys stay stale for
		// up to the local TTL. Drop ours so at least this instance reads through.
		_, _ = t.local.DeleteMany(ctx, keys)
		return fmt.Errorf("cache: tiered: publish invalidation: %w", err)
	}
	return nil
}

func (t *tiered) localTTLFor(ttl time.Duration) time.Duration {
	if ttl > 0 && ttl < t.localTTL {
		return ttl
	}
	return t.localTTL
}

func (t *tiered) Capabilities() Capabilities {
	caps := t.remote.Capabilities()
	caps.Name = "tiered+" + caps.Name
	return caps
}

func (t *tiered) Get(ctx context.Context, key string) ([]byte, error) {
	if v, err := t.local.Get(ctx, key); err == nil {
		return v, nil
	}
	epoch := t.epoch.Load()
	v, err := t.remote.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	if t.epoch.Load() == epoch {
		_ = t.local.Set(ctx, key, v, t.localTTL)
	}
	return v, nil
}

func (t *tiered) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	var missing []string
	for _, k := range keys {
		if v, err := t.local.Get(ctx, k); err == nil {
			out[k] = v
		} else {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	epoch := t.epoch.Load()
	found, err := t.remote.GetMany(ctx, missing)
	if err != nil {
		return nil, err
	}
	fill := t.epoch.Load() == epoch
	for k, v := range found {
		out[k] = v
		if fill {
			_ = t.local.Set(ctx, k, v, t.localTTL)
		}
	}
	return out, nil
}

func (t *tiered) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := t.remote.Set(ctx, key, value, ttl); err != nil {
		_, _ = t.local.Delete(ctx, key)
		return err
	}
	_ = t.local.Set(ctx, key, value, t.localTTLFor(ttl))
	return t.publish(ctx, key)
}

func (t *tiered) SetMany(ctx context.Context, items []Item) error {
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.Key
	}
	if err := t.remote.SetMany(ctx, items); err != nil {
		_, _ = t.local.DeleteMany(ctx, keys)
		return err
	}
	for _, it := range items {
		_ = t.local.Set(ctx, it.Key, it.Value, t.localTTLFor(it.TTL))
	}
	return t.publish(ctx, keys...)
}

// written handles the outcome of a remote write whose new value this instance does not hold:
// drop the local copy, and tell the others when something changed.
func (t *tiered) written(ctx context.Context, changed bool, err error, keys ...string) error {
	_, _ = t.local.DeleteMany(ctx, keys)
	if err != nil || !changed {
		return err
	}
	return t.publish(ctx, keys...)
}

func (t *tiered) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	ok, err := t.remote.Add(ctx, key, value, ttl)
	return ok, t.written(ctx, ok, err, key)
}

func (t *tiered) Replace(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	ok, err := t.remote.Replace(ctx, key, value, ttl)
	return ok, t.written(ctx, ok, err, key)
}

func (t *tiered) Delete(ctx context.Context, key string) (bool, error) {
	ok, err := t.remote.Delete(ctx, key)
	return ok, t.written(ctx, ok, err, key)
}

func (t *tiered) DeleteMany(ctx context.Context, keys []string) (int, error) {
	n, err := t.remote.DeleteMany(ctx, keys)
	return n, t.written(ctx, n > 0, err, keys...)
}

func (t *tiered) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	n, err := t.remote.Incr(ctx, key, delta)
	return n, t.written(ctx, err == nil, err, key)
}

func (t *tiered) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ok, err := t.remote.Touch(ctx, key, ttl)
	return ok, t.written(ctx, ok, err, key)
}

func (t *tiered) Has(ctx context.Context, key string) (bool, error) {
	if ok, _ := t.local.Has(ctx, key); ok {
		return true, nil
	}
	return t.remote.Has(ctx, key)
}

func (t *tiered) TTL(ctx context.Context, key string) (time.Duration, error) {
	return t.remote.TTL(ctx, key)
}

func (t *tiered) Clear(ctx context.Context, prefix string) error {
	err := t.remote.Clear(ctx, prefix)
	_ = t.local.Clear(ctx, "")
	if err != nil {
		return err
	}
	return t.inv.PublishInvalidation(ctx, t.channel, t.origin) // no keys: everything
}

func (t *tiered) Close() error {
	t.stop()
	_ = t.local.Close()
	return t.shared.Close()
}
