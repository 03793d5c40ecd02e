package cache

import "errors"

var (
	// ErrNotFound means the key is not in the cache (or has expired).
	ErrNotFound = errors.New("cache: not found")
	// ErrNotInteger means Incr or Decr found a value that is not a decimal integer.
	ErrNotInteger = errors.New("cache: value is not an integer")
	// ErrInvalidKey means a key is empty, too long, or has characters the backend cannot store.
	// The key is never silently changed.
	ErrInvalidKey = errors.New("cache: invalid key")
	// ErrInvalidTTL means a TTL is negative (other than NoExpiry).
	ErrInvalidTTL = errors.New("cache: invalid TTL")
	// ErrNotSupported means the backend cannot do the operation (Memcached cannot Clear a prefix).
	ErrNotSupported = errors.New("cache: not supported by this backend")
	// ErrClosed means the cache was closed.
	ErrClosed = errors.New("cache: closed")
)
