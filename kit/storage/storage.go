// Package storage is Stackkit's file storage, Django's Storage API (and django-storages) in Go:
// one streaming API over file:// (the default), mem:// and s3:// (kit/storage/s3), with name
// validation enforced once for every backend, content-type detection, Django's no-overwrite
// Save, public and signed URLs (HMAC-signed and served by [Storage.SignedURLHandler] for file://
// and mem://, presigned for S3), telemetry, and a conformance suite (storagetest). The static
// subpackage is collectstatic with a hashed-name manifest and a caching handler.
//
//	s, err := storage.Open(ctx, "file://var/media?base_url=/media/&secret="+key)
//	err = s.Put(ctx, "avatars/ada.png", file, nil)            // content type detected
//	name, err := s.Save(ctx, "avatars/ada.png", file, nil)    // "avatars/ada_a8Xk2Lq.png" if taken
//	r, err := s.Open(ctx, name)                               // r.Attrs().ContentType == "image/png"
//	for obj, err := range s.List(ctx, &storage.ListOptions{Prefix: "avatars/"}) { ... }
//	link, err := s.SignedURL(ctx, name, &storage.SignedURLOptions{Expiry: time.Hour})
//
// Backends register their schemes when imported; file:// and mem:// are built in.
package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stackkit/stackkit/kit/registry"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// DefaultURL is the storage used when none is configured: a directory under the working
// directory.
const DefaultURL = "file://.kit/media"

// MaxSignedURLExpiry is the longest a signed URL may stay valid, on every backend (S3's limit).
const MaxSignedURLExpiry = 7 * 24 * time.Hour

// DefaultSignedURLExpiry is used when SignedURLOptions.Expiry is zero.
const DefaultSignedURLExpiry = time.Hour

// MinSigningKeyLen is the shortest signing key accepted, in bytes.
const MinSigningKeyLen = 16

var drivers = registry.New[Driver]("storage")

// Register makes a backend available under a URL scheme; backends call it from init. It panics
// if the scheme is taken or open is nil.
func Register(scheme string, open registry.Opener[Driver]) { drivers.Register(scheme, open) }

// Schemes returns the registered URL schemes, sorted.
func Schemes() []string { return drivers.Schemes() }

// Option configures a Storage. In [Open], options in the URL override these.
type Option func(*config)

type config struct {
	baseURL        string
	signingKey     []byte
	logger         *slog.Logger
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
}

// WithBaseURL sets the public base URL ([Storage.URL] is base URL + name, Django's MEDIA_URL),
// which is also where [Storage.SignedURLHandler] is mounted for HMAC-signed URLs. It may be
// absolute ("https://cdn.example.com/media/") or a path ("/media/"). URL option: base_url.
func WithBaseURL(u string) Option { return func(c *config) { c.baseURL = u } }

// WithSigningKey makes the Storage sign URLs itself with HMAC-SHA256 under key (at least
// MinSigningKeyLen bytes) and serve them with [Storage.SignedURLHandler]; file:// and mem://
// need it (or the secret URL option) for SignedURL. Backends that sign natively (S3) presign
// without a key; with a key they too are signed for the handler, which then proxies them.
func WithSigningKey(key []byte) Option {
	return func(c *config) { c.signingKey = bytes.Clone(key) }
}

// WithLogger sets the logger; the default is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithTracerProvider sets the tracer provider; the default is the OpenTelemetry global one.
// Operations are traced only inside a recording span, never as root spans.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tracerProvider = tp }
}

// WithMeterProvider sets the meter provider; the default is the OpenTelemetry global one.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.meterProvider = mp }
}

// Storage is the portable object store. It is safe for concurrent use.
type Storage struct {
	d       Driver
	caps    Capabilities
	maxName int
	base    *url.URL // nil without a base URL; its path ends with "/"
	signer  *signer  // nil without a signing key
	logger  *slog.Logger
	tel     *telemetry
	closed  atomic.Bool
}

// Open opens the storage at rawURL. Portable URL options: base_url (see [WithBaseURL]) and
// secret (a signing key, see [WithSigningKey]); the rest belong to the backend. An empty URL
// opens DefaultURL.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Storage, error) {
	if rawURL == "" {
		rawURL = DefaultURL
	}
	var fromURL []Option
	readPortable := func(o *registry.Options) {
		if o.Has("base_url") {
			fromURL = append(fromURL, WithBaseURL(o.String("base_url", "")))
		}
		if o.Has("secret") {
			fromURL = append(fromURL, WithSigningKey([]byte(o.String("secret", ""))))
		}
	}
	d, err := drivers.Open(ctx, rawURL, readPortable)
	if err != nil {
		return nil, err
	}
	s, err := New(d, append(opts, fromURL...)...)
	if err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("storage: open %q: %w", registry.Redact(rawURL), err)
	}
	return s, nil
}

// New returns a Storage over a driver; Open is New for a URL.
func New(d Driver, opts ...Option) (*Storage, error) {
	cfg := config{logger: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	caps := d.Capabilities()
	s := &Storage{d: d, caps: caps, maxName: caps.MaxNameLen, logger: cfg.logger}
	if s.maxName <= 0 {
		s.maxName = DefaultMaxNameLen
	}
	if cfg.baseURL != "" {
		u, err := url.Parse(cfg.baseURL)
		if err != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || (u.Scheme != "" && u.Host == "") {
			return nil, fmt.Errorf("storage: base URL %q: want an absolute URL or a path, without query or fragment (e.g. https://cdn.example.com/media/ or /media/)", registry.Redact(cfg.baseURL))
		}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
			u.RawPath = ""
		}
		s.base = u
	}
	if cfg.signingKey != nil {
		if len(cfg.signingKey) < MinSigningKeyLen {
			return nil, fmt.Errorf("storage: signing key is %d bytes; want at least %d", len(cfg.signingKey), MinSigningKeyLen)
		}
		s.signer = &signer{key: cfg.signingKey}
	}
	s.tel = newTelemetry(&cfg, caps.Name)
	return s, nil
}

// Driver returns the backend, for what the portable API does not cover.
func (s *Storage) Driver() Driver { return s.d }

// Backend names the backend ("file", "mem", "s3", ...).
func (s *Storage) Backend() string { return s.caps.Name }

// Close closes the backend. Operations after Close return ErrClosed.
func (s *Storage) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.d.Close()
}

// Check returns a readiness check for kit/http/health: a one-object List.
func (s *Storage) Check() func(context.Context) error {
	return func(ctx context.Context) error {
		if err := s.ready(ctx); err != nil {
			return err
		}
		if _, err := s.d.List(ctx, &ListOptions{PageSize: 1}); err != nil {
			return fmt.Errorf("storage %s: %w", s.caps.Name, err)
		}
		return nil
	}
}

// ready fails once the Storage is closed or the context is done: a cancelled call does
// nothing, on every backend alike.
func (s *Storage) ready(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// check validates a name for an operation.
func (s *Storage) check(ctx context.Context, name string) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	return validateName(name, s.maxName)
}

// wrap adds the operation and name to a backend error; sentinels and the backend's own error
// stay reachable through errors.Is and errors.As.
func (s *Storage) wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	if s.closed.Load() && !errors.Is(err, ErrClosed) {
		err = errors.Join(ErrClosed, err)
	}
	return fmt.Errorf("storage: %s %q: %w", op, shorten(name), err)
}

// Stat returns the attributes of name, or an error wrapping ErrNotExist.
func (s *Storage) Stat(ctx context.Context, name string) (*Attrs, error) {
	if err := s.check(ctx, name); err != nil {
		return nil, err
	}
	op := s.start(ctx, opStat)
	a, err := s.d.Stat(ctx, name)
	s.finish(ctx, op, err, 0)
	return a, s.wrap("stat", name, err)
}

// Exists reports whether name exists.
func (s *Storage) Exists(ctx context.Context, name string) (bool, error) {
	_, err := s.Stat(ctx, name)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotExist):
		return false, nil
	}
	return false, err
}

// Delete removes name. Deleting a missing name is not an error.
func (s *Storage) Delete(ctx context.Context, name string) error {
	if err := s.check(ctx, name); err != nil {
		return err
	}
	op := s.start(ctx, opDelete)
	err := s.d.Delete(ctx, name)
	if errors.Is(err, ErrNotExist) {
		err = nil
	}
	s.finish(ctx, op, err, 0)
	return s.wrap("delete", name, err)
}

// Copy copies src to dst (replacing dst), on the server side where the backend can. A missing
// src is an error wrapping ErrNotExist.
func (s *Storage) Copy(ctx context.Context, dst, src string) error {
	if err := s.check(ctx, src); err != nil {
		return err
	}
	if err := validateName(dst, s.maxName); err != nil {
		return err
	}
	op := s.start(ctx, opCopy)
	err := s.d.Copy(ctx, dst, src)
	s.finish(ctx, op, err, 0)
	if err != nil {
		return fmt.Errorf("storage: copy %q to %q: %w", shorten(src), shorten(dst), err)
	}
	return nil
}

// Get returns the whole content of name. Use Open to stream large objects.
func (s *Storage) Get(ctx context.Context, name string) ([]byte, error) {
	r, err := s.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	size := r.Attrs().Size
	if size < 0 || size > 1<<30 {
		size = 0
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	if err := r.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Put stores the content of r under name, replacing what was there only once all of r has
// been written (see [Storage.Create]); if reading r fails, nothing is written. opts may be nil;
// an empty ContentType is detected, and the size is taken from r when it tells (a file, or a
// bytes, strings or bytes.Buffer reader).
func (s *Storage) Put(ctx context.Context, name string, r io.Reader, opts *WriterOptions) error {
	o := WriterOptions{}
	if opts != nil {
		o = *opts
	}
	if o.Size <= 0 {
		o.Size = readerSize(r) // -1 when it cannot tell
	}
	w, err := s.create(ctx, name, &o)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		_ = w.Abort()
		return err
	}
	return w.Close()
}

// readerSize returns how many bytes r holds when it can tell without reading, or -1.
func readerSize(r io.Reader) int64 {
	switch v := r.(type) {
	case interface{ Len() int }:
		return int64(v.Len())
	case *os.File:
		fi, err := v.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return -1
		}
		pos, err := v.Seek(0, io.SeekCurrent)
		if err != nil {
			return -1
		}
		return fi.Size() - pos
	}
	return -1
}

// URL returns the public URL of name: the base URL (base_url, Django's MEDIA_URL) followed by
// the escaped name. Without a base URL it is an error wrapping ErrNotSupported.
func (s *Storage) URL(name string) (string, error) {
	if err := validateName(name, s.maxName); err != nil {
		return "", err
	}
	if s.base == nil {
		return "", fmt.Errorf("storage: URL of %q: no base URL configured (set the base_url option or WithBaseURL): %w", shorten(name), ErrNotSupported)
	}
	return s.objectURL(name).String(), nil
}

// objectURL returns the base URL with name appended, each path component escaped.
func (s *Storage) objectURL(name string) *url.URL {
	u := *s.base
	u.Path = s.base.Path + name
	u.RawPath = s.base.EscapedPath() + escapeName(name)
	return &u
}

func escapeName(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
