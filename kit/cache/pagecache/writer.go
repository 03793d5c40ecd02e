package pagecache

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"
)

type writerState uint8

const (
	statePending     writerState = iota // header held; body buffered; may be stored
	statePassthrough                    // header sent; body passes through; not stored
	stateHijacked
)

// pageWriter buffers a GET response while it may still be stored, and stores it when the
// handler returns. As soon as it cannot be (status, header, size, a flush) it sends what it has
// and lets the rest through.
type pageWriter struct {
	hd     *handler
	w      http.ResponseWriter
	r      *http.Request
	locale string // the request's locale, if asked (asked)
	asked  bool
	vary   []byte // the URL's stored Vary list as read at lookup, or nil
	pre    []preField
	preAll []string
	buf    []byte
	status int // final status recorded but not sent; 0 if none
	state  writerState
}

// preField is a header field that was on the ResponseWriter before the handler ran.
type preField struct {
	name   string
	values []string
}

func (pw *pageWriter) init(hd *handler, w http.ResponseWriter, r *http.Request, locale string, asked bool, vary []byte) {
	pw.hd, pw.w, pw.r, pw.locale, pw.asked, pw.vary = hd, w, r, locale, asked, vary
	// Copies, not the slices: outer middleware may change a value in place later.
	for name, vs := range w.Header() {
		start := len(pw.preAll)
		pw.preAll = append(pw.preAll, vs...)
		pw.pre = append(pw.pre, preField{name: name, values: pw.preAll[start:len(pw.preAll):len(pw.preAll)]})
	}
}

func (pw *pageWriter) release() {
	buf := pw.buf[:0]
	if cap(buf) > 64<<10 {
		buf = nil // do not keep a megabyte per pooled writer
	}
	clear(pw.pre)
	clear(pw.preAll)
	*pw = pageWriter{buf: buf, pre: pw.pre[:0], preAll: pw.preAll[:0]}
}

// Header returns the underlying writer's header map.
func (pw *pageWriter) Header() http.Header { return pw.w.Header() }

// WriteHeader records a final status; informational ones go straight out.
func (pw *pageWriter) WriteHeader(code int) {
	if pw.state != statePending {
		pw.w.WriteHeader(code)
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		pw.w.WriteHeader(code)
		return
	}
	if pw.status != 0 {
		return // superfluous, as net/http would ignore it
	}
	pw.status = code
	pw.early()
}

// early lets a response through at once when its status or header already rule storing out,
// so that it is not buffered for nothing. The header is judged again at the end.
func (pw *pageWriter) early() {
	h := pw.w.Header()
	if _, ok := pw.hd.cfg.judge(pw.r, pw.status, h, pw.hd.cfg.now()); !ok {
		_ = pw.pass()
		return
	}
	if cl := first(h, "Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err != nil || n > int64(pw.hd.cfg.maxSize) {
			_ = pw.pass()
		}
	}
}

func (pw *pageWriter) Write(p []byte) (int, error) {
	if pw.state != statePending {
		return pw.w.Write(p)
	}
	if pw.status == 0 {
		pw.status = http.StatusOK
		if pw.early(); pw.state != statePending {
			return pw.w.Write(p)
		}
	}
	if len(pw.buf)+len(p) > pw.hd.cfg.maxSize {
		if err := pw.pass(); err != nil {
			return 0, err
		}
		return pw.w.Write(p)
	}
	pw.buf = append(pw.buf, p...)
	return len(p), nil
}

// pass sends the header and whatever is buffered, and lets the rest through unstored.
func (pw *pageWriter) pass() error {
	status := pw.status
	if status == 0 {
		status = http.StatusOK
	}
	pw.w.WriteHeader(status)
	pw.state = statePassthrough
	if len(pw.buf) == 0 {
		return nil
	}
	_, err := pw.w.Write(pw.buf)
	pw.buf = pw.buf[:0]
	return err
}

// finish sends a response still buffered when the handler returns, and stores it if the store
// rules allow.
func (pw *pageWriter) finish() {
	if pw.state != statePending {
		return
	}
	if pw.status == 0 { // nothing written: an empty 200
		pw.status = http.StatusOK
		if pw.early(); pw.state != statePending {
			return
		}
	}
	cfg := pw.hd.cfg
	now := cfg.now()
	h := pw.w.Header()
	f, ok := cfg.judge(pw.r, pw.status, h, now)
	if cl := first(h, "Content-Length"); ok && cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		ok = err == nil && n == int64(len(pw.buf))
	}
	ok = ok && !usesNonce(h, pw.buf)
	if !ok {
		_ = pw.pass()
		return
	}
	f.patch(h, now)
	if len(h["Content-Length"]) == 0 {
		h["Content-Length"] = []string{strconv.Itoa(len(pw.buf))}
	}
	p := page{stored: now.UnixNano(), expires: now.Add(f.ttl).UnixNano(), status: pw.status, age: f.age, body: pw.buf}
	value := encodePage(&p, h, pw.keep)
	pw.state = statePassthrough
	pw.w.WriteHeader(pw.status)
	_, _ = pw.w.Write(pw.buf) // a client gone away does not make the page it asked for wrong
	pw.store(value, cfg.varyNames(h), f.ttl, now.UnixNano())
}

// keep tells which header fields are stored.
func (pw *pageWriter) keep(name string, values []string) bool {
	if len(values) == 0 || name == "Set-Cookie" || name == "Age" || hopByHop(name, pw.w.Header()["Connection"]) {
		return false
	}
	for _, f := range pw.pre {
		if f.name == name {
			return !equalValues(f.values, values) // changed by the handler: its own
		}
	}
	return true
}

func equalValues(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// store writes the page and, when it is new or changed or would expire before the page, the
// URL's Vary list. A list read at lookup keeps its nonce, so the URL's other variants stay
// reachable; without one (none stored, or deleted by InvalidateOnWrite) a new nonce makes every
// page stored under the old list unreachable. Invalidation is best effort, as in any cache-aside
// scheme: a GET rendered while the write ran may store what it rendered, and if it must also
// rewrite the list it read before the delete (changed names, a longer lifetime), it brings the
// old nonce, and the old variants, back.
func (pw *pageWriter) store(value []byte, names []string, ttl time.Duration, now int64) {
	hd := pw.hd
	old, err := decodeVary(pw.vary)
	have := pw.vary != nil && err == nil
	varyTTL := max(ttl, hd.cfg.ttl)
	v := vary{nonce: old.nonce, expires: now + int64(varyTTL)}
	if !have {
		v.nonce = rand.Uint64()
	}
	writeVary := !have || !old.sameNames(names) || old.expires < now+int64(ttl)
	if have && !writeVary {
		v = old
	}
	varyValue := encodeVary(v, names)
	v, _ = decodeVary(varyValue)

	var kb [512]byte
	u := hd.appendURL(kb[:0], pw.r)
	varyKey := hd.key(kindVary, sha256.Sum256(u))
	locale := pw.locale
	if !pw.asked && hd.cfg.locale != nil {
		locale = hd.cfg.locale(pw.r)
	}
	pageKey := hd.key(kindPage, sha256.Sum256(appendVariant(u, pw.r, locale, v)))
	ctx := context.WithoutCancel(pw.r.Context()) // a client gone after the body must not undo the render
	hd.set(ctx, pw.r, pageKey, value, ttl)
	if writeVary {
		hd.set(ctx, pw.r, varyKey, varyValue, varyTTL)
	}
}

// FlushError sends the response as it stands, unstored, and flushes it: a flushed response is
// being streamed.
func (pw *pageWriter) FlushError() error {
	if pw.state == statePending {
		if err := pw.pass(); err != nil {
			return err
		}
	}
	if pw.state == stateHijacked {
		return nil
	}
	return http.NewResponseController(pw.w).Flush()
}

// Flush is FlushError for callers that look for http.Flusher.
func (pw *pageWriter) Flush() { _ = pw.FlushError() }

// Hijack hands the connection over (WebSockets); nothing is stored.
func (pw *pageWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(pw.w).Hijack()
	if err == nil {
		pw.state = stateHijacked
		pw.buf = pw.buf[:0]
	}
	return conn, brw, err
}

// ReadFrom keeps net/http's sendfile path for responses that pass through.
func (pw *pageWriter) ReadFrom(src io.Reader) (int64, error) {
	if pw.state == statePassthrough {
		if rf, ok := pw.w.(io.ReaderFrom); ok {
			return rf.ReadFrom(src)
		}
	}
	return io.Copy(writerOnly{pw}, src)
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (pw *pageWriter) Unwrap() http.ResponseWriter { return pw.w }

// writerOnly hides ReadFrom so that io.Copy does not call back into it.
type writerOnly struct{ pw *pageWriter }

func (w writerOnly) Write(p []byte) (int, error) { return w.pw.Write(p) }

// statusWriter records the status of a write request's response, for InvalidateOnWrite.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (sw *statusWriter) WriteHeader(code int) {
	if sw.status == 0 && code >= 200 {
		sw.status = code
	}
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *statusWriter) Write(p []byte) (int, error) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	return sw.ResponseWriter.Write(p)
}

// FlushError flushes the underlying writer.
func (sw *statusWriter) FlushError() error {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	return http.NewResponseController(sw.ResponseWriter).Flush()
}

// Flush is FlushError for callers that look for http.Flusher.
func (sw *statusWriter) Flush() { _ = sw.FlushError() }

// Unwrap returns the underlying writer, for http.ResponseController.
func (sw *statusWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }
