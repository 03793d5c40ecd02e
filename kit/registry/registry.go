// Package registry is the scheme -> opener registry that every Stackkit module uses to select a
// backend by URL, in the manner of database/sql drivers and gocloud.dev URL openers.
//
// A module keeps one Registry for its portable type; each backend registers an opener for its URL
// schemes in init, and users pick a backend by importing it and opening a URL:
//
//	var openers = registry.New[Driver]("cache")
//
//	func Register(scheme string, open registry.Opener[Driver]) { openers.Register(scheme, open) }
//
//	func openRedis(ctx context.Context, u *url.URL, opts *registry.Options) (Driver, error) {
//		poolSize := opts.Int("pool_size", 10, 1, 1000)
//		if err := opts.Err(); err != nil {
//			return nil, err
//		}
//		return dial(ctx, u.Host, poolSize)
//	}
//
//	d, err := openers.Open(ctx, "redis://localhost:6379/0?pool_size=20")
//
// The package also holds what every opener needs: URL redaction for errors and logs ([Redact]) and
// strict parsing of query-string options ([Options]), where an unknown or malformed option is an
// error that names it.
package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// ErrUnknownScheme is returned by [Registry.Open] for a URL whose scheme has no registered opener.
var ErrUnknownScheme = errors.New("unknown scheme")

// ErrInvalidURL is returned by [Registry.Open] for a URL that cannot be parsed or has no scheme.
var ErrInvalidURL = errors.New("invalid URL")

// Opener opens a backend for a parsed URL. It reads the options it supports from opts and calls
// opts.Err() before doing any I/O, so a typo in an option fails fast. It must not put secrets from
// the URL into the errors it returns (errors are scrubbed of them anyway, see [Scrub]).
type Opener[T any] func(ctx context.Context, u *url.URL, opts *Options) (T, error)

// Registry maps URL schemes to openers. The zero value is not usable; create one with [New].
// A Registry is safe for concurrent use.
type Registry[T any] struct {
	kind    string
	mu      sync.RWMutex
	openers map[string]Opener[T]
}

// New returns an empty registry. kind names what it opens ("cache", "database") in error messages.
func New[T any](kind string) *Registry[T] {
	return &Registry[T]{kind: kind, openers: make(map[string]Opener[T])}
}

// Register makes open the opener for scheme. Schemes are case-insensitive and stored in lower case.
// Register panics if open is nil, if scheme is not a valid URL scheme, or if the scheme is already
// registered: two backends claiming one scheme is a programming error that must not be resolved by
// import order.
func (r *Registry[T]) Register(scheme string, open Opener[T]) {
	if open == nil {
		panic(fmt.Sprintf("%s: Register of scheme %q with a nil opener", r.kind, scheme))
	}
	if !validScheme(scheme) {
		panic(fmt.Sprintf("%s: Register of invalid scheme %q", r.kind, scheme))
	}
	scheme = strings.ToLower(scheme)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.openers[scheme]; dup {
		panic(fmt.Sprintf("%s: Register called twice for scheme %q", r.kind, scheme))
	}
	r.openers[scheme] = open
}

// Lookup returns the opener registered for scheme.
func (r *Registry[T]) Lookup(scheme string) (Opener[T], bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	open, ok := r.openers[strings.ToLower(scheme)]
	return open, ok
}

// Schemes returns the registered schemes, sorted.
func (r *Registry[T]) Schemes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	schemes := make([]string, 0, len(r.openers))
	for s := range r.openers {
		schemes = append(schemes, s)
	}
	slices.Sort(schemes)
	return schemes
}

// Open parses rawURL and calls the opener registered for its scheme.
//
// The portable type passes its own option readers as portable: they run before the opener on the
// same [Options], so options common to every backend (a key prefix, pool sizes) and the backend's
// own are validated together, and an unknown option is reported with the full list of valid ones.
// If the opener succeeds without having reported an option error, Open still checks: the value is
// closed (when it is an io.Closer) and the option error returned.
//
// Errors name the URL with its secrets redacted; an opener's error is wrapped, so errors.Is and
// errors.As still reach it.
func (r *Registry[T]) Open(ctx context.Context, rawURL string, portable ...func(*Options)) (T, error) {
	var zero T
	u, err := Parse(rawURL)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", r.kind, err)
	}
	open, ok := r.Lookup(u.Scheme)
	if !ok {
		registered := "none; import a backend package to register one"
		if s := r.Schemes(); len(s) > 0 {
			registered = strings.Join(s, ", ")
		}
		return zero, fmt.Errorf("%s: %w %q in URL %q (registered schemes: %s)",
			r.kind, ErrUnknownScheme, u.Scheme, RedactURL(u), registered)
	}
	opts := NewOptions(u.Query())
	for _, read := range portable {
		read(opts)
	}
	v, err := open(ctx, u, opts)
	if err == nil {
		if err = opts.Err(); err != nil {
			if c, ok := any(v).(io.Closer); ok {
				_ = c.Close()
			}
		}
	}
	if err != nil {
		return zero, fmt.Errorf("%s: open %q: %w", r.kind, RedactURL(u), Scrub(err, u))
	}
	return v, nil
}

// Parse parses a backend URL, requiring a scheme. Its errors never contain the URL's secrets.
func Parse(rawURL string) (*url.URL, error) {
	if strings.TrimSpace(rawURL) == "" {
		return nil, fmt.Errorf("%w: empty URL", ErrInvalidURL)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the whole input, password included; report only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%w %q: %v", ErrInvalidURL, Redact(rawURL), err)
	}
	if u.Scheme == "" {
		return nil, fmt.Errorf("%w %q: missing scheme (want for example memory:// or redis://host:6379)", ErrInvalidURL, RedactURL(u))
	}
	return u, nil
}

// validScheme reports whether s is a URL scheme per RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}
