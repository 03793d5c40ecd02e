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
	"path"
	"strconv"
	"strings"
	"time"
)

// Query parameters of an HMAC-signed URL.
const (
	paramExpires     = "X-Kit-Expires"
	paramMethod      = "X-Kit-Method"
	paramContentType = "X-Kit-Content-Type"
	paramMaxSize     = "X-Kit-Max-Size"
	paramSignature   = "X-Kit-Signature"
)

// signer makes and checks HMAC-SHA256 signatures binding the Storage (its base URL), the
// method, the name, the expiry and (for PUT) the content type and the size limit.
type signer struct{ key []byte }

func (g *signer) mac(base, method, name string, expires int64, contentType string, maxSize int64) []byte {
	m := hmac.New(sha256.New, g.key)
	// Base URLs, names and content types cannot contain newlines (url.Parse, ValidateName,
	// mime.ParseMediaType), so the fields cannot run into each other.
	fmt.Fprintf(m, "kit-storage-v2\n%s\n%s\n%s\n%d\n%s\n%d", base, method, name, expires, contentType, maxSize)
	return m.Sum(nil)
}

// SignedURL returns a URL that lets anyone holding it GET (or HEAD), or PUT, name until
// opts.Expiry (default DefaultSignedURLExpiry, at most MaxSignedURLExpiry) has passed. opts may
// be nil (a GET URL valid for an hour). A PUT URL with opts.ContentType accepts only uploads
// with that Content-Type; with opts.MaxSize, only uploads up to that many bytes.
//
// With a signing key (secret option or WithSigningKey) the Storage signs with HMAC-SHA256
// itself: the URL is base_url + name + signature parameters, to be served by
// [Storage.SignedURLHandler] mounted at base_url's path. The signature binds the base URL, so
// Storages sharing a key do not accept each other's URLs. Without a key, the backend signs (S3
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
	if o.MaxSize < 0 {
		return fmt.Errorf("max size %d: want 0 (no limit) or a positive number of bytes", o.MaxSize)
	}
	if o.MaxSize > 0 && o.Method != http.MethodPut {
		return fmt.Errorf("a max size limits uploads; it makes no sense for %s", o.Method)
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
	if o.MaxSize > 0 {
		q.Set(paramMaxSize, strconv.FormatInt(o.MaxSize, 10))
	}
	q.Set(paramSignature, base64.RawURLEncoding.EncodeToString(s.signer.mac(s.base.String(), o.Method, name, expires, o.ContentType, o.MaxSize)))
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
// HEAD as [Storage.ServeObject] does and stores PUT bodies atomically. A PUT is stored with the
// signed content type, or else one detected from the name's extension or the content as Create
// does — never the request's Content-Type, which the uploader controls. A PUT over the signed
// MaxSize gets 413 (up front when Content-Length says so, else when the body passes it) and
// leaves the old content. Unsigned, tampered and expired requests get 403. It needs a signing
// key and a base URL; without them the error wraps ErrNotSupported.
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
	var maxSize int64
	var sizeErr error
	if v := q.Get(paramMaxSize); v != "" {
		maxSize, sizeErr = strconv.ParseInt(v, 10, 64)
	}
	sig, sigErr := base64.RawURLEncoding.DecodeString(q.Get(paramSignature))
	if err != nil || sizeErr != nil || sigErr != nil || len(q[paramSignature]) != 1 ||
		!hmac.Equal(sig, h.s.signer.mac(h.s.base.String(), method, name, expires, contentType, maxSize)) {
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
		h.put(w, r, name, contentType, maxSize)
	default:
		w.Header().Set("Allow", method)
		http.Error(w, "URL signed for "+method, http.StatusMethodNotAllowed)
	}
}

func (h *signedHandler) get(w http.ResponseWriter, r *http.Request, name string) {
	h.s.ServeObject(w, r, name)
}

func (h *signedHandler) put(w http.ResponseWriter, r *http.Request, name, signedType string, maxSize int64) {
	if signedType != "" && r.Header.Get("Content-Type") != signedType {
		http.Error(w, "URL signed for uploads of Content-Type "+signedType, http.StatusForbidden)
		return
	}
	size := r.ContentLength
	if size < 0 {
		size = 0
	}
	body := r.Body
	if maxSize > 0 {
		if size > maxSize {
			http.Error(w, "upload larger than the "+strconv.FormatInt(maxSize, 10)+" bytes the URL was signed for", http.StatusRequestEntityTooLarge)
			return
		}
		body = http.MaxBytesReader(w, r.Body, maxSize)
	}
	// Without a signed type, ContentType stays empty and Create detects it (extension, then
	// content): the request's Content-Type is the uploader's to choose, and would let it store
	// text/html under avatar.png.
	err := h.s.Put(r.Context(), name, body, &WriterOptions{ContentType: signedType, Size: size})
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
//
// Stored content may come from untrusted uploaders, so it is never sniffed: responses carry
// "X-Content-Type-Options: nosniff", an object stored without a content type is served as its
// extension's type or application/octet-stream, and active content — HTML, XHTML, SVG, XML
// (any +xml type) and JavaScript, which would run with the serving origin's rights — gets
// "Content-Disposition: attachment". To serve trusted active content inline, set a
// Content-Disposition (e.g. "inline") before calling; the caller's wins. When name cannot be
// served (404, 500), the answer drops the Content-Encoding, Cache-Control and
// Content-Disposition the caller set for the content.
func (s *Storage) ServeObject(w http.ResponseWriter, r *http.Request, name string) {
	a, err := s.Stat(r.Context(), name)
	if err != nil {
		hdr := w.Header()
		hdr.Set("X-Content-Type-Options", "nosniff")
		for _, k := range []string{"Content-Encoding", "Cache-Control", "Content-Disposition", "ETag", "Last-Modified"} {
			hdr.Del(k)
		}
		s.httpError(w, r, "get", name, err)
		return
	}
	s.ServeObjectAttrs(w, r, name, a)
}

// ServeObjectAttrs is ServeObject for a caller that has just read name's attributes with Stat:
// it saves the second look-up (a HEAD request on s3://). a must be what Stat returned for name;
// if the object changed since, the range reads fail and the answer is cut short, as when it
// changes during ServeObject. A nil a is ServeObject.
func (s *Storage) ServeObjectAttrs(w http.ResponseWriter, r *http.Request, name string, a *Attrs) {
	if a == nil {
		s.ServeObject(w, r, name)
		return
	}
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	if a.ETag != "" {
		hdr.Set("ETag", a.ETag)
	}
	if hdr.Get("Content-Type") == "" {
		ct := a.ContentType
		if ct == "" {
			ct = mime.TypeByExtension(path.Ext(name))
		}
		if ct == "" {
			ct = "application/octet-stream"
		}
		hdr.Set("Content-Type", ct)
	}
	if hdr.Get("Content-Disposition") == "" && activeContent(hdr.Get("Content-Type")) {
		hdr.Set("Content-Disposition", "attachment")
	}
	if a.CacheControl != "" && hdr.Get("Cache-Control") == "" {
		hdr.Set("Cache-Control", a.CacheControl)
	}
	content := &objectSeeker{ctx: r.Context(), s: s, name: name, size: a.Size}
	defer content.Close()
	http.ServeContent(w, r, name, a.ModTime, content)
}

// activeContent reports whether a browser would run scripts in content of type ct opened as a
// page: HTML, XHTML, SVG, XML and JavaScript.
func activeContent(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return true // unparsable: the browser may guess; do not let it render
	}
	switch mt {
	case "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml", "text/xsl",
		"text/javascript", "application/javascript", "application/x-javascript", "text/x-javascript",
		"text/ecmascript", "application/ecmascript", "application/x-ecmascript", "text/jscript":
		return true
	}
	return strings.HasSuffix(mt, "+xml")
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
	case errors.As(err, new(*http.MaxBytesError)):
		http.Error(w, "upload larger than the URL allows", http.StatusRequestEntityTooLarge)
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
