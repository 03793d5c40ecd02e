package cache

import (
	"context"
	"time"
)

// Driver is what a cache backend implements: byte-level storage under full keys. The portable
// [Cache] has already applied the prefix and version, validated the key against the driver's
// [KeyRules], resolved the TTL, and it adds telemetry and fail-open; a driver only does I/O.
//
// TTLs reaching a driver are positive, or 0 meaning "never expires". A missing key is reported
// with ErrNotFound (Get, Incr, TTL) or a false result (Add, Replace, Delete, Touch). Every method
// honours ctx. Drivers must be safe for concurrent use.
type Driver interface {
	Get(ctx context.Context, key string) ([]byte, error)
	// GetMany returns the values found; missing keys are absent from the map. Network backends
	// do it in one round trip.
	GetMany(ctx context.Context, keys []string) (map[string][]byte, error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// SetMany stores every item, in one round trip on network backends.
	SetMany(ctx context.Context, items []Item) error
	// Add stores only if the key is absent and reports whether it stored.
	Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// Replace stores only if the key is present and reports whether it stored.
	Replace(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// Delete reports whether the key existed.
	Delete(ctx context.Context, key string) (bool, error)
	// DeleteMany returns how many of the keys existed.
	DeleteMany(ctx context.Context, keys []string) (int, error)
	// Incr adds delta (which may be negative) to the integer stored at key and returns the new
	// value: ErrNotFound if the key is missing, ErrNotInteger if its value is not a decimal integer.
	// Atomic where the backend can do it (see Capabilities.AtomicIncr).
	Incr(ctx context.Context, key string, delta int64) (int64, error)
	// Touch sets a new TTL on an existing key and reports whether it existed.
	Touch(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Has reports whether the key is present.
	Has(ctx context.Context, key string) (bool, error)
	// TTL returns the remaining time to live, 0 for a key that never expires, or ErrNotFound.
	TTL(ctx context.Context, key string) (time.Duration, error)
	// Clear removes every key that starts with prefix and nothing else. A backend that cannot
	// (Memcached) returns ErrNotSupported. The prefix is never empty, except for a Private
	// driver, whose store is its cache's alone: "" clears it all.
	Clear(ctx context.Context, prefix string) error
	// Capabilities describes the backend to the portable type.
	Capabilities() Capabilities
	// Close releases the backend's connections.
	Close() error
}

// Item is one entry for SetMany.
type Item struct {
	Key   string
	Value []byte
	TTL   time.Duration // 0: never expires
}

// Capabilities tells the portable type how to treat a backend.
type Capabilities struct {
	// Name is the backend's name for telemetry and messages: "memory", "redis", "memcached", ...
	Name string
	// Private is true when the store belongs to this Cache alone (memory://, dummy://): the
	// portable type then skips the prefix, which only separates caches sharing a store.
	Private bool
	// MaxKeyLen is the longest full key (prefix included) in bytes the backend accepts; 0 means
	// the portable default (1024).
	MaxKeyLen int
	// NoSpaceInKeys rejects keys containing spaces (Memcached's text protocol).
	NoSpaceInKeys bool
	// AtomicIncr is true when Incr is atomic across processes.
	AtomicIncr bool
	// TTLResolution is the backend's TTL granularity (1s for Memcached); shorter TTLs are rounded
	// up to it rather than becoming "never expires".
	TTLResolution time.Duration
}

// Pinger is implemented by network backends for health checks.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Locker is implemented by backends that can hold a lock for GetOrSet across processes (Redis:
// SET NX PX with a random token, released only by the token's owner).
type Locker interface {
	// Lock takes key for ttl if nobody holds it, reporting whether it did.
	Lock(ctx context.Context, key, token string, ttl time.Duration) (bool, error)
	// Unlock releases key if token still holds it.
	Unlock(ctx context.Context, key, token string) error
}

// Invalidator is implemented by shared backends that can tell other processes which keys changed,
// for the tiered cache's local layer (Redis: pub/sub).
type Invalidator interface {
	// PublishInvalidation tells every subscriber on channel that keys changed (no keys: that
	// everything did, after a Clear); origin identifies the sender so it can ignore its own
	// messages.
	PublishInvalidation(ctx context.Context, channel, origin string, keys ...string) error
	// SubscribeInvalidations calls fn for every invalidation published on channel until ctx is
	// done. It returns once the subscription is active, so a publish after it returns is seen.
	// fn is called with all=true when the subscription was interrupted and messages may have been
	// lost: the local layer must then be dropped whole.
	SubscribeInvalidations(ctx context.Context, channel string, fn func(origin string, keys []string, all bool)) error
}

// Statser is implemented by backends that can report statistics (kitctl cache stats).
type Statser interface {
	Stats(ctx context.Context) (map[string]string, error)
}
