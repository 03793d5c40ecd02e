package storage

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Query parameters of an HMAC-signed URL.
const (
	paramExpires     = "X-Kit-Expires"
	paramMethod      = "X-Kit-Method"
	paramContentType = "X-Kit-Content-Type"
	paramSignature   = "X-Kit-Signature"
)

// signer makes and checks HMAC-SHA256 signatures binding the method, the name, the expiry and
// (for PUT) the content type.
type signer struct{ key []byte }

func (g *signer) mac(method, name string, expires int64, contentType string) []byte {
	m := hmac.New(sha256.New, g.key)
	// Names and content types cannot contain newlines (ValidateName, mime.ParseMediaType), so
	// the fields cannot run into each other.
	fmt.Fprintf(m, "kit-storage-v1\n%s\n%s\n%d\n%s", method, name, expires, contentType)
	return m.Sum(nil)
}

// SignedURL returns a URL that lets anyone holding it GET (or HEAD), or PUT, name until
// opts.Expiry (default DefaultSignedURLExpiry, at most MaxSignedURLExpiry) has passed. opts may
// be nil (a GET URL valid for an hour). A PUT URL with opts.ContentType accepts only uploads
// with that Content-Type.
//
// With a signing key (secret option or WithSigningKey) the Storage signs with HMAC-SHA256
// itself: the URL is base_url + name + signature parameters, to be served by
// [Storage.SignedURLHandler] mounted at base_url's path. Without one, the backend signs (S3
// presigns); file:// and mem:// then fail with an error wrapping ErrNotSupported.
func (s *Storage) SignedURL(ctx context.Context, name string, opts *SignedURLOptions) (string, error) {
	if err := s.check(ctx, name); err != nil {
		return "", err
	}
	o := SignedURLOptions{Method: http.MethodGet, Expiry: DefaultSignedURLExpiry}
	if opts != nil {
		o = *opts
		if o.Method == "" {
			o.Method = http.MethodGet
		}
		if o.Expiry == 0 {
			o.Expiry = DefaultSignedURLExpiry
		}
	}
	if err := checkSignedURLOptions(&o); err != nil {
		return "", fmt.Errorf("storage: signed URL for %q: %w", shorten(name), err)
	}
	op := s.start(ctx, opSign)
	var u string
	var err error
	if s.signer != nil {
		u, err = s.hmacURL(name, &o)
	} else {
		u, err = s.d.SignedURL(ctx, name, &o)
		if errors.Is(err, ErrNotSupported) {
			err = fmt.Errorf("the %s backend does not sign URLs itself; give the Storage a signing key (the secret URL option or WithSigningKey) and serve them with SignedURLHandler: %w", s.caps.Name, err)
		}
	}
	s.finish(ctx, op, err, 0)
	if err != nil {
		return "", fmt.Errorf("storage: signed URL for %q: %w", shorten(name), err)
	}
	return u, nil
}

func checkSignedURLOptions(o *SignedURLOptions) error {
	if o.Method != http.MethodGet && o.Method != http.MethodPut {
		return fmt.Errorf("method %q: want GET or PUT", o.Method)
	}
	if o.Expiry < 0 || o.Expiry > MaxSignedURLExpiry {
		return fmt.Errorf("expiry %s: want a positive duration up to %s", o.Expiry, MaxSignedURLExpiry)
	}
	if o.ContentType != "" {
		if o.Method != http.MethodPut {
			return fmt.Errorf("a content type binds uploads; it makes no sense for %s", o.Method)
		}
		if _, _, err := mime.ParseMediaType(o.ContentType); err != nil {
			return fmt.Errorf("content type %q: %w", o.ContentType, err)
		}
	}
	return nil
}

func (s *Storage) hmacURL(name string, o *SignedURLOptions) (string, error) {
	if s.base == nil {
		return "", fmt.Errorf("no base URL to sign for (set base_url or WithBaseURL to where SignedURLHandler is mounted): %w", ErrNotSupported)
	}
	expires := time.Now().Add(o.Expiry).Unix()
	u := s.objectURL(name)
	q := u.Query()
	q.Set(paramExpires, strconv.FormatInt(expires, 10))
	q.Set(paramMethod, o.Method)
	if o.ContentType != "" {
		q.Set(paramContentType, o.ContentType)
	}
	q.Set(paramSignature, base64.RawURLEncoding.EncodeToString(s.signer.mac(o.Method, name, expires, o.ContentType)))
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// SignedURLHandler returns the handler that serves the Storage's HMAC-signed URLs; mount it at
// base_url's path (without http.StripPrefix):
//
//	h, err := s.SignedURLHandler() // s opened with base_url=/media/ and a secret
//	mux.Handle("/media/", h)
//
// It checks the signature (in constant time), the expiry and the method, then serves GET and
// HEAD with ranges and conditional requests (http.ServeContent, the object's ETag and
// modification time) and stores PUT bodies atomically, with the signed content type or else the
// request's or a detected one. Unsigned, tampered and expired requests get 403. It needs a
// signing key and a base URL; without them the error wraps ErrNotSupported.
func (s *Storage) SignedURLHandler() (http.Handler, error) {
	if s.signer == nil {
		return nil, fmt.Errorf("storage: signed URL handler: no signing key (set the secret URL option or WithSigningKey): %w", ErrNotSupported)
	}
	if s.base == nil {
		return nil, fmt.Errorf("storage: signed URL handler: no base URL to serve under (set base_url or WithBaseURL): %w", ErrNotSupported)
	}
	return &signedHandler{s: s, prefix: s.base.Path}, nil
}

type signedHandler struct {
	s      *Storage
	prefix string
}

func (h *signedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, h.prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	method, contentType := q.Get(paramMethod), q.Get(paramContentType)
	expires, err := strconv.ParseInt(q.Get(paramExpires), 10, 64)
	sig, sigErr := base64.RawURLEncoding.DecodeString(q.Get(paramSignature))
	if err != nil || sigErr != nil || len(q[paramSignature]) != 1 || !hmac.Equal(sig, h.s.signer.mac(method, name, expires, contentType)) {
		http.Error(w, "invalid or missing signature", http.StatusForbidden)
		return
	}
	if time.Now().Unix() > expires {
		http.Error(w, "signed URL expired", http.StatusForbidden)
		return
	}
	switch {
	case method == http.MethodGet && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		h.get(w, r, name)
	case method == http.MethodPut && r.Method == http.MethodPut:
		h.put(w, r, name, contentType)
	default:
		w.Header().Set("Allow", method)
		http.Error(w, "URL signed for "+method, http.StatusMethodNotAllowed)
	}
}

func (h *signedHandler) get(w http.ResponseWriter, r *http.Request, name string) {
	h.s.ServeObject(w, r, name)
}

func (h *signedHandler) put(w http.ResponseWriter, r *http.Request, name, signedType string) {
	ct := r.Header.Get("Content-Type")
	if signedType != "" && ct != signedType {
		http.Error(w, "URL signed for uploads of Content-Type "+signedType, http.StatusForbidden)
		return
	}
	size := r.ContentLength
	if size < 0 {
		size = 0
	}
	err := h.s.Put(r.Context(), name, r.Body, &WriterOptions{ContentType: ct, Size: size})
	if err != nil {
		h.s.httpError(w, r, "put", name, err)
		return
	}
	if a, err := h.s.Stat(r.Context(), name); err == nil && a.ETag != "" {
		w.Header().Set("ETag", a.ETag)
	}
	w.WriteHeader(http.StatusOK)
}

// ServeObject serves name from s over HTTP, as http.ServeContent does for a file: ranges,
// conditional requests on the ETag and modification time, HEAD, the stored content type and
// cache control (a Content-Type or Cache-Control the caller already set wins). It reads only the
// ranges asked for. The caller does the authorization.
func (s *Storage) ServeObject(w http.ResponseWriter, r *http.Request, name string) {
	a, err := s.Stat(r.Context(), name)
	if err != nil {
		s.httpError(w, r, "get", name, err)
		return
	}
	hdr := w.Header()
	if a.ETag != "" {
		hdr.Set("ETag", a.ETag)
	}
	if a.ContentType != "" && hdr.Get("Content-Type") == "" {
		hdr.Set("Content-Type", a.ContentType)
	}
	if a.CacheControl != "" && hdr.Get("Cache-Control") == "" {
		hdr.Set("Cache-Control", a.CacheControl)
	}
	content := &objectSeeker{ctx: r.Context(), s: s, name: name, size: a.Size}
	defer content.Close()
	http.ServeContent(w, r, name, a.ModTime, content)
}

// httpError answers a failed operation with its HTTP status; server errors are logged, not
// shown.
func (s *Storage) httpError(w http.ResponseWriter, r *http.Request, op, name string, err error) {
	switch {
	case errors.Is(err, ErrNotExist):
		http.Error(w, "not found", http.StatusNotFound)
	case errors.Is(err, ErrInvalidName):
		http.Error(w, err.Error(), http.StatusBadRequest)
	case errors.Is(err, ErrExist):
		http.Error(w, "already exists", http.StatusPreconditionFailed)
	case r.Context().Err() != nil:
		// The client went away; nothing to answer.
	default:
		s.logger.ErrorContext(r.Context(), "storage: HTTP "+op+" failed", "backend", s.caps.Name, "name", name, "error", err)
		http.Error(w, "storage error", http.StatusInternalServerError)
	}
}

// objectSeeker is an io.ReadSeeker over an object that opens a range read at the current
// offset on demand, so http.ServeContent reads only the requested ranges.
type objectSeeker struct {
	ctx  context.Context
	s    *Storage
	name string
	size int64
	pos  int64
	r    *Reader
}

func (o *objectSeeker) Read(p []byte) (int, error) {
	if o.pos >= o.size {
		return 0, io.EOF
	}
	if o.r == nil {
		r, err := o.s.OpenRange(o.ctx, o.name, o.pos, o.size-o.pos)
		if err != nil {
			return 0, err
		}
		o.r = r
	}
	n, err := o.r.Read(p)
	o.pos += int64(n)
	return n, err
}

func (o *objectSeeker) Seek(offset int64, whence int) (int64, error) {
	var pos int64
	switch whence {
	case io.SeekStart:
		pos = offset
	case io.SeekCurrent:
		pos = o.pos + offset
	case io.SeekEnd:
		pos = o.size + offset
	default:
		return 0, errors.New("storage: bad whence")
	}
	if pos < 0 {
		return 0, errors.New("storage: negative position")
	}
	if pos != o.pos && o.r != nil {
		_ = o.r.Close()
		o.r = nil
	}
	o.pos = pos
	return pos, nil
}

func (o *objectSeeker) Close() error {
	if o.r != nil {
		return o.r.Close()
	}
	return nil
}
