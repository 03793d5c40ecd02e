package cache

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"time"

	"golang.org/x/sync/singleflight"
)

// Codec turns values into bytes and back.
type Codec[T any] interface {
	Encode(v T) ([]byte, error)
	Decode(data []byte, v *T) error
}

// JSONCodec is the default codec: readable in redis-cli, and by services in other languages.
type JSONCodec[T any] struct{}

func (JSONCodec[T]) Encode(v T) ([]byte, error)     { return json.Marshal(v) }
func (JSONCodec[T]) Decode(data []byte, v *T) error { return json.Unmarshal(data, v) }

// TypedOption configures a Typed cache.
type TypedOption func(*typedConfig)

type typedConfig struct {
	lockTTL time.Duration
	beta    float64
}

// DistributedLock makes GetOrSet take a lock in the backend before calling the loader on a
// miss, so that many processes missing one key at once call the loader once between them; the
// others wait for the value (up to ttl, then load anyway). The backend must implement Locker
// (Redis does); ttl also bounds how long a crashed holder blocks the key.
func DistributedLock(ttl time.Duration) TypedOption { return func(c *typedConfig) { c.lockTTL = ttl } }

// EarlyRefresh makes GetOrSet refresh a value in the background shortly before it expires, at
// a random moment that comes earlier the longer the loader takes (the XFetch algorithm, with
// beta the eagerness: 1 is the usual choice), so hot keys never all expire and miss together.
// Values are then stored with a small header holding their expiry and load time.
func EarlyRefresh(beta float64) TypedOption { return func(c *typedConfig) { c.beta = beta } }

// Typed stores values of type T in a Cache through a codec, and computes missing values once.
type Typed[T any] struct {
	c     *Cache
	codec Codec[T]
	cfg   typedConfig
	group singleflight.Group
}

// NewTyped returns a typed view of c with the JSON codec.
func NewTyped[T any](c *Cache, opts ...TypedOption) *Typed[T] {
	return NewTypedCodec[T](c, JSONCodec[T]{}, opts...)
}

// NewTypedCodec returns a typed view of c with codec.
func NewTypedCodec[T any](c *Cache, codec Codec[T], opts ...TypedOption) *Typed[T] {
	t := &Typed[T]{c: c, codec: codec}
	for _, o := range opts {
		o(&t.cfg)
	}
	return t
}

// Get returns the value at key, or ErrNotFound. A stored value that does not decode is a miss:
// it is counted (cache.decode.errors) and deleted, never a panic or an error for the caller.
func (t *Typed[T]) Get(ctx context.Context, key string) (T, error) {
	v, _, err := t.get(ctx, key)
	return v, err
}

// Set stores v at key for ttl.
func (t *Typed[T]) Set(ctx context.Context, key string, v T, ttl time.Duration) error {
	return t.set(ctx, key, v, ttl, 0)
}

// Delete removes key and reports whether it existed.
func (t *Typed[T]) Delete(ctx context.Context, key string) (bool, error) { return t.c.Delete(ctx, key) }

// envelope is the header of values stored with EarlyRefresh.
const (
	envelopeMagic = 0x00 // JSON, and most codecs, never start with a NUL byte
	envelopeLen   = 1 + 8 + 4
)

func (t *Typed[T]) get(ctx context.Context, key string) (v T, env envelope, err error) {
	data, err := t.c.Get(ctx, key)
	if err != nil {
		return v, env, err
	}
	payload := data
	if len(data) >= envelopeLen && data[0] == envelopeMagic {
		env = envelope{
			expires: time.UnixMilli(int64(binary.BigEndian.Uint64(data[1:9]))),
			delta:   time.Duration(binary.BigEndian.Uint32(data[9:13])) * time.Millisecond,
		}
		payload = data[envelopeLen:]
	}
	if err := t.codec.Decode(payload, &v); err != nil {
		t.c.decodeFailed(ctx)
		_, _ = t.c.Delete(ctx, key)
		var zero T
		return zero, envelope{}, fmt.Errorf("%w (stored value of %q did not decode and was deleted: %v)", ErrNotFound, shortKey(key), err)
	}
	return v, env, nil
}

type envelope struct {
	expires time.Time     // zero: no envelope
	delta   time.Duration // how long the last load took
}

func (t *Typed[T]) set(ctx context.Context, key string, v T, ttl time.Duration, delta time.Duration) error {
	payload, err := t.codec.Encode(v)
	if err != nil {
		return fmt.Errorf("cache: encode %q: %w", shortKey(key), err)
	}
	if t.cfg.beta > 0 {
		d, err := t.c.resolveTTL(ttl)
		if err != nil {
			return err
		}
		if d > 0 {
			buf := make([]byte, envelopeLen, envelopeLen+len(payload))
			buf[0] = envelopeMagic
			binary.BigEndian.PutUint64(buf[1:9], uint64(time.Now().Add(d).UnixMilli()))
			binary.BigEndian.PutUint32(buf[9:13], uint32(min(delta.Milliseconds(), math.MaxUint32)))
			payload = append(buf, payload...)
		}
	}
	return t.c.Set(ctx, key, payload, ttl)
}

// GetOrSet returns the value at key, calling loader to compute and store it on a miss.
// Concurrent misses for one key in this process call loader once and share its result; with
// DistributedLock, misses across processes do too. With EarlyRefresh, a value close to expiry is
// returned at once and refreshed in the background. Loader errors are returned and not cached.
// A cache that fails (and is not fail-open) still serves: the loader's value is returned even if
// storing it failed.
func (t *Typed[T]) GetOrSet(ctx context.Context, key string, ttl time.Duration, loader func(ctx context.Context) (T, error)) (T, error) {
	v, env, err := t.get(ctx, key)
	if err == nil {
		if t.cfg.beta > 0 && !env.expires.IsZero() && t.dueForRefresh(env) {
			// Detached: the refresh outlives this request; singleflight keeps it to one per key.
			t.group.DoChan(key, func() (any, error) {
				return t.load(context.WithoutCancel(ctx), key, ttl, loader)
			})
		}
		return v, nil
	}
	// A miss, or a failing cache: either way the loader's value is served.
	return t.loadShared(ctx, key, ttl, loader)
}

// loadShared runs one load per key in this process; every caller waits only as long as its own
// context allows, while the load itself is not cancelled by any one caller leaving.
func (t *Typed[T]) loadShared(ctx context.Context, key string, ttl time.Duration, loader func(context.Context) (T, error)) (T, error) {
	ch := t.group.DoChan(key, func() (any, error) {
		return t.load(context.WithoutCancel(ctx), key, ttl, loader)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			var zero T
			return zero, r.Err
		}
		return r.Val.(T), nil
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// dueForRefresh is XFetch: refresh when now - delta·beta·ln(rand) reaches the expiry.
func (t *Typed[T]) dueForRefresh(env envelope) bool {
	delta := max(env.delta, time.Millisecond)
	early := time.Duration(float64(delta) * t.cfg.beta * -math.Log(1-mrand.Float64()))
	return !time.Now().Add(early).Before(env.expires)
}

func (t *Typed[T]) load(ctx context.Context, key string, ttl time.Duration, loader func(context.Context) (T, error)) (T, error) {
	if t.cfg.lockTTL > 0 {
		if locker, ok := t.c.d.(Locker); ok {
			if v, done, err := t.loadLocked(ctx, locker, key, ttl, loader); done {
				return v, err
			}
		}
	}
	return t.compute(ctx, key, ttl, loader)
}

func (t *Typed[T]) compute(ctx context.Context, key string, ttl time.Duration, loader func(context.Context) (T, error)) (T, error) {
	start := time.Now()
	v, err := loader(ctx)
	if err != nil {
		return v, err
	}
	if err := t.set(ctx, key, v, ttl, time.Since(start)); err != nil {
		t.c.logger.WarnContext(ctx, "cache: could not store a loaded value", "key", shortKey(key), "error", err)
	}
	return v, nil
}

// loadLocked takes the backend lock for key and computes, or waits for the holder's value.
// done is false when the lock could not be used at all and the caller should just compute.
func (t *Typed[T]) loadLocked(ctx context.Context, locker Locker, key string, ttl time.Duration, loader func(context.Context) (T, error)) (v T, done bool, err error) {
	full, err := t.c.key(ctx, key)
	if err != nil {
		return v, true, err
	}
	lockKey := full + ":lock"
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	token := hex.EncodeToString(tok[:])
	got, err := locker.Lock(ctx, lockKey, token, t.cfg.lockTTL)
	if err != nil {
		return v, false, nil // a failing lock must not stop the load
	}
	if got {
		defer func() { _ = locker.Unlock(context.WithoutCancel(ctx), lockKey, token) }()
		// Someone may have stored the value between our miss and our lock.
		if v, _, err := t.get(ctx, key); err == nil {
			return v, true, nil
		}
		v, err := t.compute(ctx, key, ttl, loader)
		return v, true, err
	}
	// Another process is loading: wait for its value, polling with backoff, up to the lock TTL.
	deadline := time.Now().Add(t.cfg.lockTTL)
	wait := 10 * time.Millisecond
	for time.Now().Before(deadline) {
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return v, true, ctx.Err()
		case <-timer.C:
		}
		if v, _, err := t.get(ctx, key); err == nil {
			return v, true, nil
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
	return v, false, nil // the holder took too long: compute ourselves
}
