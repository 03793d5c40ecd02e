package middleware

import (
	"bufio"
	"fmt"
	"hash/crc64"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stackkit/stackkit/kit/http/problem"
)

// ETagOption configures ConditionalGET.
type ETagOption func(*etagConfig)

type etagConfig struct {
	maxSize int
}

// ETagMaxSize sets the largest body, in bytes, that ConditionalGET buffers to compute an ETag
// (default 1 MiB). Larger responses pass through without one.
func ETagMaxSize(n int) ETagOption {
	return func(c *etagConfig) { c.maxSize = max(n, 0) }
}

// ConditionalGET answers conditional GET and HEAD requests with 304 Not Modified, like Django's
// ConditionalGetMiddleware, so a client revalidating a page it has cached gets headers only.
//
//	handler = middleware.Compress()(middleware.ConditionalGET()(mux))
//
// A 200 response that has neither ETag nor Last-Modified, and no "Cache-Control: no-store", is
// buffered up to ETagMaxSize and given a strong ETag computed from its body (CRC-64 and length:
// fast and stable across processes, not a security measure). A response that is larger, or
// that the handler flushes, passes through untouched. An ETag or Last-Modified set by the
// handler is used as it is, without buffering.
//
// The preconditions are then evaluated as RFC 9110 §13.2.2 orders them: If-Match and
// If-Unmodified-Since failing give 412; If-None-Match matching (weak comparison, "*", lists)
// gives 304, and only without If-None-Match does If-Modified-Since count, giving 304 when
// Last-Modified is not after it. A 304 keeps every header except Content-Type, Content-Length
// and Content-Encoding (and Last-Modified when there is an ETag), as net/http's ServeContent
// does, so ETag, Cache-Control, Vary, Expires and Date reach the client.
//
// For HEAD it computes an ETag only when the handler writes the body it would send for GET, as
// net/http handlers usually do; a HEAD handler that writes nothing gets no ETag. Other methods
// pass through: the lost-update preconditions of PUT and DELETE need the handler's knowledge of
// the stored resource.
func ConditionalGET(opts ...ETagOption) func(http.Handler) http.Handler {
	cfg := &etagConfig{maxSize: 1 << 20}
	for _, opt := range opts {
		opt(cfg)
	}
	return func(next http.Handler) http.Handler {
		return &etagHandler{next: next, cfg: cfg}
	}
}

type etagHandler struct {
	next http.Handler
	cfg  *etagConfig
}

var (
	etagWriterPool sync.Pool
	etagTable      = crc64.MakeTable(crc64.ECMA)
)

func (e *etagHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		e.next.ServeHTTP(w, r)
		return
	}
	ew, _ := etagWriterPool.Get().(*etagWriter)
	if ew == nil {
		ew = new(etagWriter)
	}
	ew.w, ew.r, ew.cfg = w, r, e.cfg
	e.next.ServeHTTP(ew, r)
	// No defer: after a panic the buffered body must not go out ahead of the recovery 500.
	ew.finish()
	ew.release()
	etagWriterPool.Put(ew)
}

type etagState uint8

const (
	etagPending     etagState = iota // header not sent; body buffered
	etagPassthrough                  // header sent; body passes through
	etagAnswered                     // 304 or 412 sent in the handler's place; body dropped
	etagHijacked
)

type etagWriter struct {
	w      http.ResponseWriter
	r      *http.Request
	cfg    *etagConfig
	buf    []byte
	status int // final status recorded but not sent; 0 if none
	state  etagState
}

func (ew *etagWriter) release() {
	buf := ew.buf[:0]
	if cap(buf) > 64<<10 {
		buf = nil // do not keep a megabyte per pooled writer
	}
	*ew = etagWriter{buf: buf}
}

// Header returns the underlying writer's header map.
func (ew *etagWriter) Header() http.Header { return ew.w.Header() }

// WriteHeader records a final status; a 200 without validators is held until the body is known.
func (ew *etagWriter) WriteHeader(code int) {
	switch ew.state {
	case etagPassthrough, etagHijacked:
		ew.w.WriteHeader(code)
		return
	case etagAnswered:
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		ew.w.WriteHeader(code)
		return
	}
	if ew.status != 0 {
		return
	}
	ew.status = code
	ew.early()
}

// early decides what it can from the status and headers alone.
func (ew *etagWriter) early() {
	h := ew.w.Header()
	switch {
	case ew.status != http.StatusOK:
		ew.pass()
	case etagField(h, "Etag") != "" || etagField(h, "Last-Modified") != "":
		ew.answer()
	case etagNoStore(h):
		ew.pass()
	default:
		if cl := etagField(h, "Content-Length"); cl != "" {
			if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n > int64(ew.cfg.maxSize) {
				ew.pass()
			}
		}
	}
}

func (ew *etagWriter) Write(p []byte) (int, error) {
	switch ew.state {
	case etagPassthrough, etagHijacked:
		return ew.w.Write(p)
	case etagAnswered:
		return len(p), nil
	}
	if ew.status == 0 {
		ew.status = http.StatusOK
		ew.early()
		if ew.state != etagPending {
			return ew.Write(p)
		}
	}
	if len(ew.buf)+len(p) > ew.cfg.maxSize {
		if err := ew.pass(); err != nil {
			return 0, err
		}
		return ew.w.Write(p)
	}
	ew.buf = append(ew.buf, p...)
	return len(p), nil
}

// pass sends the header and whatever is buffered, and lets the rest through.
func (ew *etagWriter) pass() error {
	status := ew.status
	if status == 0 {
		status = http.StatusOK
	}
	ew.w.WriteHeader(status)
	ew.state = etagPassthrough
	if len(ew.buf) == 0 {
		return nil
	}
	_, err := ew.w.Write(ew.buf)
	ew.buf = ew.buf[:0]
	return err
}

// answer evaluates the request's preconditions against the response's validators and sends
// 304 or 412 instead of the response when they say so.
func (ew *etagWriter) answer() error {
	switch etagEvaluate(ew.r, ew.w.Header()) {
	case http.StatusNotModified:
		h := ew.w.Header()
		delete(h, "Content-Type")
		delete(h, "Content-Length")
		delete(h, "Content-Encoding")
		if etagField(h, "Etag") != "" {
			delete(h, "Last-Modified")
		}
		ew.w.WriteHeader(http.StatusNotModified)
	case http.StatusPreconditionFailed:
		problem.Error(ew.w, ew.r, http.StatusPreconditionFailed, "precondition failed")
	default:
		return ew.pass()
	}
	ew.state = etagAnswered
	ew.buf = ew.buf[:0]
	return nil
}

// finish tags a fully buffered 200 and answers it.
func (ew *etagWriter) finish() {
	if ew.state != etagPending {
		return
	}
	if ew.status == 0 { // nothing written: an empty 200
		ew.status = http.StatusOK
		if ew.early(); ew.state != etagPending {
			return
		}
	}
	h := ew.w.Header()
	if ew.r.Method == http.MethodHead {
		// net/http discards a HEAD body, and handlers such as ServeContent write none: only a
		// body matching the declared length is the GET body whose tag the client may hold.
		cl := etagField(h, "Content-Length")
		if len(ew.buf) == 0 || cl != "" && cl != strconv.Itoa(len(ew.buf)) {
			_ = ew.pass()
			return
		}
	}
	h["Etag"] = []string{etagCompute(ew.buf)}
	_ = ew.answer()
}

// FlushError sends the response as it stands, without an ETag, and flushes it.
func (ew *etagWriter) FlushError() error {
	if ew.state == etagPending {
		if err := ew.pass(); err != nil {
			return err
		}
	}
	if ew.state == etagAnswered {
		return nil
	}
	return http.NewResponseController(ew.w).Flush()
}

// Flush is FlushError for callers that look for http.Flusher.
func (ew *etagWriter) Flush() { _ = ew.FlushError() }

// Hijack hands the connection over (WebSockets).
func (ew *etagWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(ew.w).Hijack()
	if err == nil {
		ew.state = etagHijacked
		ew.buf = ew.buf[:0]
	}
	return conn, brw, err
}

// ReadFrom keeps net/http's sendfile path for responses that pass through.
func (ew *etagWriter) ReadFrom(src io.Reader) (int64, error) {
	if ew.state == etagPassthrough {
		if rf, ok := ew.w.(io.ReaderFrom); ok {
			return rf.ReadFrom(src)
		}
	}
	return io.Copy(etagWriterOnly{ew}, src)
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (ew *etagWriter) Unwrap() http.ResponseWriter { return ew.w }

// etagWriterOnly hides ReadFrom so that io.Copy does not call back into it.
type etagWriterOnly struct{ ew *etagWriter }

func (w etagWriterOnly) Write(p []byte) (int, error) { return w.ew.Write(p) }

// etagCompute returns a strong entity tag for body: its CRC-64 and length, in hex.
func etagCompute(body []byte) string {
	var b [40]byte
	s := append(b[:0], '"')
	s = strconv.AppendUint(s, crc64.Checksum(body, etagTable), 16)
	s = append(s, '-')
	s = strconv.AppendUint(s, uint64(len(body)), 16)
	s = append(s, '"')
	return string(s)
}

func etagNoStore(h http.Header) bool {
	for _, line := range h["Cache-Control"] {
		for line != "" {
			var d string
			d, line, _ = strings.Cut(line, ",")
			if strings.EqualFold(strings.TrimSpace(d), "no-store") {
				return true
			}
		}
	}
	return false
}

// etagEvaluate applies RFC 9110 §13.2.2 to a GET or HEAD request whose response, with status 200,
// has the validators in h. It returns 304, 412, or 0 to send the response.
func etagEvaluate(r *http.Request, h http.Header) int {
	etag := etagField(h, "Etag")
	if im := r.Header["If-Match"]; len(im) > 0 {
		if !etagListMatches(im, etag, false) {
			return http.StatusPreconditionFailed
		}
	} else if ius := etagField(r.Header, "If-Unmodified-Since"); ius != "" {
		if lm, ok := etagTime(etagField(h, "Last-Modified")); ok {
			if t, ok := etagTime(ius); ok && lm.After(t) {
				return http.StatusPreconditionFailed
			}
		}
	}
	if inm := r.Header["If-None-Match"]; len(inm) > 0 {
		if etagListMatches(inm, etag, true) {
			return http.StatusNotModified
		}
		return 0
	}
	if ims := etagField(r.Header, "If-Modified-Since"); ims != "" {
		if lm, ok := etagTime(etagField(h, "Last-Modified")); ok {
			if t, ok := etagTime(ims); ok && !lm.After(t) {
				return http.StatusNotModified
			}
		}
	}
	return 0
}

// etagField is h.Get for a key already in canonical form, without canonicalizing it again.
func etagField(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func etagTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := http.ParseTime(s)
	return t, err == nil
}

// etagListMatches reports whether an If-Match or If-None-Match field (values) matches etag:
// "*" matches any current representation; otherwise some listed tag must compare equal, weakly
// (ignoring W/) or strongly (neither weak).
func etagListMatches(values []string, etag string, weak bool) bool {
	for _, v := range values {
		for {
			v = textproto.TrimString(v)
			if v == "" {
				break
			}
			if v[0] == ',' {
				v = v[1:]
				continue
			}
			if v[0] == '*' {
				return true
			}
			tag, rest := etagScan(v)
			if tag == "" {
				break // malformed: ignore the rest of this line, as net/http does
			}
			if etag != "" && etagEqual(tag, etag, weak) {
				return true
			}
			v = rest
		}
	}
	return false
}

func etagEqual(a, b string, weak bool) bool {
	if weak {
		return strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
	}
	return a == b && !strings.HasPrefix(a, "W/")
}

// etagScan returns the entity tag at the start of s (with its W/ prefix, if weak) and the rest,
// or "" if s does not start with one.
func etagScan(s string) (etag, rest string) {
	start := 0
	if strings.HasPrefix(s, "W/") {
		start = 2
	}
	if len(s)-start < 2 || s[start] != '"' {
		return "", ""
	}
	for i := start + 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return s[:i+1], s[i+1:]
		case c == 0x21 || 0x23 <= c && c <= 0x7E || c >= 0x80:
		default:
			return "", ""
		}
	}
	return "", ""
}
