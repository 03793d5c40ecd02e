package middleware

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// CompressOption configures Compress.
type CompressOption func(*compressConfig)

type compressConfig struct {
	level   int
	minSize int
	types   []compressType
}

// CompressLevel sets the gzip level, from gzip.HuffmanOnly (-2) to gzip.BestCompression (9).
// The default is gzip.BestSpeed: on typical JSON it costs about half the CPU of levels 5-6 for
// output some 10-15% larger, which is the better trade for dynamic responses (nginx makes the
// same choice). Compress panics on a level outside that range.
func CompressLevel(level int) CompressOption {
	return func(c *compressConfig) { c.level = level }
}

// CompressMinSize sets the size in bytes below which responses are sent uncompressed (default
// 1024): gzip's framing and the CPU spent are not worth it for a few hundred bytes. Compress
// buffers up to this many bytes of a response whose length it does not know before deciding.
func CompressMinSize(n int) CompressOption {
	return func(c *compressConfig) { c.minSize = max(n, 0) }
}

// CompressContentTypes replaces the list of compressible media types. An entry is an exact type
// ("application/json"), a type wildcard ("text/*"), or a structured-syntax suffix wildcard
// ("application/*+json"); matching ignores case and parameters. Extend the defaults with
// CompressContentTypes(append(DefaultCompressContentTypes(), "application/x-ndjson")...).
func CompressContentTypes(types ...string) CompressOption {
	return func(c *compressConfig) {
		c.types = c.types[:0:0]
		for _, t := range types {
			if strings.TrimSpace(t) != "" {
				c.types = append(c.types, compressParseType(t))
			}
		}
	}
}

// DefaultCompressContentTypes returns the media types Compress compresses by default: text,
// JSON, XML, JavaScript, SVG and WebAssembly. Already-compressed formats (images, video,
// archives, fonts in WOFF2) are left alone.
func DefaultCompressContentTypes() []string {
	return []string{
		"text/*",
		"application/json",
		"application/problem+json",
		"application/javascript",
		"application/xml",
		"application/*+json",
		"application/*+xml",
		"image/svg+xml",
		"application/wasm",
	}
}

// Compress gzips responses for clients that accept it.
//
//	handler = middleware.Compress()(mux)
//	handler = middleware.Compress(middleware.CompressLevel(gzip.BestCompression),
//		middleware.CompressMinSize(4096))(mux)
//
// It negotiates Accept-Encoding with q-values ("gzip;q=0" refuses gzip, "*" counts for gzip, an
// explicit preference for identity wins), and compresses a response only when its media type is
// compressible (see DefaultCompressContentTypes) and it is at least CompressMinSize bytes long.
// A response shorter than that, or flushed by the handler before reaching it, is sent as it is.
// It never compresses HEAD or Range requests, 1xx/204/206/304 responses, or responses whose
// Content-Encoding the handler has set.
//
// Every response with a compressible media type gets "Vary: Accept-Encoding", compressed or not,
// so that a shared cache does not hand a gzipped body to a client that cannot decode it. When it
// compresses, it removes Content-Length and Accept-Ranges (ranges would refer to the gzipped
// bytes) and makes a strong ETag weak, as the bytes are no longer the ones the tag was made for.
//
// Flush flushes the gzip stream; http.ResponseController reaches the underlying writer through
// Unwrap. Put ConditionalGET inside Compress, so that ETags are computed once on the identity
// body and a 304 is decided before any compression.
func Compress(opts ...CompressOption) func(http.Handler) http.Handler {
	cfg := &compressConfig{level: gzip.BestSpeed, minSize: 1024}
	CompressContentTypes(DefaultCompressContentTypes()...)(cfg)
	for _, opt := range opts {
		opt(cfg)
	}
	if cfg.level < gzip.HuffmanOnly || cfg.level > gzip.BestCompression {
		panic(fmt.Sprintf("middleware: invalid gzip level %d", cfg.level))
	}
	pool := &compressGzipPools[cfg.level-gzip.HuffmanOnly]
	return func(next http.Handler) http.Handler {
		return &compressHandler{next: next, cfg: cfg, gzPool: pool}
	}
}

type compressHandler struct {
	next   http.Handler
	cfg    *compressConfig
	gzPool *sync.Pool
}

func (c *compressHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cw, _ := compressWriterPool.Get().(*compressWriter)
	if cw == nil {
		cw = new(compressWriter)
	}
	cw.w, cw.h = w, c
	cw.accept = compressAcceptsGzip(r.Header["Accept-Encoding"]) &&
		r.Method != http.MethodHead && len(r.Header["Range"]) == 0
	c.next.ServeHTTP(cw, r)
	// No defer: if the handler panics, the buffered body must not be sent as a 200 ahead of the
	// recovery middleware's 500; the writer is then simply left to the garbage collector.
	cw.finish()
	cw.release()
	compressWriterPool.Put(cw)
}

var (
	compressWriterPool sync.Pool
	// One pool of gzip writers per level, shared by every Compress with that level: a writer
	// holds several hundred KiB of compressor state.
	compressGzipPools [gzip.BestCompression - gzip.HuffmanOnly + 1]sync.Pool

	// Shared header values with len == cap, so that a later Header.Add reallocates instead of
	// writing into them. They spare an allocation per response; nothing may modify them.
	compressVaryValue     = []string{"Accept-Encoding"}
	compressEncodingValue = []string{"gzip"}
)

type compressState uint8

const (
	compressPending  compressState = iota // final header not sent yet; body may be buffered
	compressIdentity                      // header sent; body passes through
	compressGzip                          // header sent; body goes through cw.gz
	compressHijacked                      // connection taken over; nothing more to do
)

// compressWriter defers the response header until it knows whether to compress: from the
// headers when they carry Content-Type and Content-Length, otherwise from the first
// cfg.minSize bytes of body, which it buffers.
type compressWriter struct {
	w       http.ResponseWriter
	h       *compressHandler
	gz      *gzip.Writer
	buf     []byte
	sniff   string // media type sniffed from the body when the handler set none
	status  int    // final status recorded but not sent yet; 0 if none
	state   compressState
	accept  bool // the request takes gzip and is neither HEAD nor a Range request
	untyped bool // no Content-Type header: the type is sniffed from the body
	vary    bool // the media type is compressible, so the response varies with Accept-Encoding
}

func (cw *compressWriter) release() {
	buf := cw.buf[:0]
	if cap(buf) > 64<<10 {
		buf = nil
	}
	*cw = compressWriter{buf: buf}
}

// Header returns the underlying writer's header map.
func (cw *compressWriter) Header() http.Header { return cw.w.Header() }

// WriteHeader records a final status until the body shows whether to compress; 1xx
// informational responses go out at once.
func (cw *compressWriter) WriteHeader(code int) {
	if cw.state != compressPending {
		cw.w.WriteHeader(code) // let net/http report the superfluous call
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		cw.w.WriteHeader(code)
		return
	}
	if cw.status != 0 {
		return
	}
	cw.status = code
	if mode := cw.start(); mode != compressPending {
		_ = cw.commit(mode)
	}
}

func (cw *compressWriter) Write(p []byte) (int, error) {
	switch cw.state {
	case compressIdentity, compressHijacked:
		return cw.w.Write(p)
	case compressGzip:
		return cw.gz.Write(p)
	}
	if cw.status == 0 {
		cw.status = http.StatusOK
		if mode := cw.start(); mode != compressPending {
			if err := cw.commit(mode); err != nil {
				return 0, err
			}
			return cw.Write(p)
		}
	}
	n := len(p)
	if n == 0 {
		return 0, nil
	}
	minSize := cw.h.cfg.minSize
	mode := compressPending
	if cw.untyped && (!cw.accept || len(cw.buf)+n >= minSize) {
		if len(cw.buf) > 0 && len(cw.buf) < 512 {
			// Sniff the response's first 512 bytes, as net/http does, not a short first write.
			k := min(len(p), 512-len(cw.buf))
			cw.buf = append(cw.buf, p[:k]...)
			p = p[k:]
		}
		data := cw.buf
		if len(data) == 0 {
			data = p
		}
		mode = cw.bySniff(data)
	}
	if mode == compressPending && !cw.untyped && len(cw.buf)+len(p) >= minSize {
		mode = compressGzip // compressible, accepted, length unknown, and now long enough
	}
	if mode == compressPending {
		if cw.buf == nil {
			cw.buf = make([]byte, 0, min(minSize, 64<<10))
		}
		cw.buf = append(cw.buf, p...)
		return n, nil
	}
	if err := cw.commit(mode); err != nil {
		return 0, err
	}
	if len(p) > 0 {
		var err error
		if mode == compressGzip {
			_, err = cw.gz.Write(p)
		} else {
			_, err = cw.w.Write(p)
		}
		if err != nil {
			return 0, err
		}
	}
	return n, nil
}

// start runs once, when the final status is known, and decides from the headers where it can.
// It returns compressPending when the decision needs the body: its media type (untyped) or its
// length.
func (cw *compressWriter) start() compressState {
	if cw.status == http.StatusSwitchingProtocols {
		return compressIdentity
	}
	h := cw.w.Header()
	if ce := h["Content-Encoding"]; len(ce) > 0 && ce[0] != "" {
		return compressIdentity // the handler encoded the body itself
	}
	ct, ok := h["Content-Type"]
	if !ok {
		cw.untyped = true
		return compressPending
	}
	var mediaType string
	if len(ct) > 0 {
		mediaType = ct[0]
	}
	return cw.byType(mediaType)
}

// byType decides from the media type and, when the handler declared it, the length.
func (cw *compressWriter) byType(mediaType string) compressState {
	if !cw.h.cfg.compressible(mediaType) {
		return compressIdentity
	}
	cw.vary = true
	if !cw.accept || !compressStatusAllowed(cw.status) {
		return compressIdentity
	}
	if cl := cw.w.Header()["Content-Length"]; len(cl) > 0 {
		if n, err := strconv.ParseInt(cl[0], 10, 64); err == nil {
			if n == 0 || n < int64(cw.h.cfg.minSize) {
				return compressIdentity
			}
			return compressGzip
		}
	}
	return compressPending
}

// bySniff decides an untyped response from its first bytes.
func (cw *compressWriter) bySniff(data []byte) compressState {
	cw.untyped = false
	cw.sniff = http.DetectContentType(data)
	return cw.byType(cw.sniff)
}

// resolve decides a pending response that must be sent now: the handler returned or flushed
// before the minimum size was reached.
func (cw *compressWriter) resolve() compressState {
	if cw.untyped && len(cw.buf) > 0 {
		if mode := cw.bySniff(cw.buf); mode != compressPending {
			return mode
		}
	}
	return compressIdentity
}

// commit sends the header for the chosen mode, followed by any buffered body.
func (cw *compressWriter) commit(mode compressState) error {
	h := cw.w.Header()
	if cw.vary {
		varyAdd(h, compressVaryValue)
	}
	if mode == compressGzip {
		delete(h, "Content-Length")
		delete(h, "Accept-Ranges")
		h["Content-Encoding"] = compressEncodingValue
		if et := h["Etag"]; len(et) > 0 && et[0] != "" && !strings.HasPrefix(et[0], "W/") {
			h["Etag"] = []string{"W/" + et[0]}
		}
		if cw.sniff != "" {
			h["Content-Type"] = []string{cw.sniff} // net/http would otherwise sniff the gzip bytes
		}
		cw.gz, _ = cw.h.gzPool.Get().(*gzip.Writer)
		if cw.gz == nil {
			cw.gz, _ = gzip.NewWriterLevel(cw.w, cw.h.cfg.level)
		} else {
			cw.gz.Reset(cw.w)
		}
	}
	status := cw.status
	if status == 0 {
		status = http.StatusOK
	}
	cw.w.WriteHeader(status)
	cw.state = mode
	if len(cw.buf) == 0 {
		return nil
	}
	var err error
	if mode == compressGzip {
		_, err = cw.gz.Write(cw.buf)
	} else {
		_, err = cw.w.Write(cw.buf)
	}
	cw.buf = cw.buf[:0]
	return err
}

// finish sends what the handler left buffered and ends the gzip stream.
func (cw *compressWriter) finish() {
	switch cw.state {
	case compressPending:
		if cw.status == 0 {
			return // nothing written: net/http sends its empty 200
		}
		mode := cw.resolve()
		_ = cw.commit(mode)
		if mode == compressGzip {
			cw.closeGzip()
		}
	case compressGzip:
		cw.closeGzip()
	}
}

func (cw *compressWriter) closeGzip() {
	_ = cw.gz.Close() // an error means the client went away; nothing left to tell it
	cw.h.gzPool.Put(cw.gz)
	cw.gz = nil
}

// FlushError sends what is buffered, uncompressed if the handler flushes before the minimum
// size was reached, and flushes the gzip stream and the connection.
func (cw *compressWriter) FlushError() error {
	switch cw.state {
	case compressPending:
		mode := compressPending
		if cw.status == 0 {
			cw.status = http.StatusOK
			mode = cw.start()
		}
		if mode == compressPending {
			mode = cw.resolve()
		}
		if err := cw.commit(mode); err != nil {
			return err
		}
		if mode == compressGzip {
			if err := cw.gz.Flush(); err != nil {
				return err
			}
		}
	case compressGzip:
		if err := cw.gz.Flush(); err != nil {
			return err
		}
	}
	return http.NewResponseController(cw.w).Flush()
}

// Flush is FlushError for callers that look for http.Flusher.
func (cw *compressWriter) Flush() { _ = cw.FlushError() }

// Hijack hands the connection over (WebSockets); buffered body is dropped.
func (cw *compressWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(cw.w).Hijack()
	if err == nil {
		cw.state = compressHijacked
		cw.buf = cw.buf[:0]
	}
	return conn, brw, err
}

// ReadFrom keeps net/http's sendfile path for responses that are not compressed.
func (cw *compressWriter) ReadFrom(src io.Reader) (int64, error) {
	if cw.state == compressIdentity {
		if rf, ok := cw.w.(io.ReaderFrom); ok {
			return rf.ReadFrom(src)
		}
	}
	return io.Copy(compressWriterOnly{cw}, src)
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (cw *compressWriter) Unwrap() http.ResponseWriter { return cw.w }

// compressWriterOnly hides ReadFrom so that io.Copy does not call back into it.
type compressWriterOnly struct{ cw *compressWriter }

func (w compressWriterOnly) Write(p []byte) (int, error) { return w.cw.Write(p) }

func compressStatusAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent &&
		status != http.StatusPartialContent && status != http.StatusNotModified
}

// compressAcceptsGzip reports whether Accept-Encoding field values let the response be gzipped
// (RFC 9110 §12.5.3): gzip (or x-gzip), or failing that "*", with a non-zero q-value that is
// not lower than identity's when the client states one for identity. Without the header the
// response is not compressed: clients such as curl send none and expect plain bytes.
func compressAcceptsGzip(values []string) bool {
	gzipQ, starQ, identityQ := -1, -1, -1 // thousandths; -1 when not listed
	for _, v := range values {
		// One pass per line: "name [OWS] [; params]" items separated by commas.
		for i := 0; i < len(v); {
			for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == ',') {
				i++
			}
			start := i
			for i < len(v) && v[i] != ',' && v[i] != ';' && v[i] != ' ' && v[i] != '\t' {
				i++
			}
			name := v[start:i]
			for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
				i++
			}
			q := 1000
			if i < len(v) && v[i] != ',' {
				end := i
				for end < len(v) && v[end] != ',' {
					end++
				}
				if v[i] == ';' {
					q = compressQValue(v[i+1 : end])
				} else {
					q = -1 // "gzip foo": malformed
				}
				i = end
			}
			if q < 0 {
				continue // malformed item: ignore the coding rather than guess
			}
			switch {
			case len(name) == 4 && strings.EqualFold(name, "gzip"),
				len(name) == 6 && strings.EqualFold(name, "x-gzip"):
				gzipQ = max(gzipQ, q)
			case name == "*":
				starQ = max(starQ, q)
			case len(name) == 8 && strings.EqualFold(name, "identity"):
				identityQ = max(identityQ, q)
			}
		}
	}
	if gzipQ < 0 {
		gzipQ = starQ
	}
	if gzipQ <= 0 {
		return false
	}
	if identityQ < 0 {
		identityQ = starQ
	}
	return gzipQ >= identityQ
}

// compressQValue returns the weight in params (";q=0.8") in thousandths, 1000 when there is
// none, and -1 when it is malformed.
func compressQValue(params string) int {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		v = strings.TrimSpace(v)
		if v == "" || (v[0] != '0' && v[0] != '1') {
			return -1
		}
		q := int(v[0]-'0') * 1000
		if len(v) > 1 {
			if v[1] != '.' || len(v) > 5 {
				return -1
			}
			scale := 100
			for _, c := range []byte(v[2:]) {
				if c < '0' || c > '9' {
					return -1
				}
				q += int(c-'0') * scale
				scale /= 10
			}
		}
		if q > 1000 {
			return -1
		}
		return q
	}
	return 1000
}

// compressType is a parsed entry of the compressible media type list.
type compressType struct {
	prefix string // "text/" for "text/*" and "application/" for "application/*+json"
	suffix string // "+json" for "application/*+json"
	exact  string // the whole type when it has no wildcard
}

func compressParseType(t string) compressType {
	t = strings.ToLower(strings.TrimSpace(t))
	if t == "*" || t == "*/*" {
		return compressType{prefix: ""}
	}
	typ, sub, _ := strings.Cut(t, "/")
	switch {
	case sub == "*":
		return compressType{prefix: typ + "/"}
	case strings.HasPrefix(sub, "*+"):
		return compressType{prefix: typ + "/", suffix: sub[1:]}
	}
	return compressType{exact: t}
}

func (c *compressConfig) compressible(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(mt)
	if mt == "" {
		return false
	}
	for _, t := range c.types {
		if t.exact != "" {
			if strings.EqualFold(mt, t.exact) {
				return true
			}
			continue
		}
		if len(mt) > len(t.prefix)+len(t.suffix) &&
			strings.EqualFold(mt[:len(t.prefix)], t.prefix) &&
			strings.EqualFold(mt[len(mt)-len(t.suffix):], t.suffix) {
			return true
		}
	}
	return false
}

// varyAdd adds the single field name in value (a shared one-element slice, len == cap) to the
// Vary header unless Vary already names it or is "*". When there is no Vary yet it installs the
// shared slice itself, saving an allocation per response.
func varyAdd(h http.Header, value []string) {
	existing := h["Vary"]
	if len(existing) == 0 {
		h["Vary"] = value
		return
	}
	for _, line := range existing {
		for line != "" {
			var name string
			name, line, _ = strings.Cut(line, ",")
			name = strings.TrimSpace(name)
			if name == "*" || strings.EqualFold(name, value[0]) {
				return
			}
		}
	}
	h["Vary"] = append(existing, value[0])
}
