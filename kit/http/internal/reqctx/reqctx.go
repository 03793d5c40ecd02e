// Package reqctx holds the per-request state that kit/http's middleware share. The outermost
// middleware that needs it allocates one State, puts it in the request's context once, and wraps
// the ResponseWriter once; every other middleware finds it there. That keeps the default stack
// to a handful of allocations per request instead of a context value and a writer per layer.
package reqctx

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"time"
)

// State is one request's shared record.
type State struct {
	// RequestID is the request's ID (accepted from the client or generated).
	RequestID string
	// IDHeader backs the response's X-Request-Id header value without a per-request slice.
	IDHeader [1]string
	// ClientIP is the client's address, resolved through trusted proxies when configured,
	// otherwise the host part of RemoteAddr.
	ClientIP string
	// Scheme is "https" or "http", resolved through trusted proxies when configured.
	Scheme string
	// CSPNonce is the Content-Security-Policy nonce for this response, when CSP nonces are on.
	CSPNonce string
	// Resolved reports whether ClientIP and Scheme were set by the trusted-proxy middleware.
	Resolved bool

	// Writer records the status and size of the response; Wrapped is true once the request's
	// ResponseWriter has been replaced by it.
	Writer  ResponseWriter
	Wrapped bool
	// IDBuf holds a generated request ID's characters; RequestID then points into it.
	IDBuf [32]byte

	// The State is itself the request's context (it answers its own key and defers everything
	// else to parent) and holds the request copy that carries it: one allocation per request
	// instead of a State, a context value and a request.
	parent context.Context
	req    http.Request
}

type stateKey struct{}

// Deadline, Done, Err and Value make *State the request's context.
func (s *State) Deadline() (time.Time, bool) { return s.parent.Deadline() }
func (s *State) Done() <-chan struct{}       { return s.parent.Done() }
func (s *State) Err() error                  { return s.parent.Err() }
func (s *State) Value(key any) any {
	if key == (stateKey{}) {
		return s
	}
	return s.parent.Value(key)
}

// From returns the request's State, or nil.
func From(ctx context.Context) *State {
	s, _ := ctx.Value(stateKey{}).(*State)
	return s
}

// Ensure returns the request's State, creating it (and the request carrying it) if needed, and
// the ResponseWriter to pass on: the recording writer, installed once per request.
func Ensure(w http.ResponseWriter, r *http.Request) (*State, http.ResponseWriter, *http.Request) {
	s := From(r.Context())
	if s == nil {
		s = &State{parent: r.Context()}
		s.req = *r.WithContext(s) // the copy WithContext makes does not escape: it lands in s
		r = &s.req
	}
	if !s.Wrapped {
		s.Writer.Reset(w)
		s.Wrapped = true
		return s, &s.Writer, r
	}
	return s, w, r
}

// WithRequestID returns ctx carrying the request ID (for code outside the middleware, such as
// a queue consumer that continues a request's work).
func WithRequestID(ctx context.Context, id string) context.Context {
	if s := From(ctx); s != nil {
		s.RequestID = id
		return ctx
	}
	return &State{RequestID: id, parent: ctx}
}

// RequestID returns the request ID in ctx, or "".
func RequestID(ctx context.Context) string {
	if s := From(ctx); s != nil {
		return s.RequestID
	}
	return ""
}

// ResponseWriter records the status code and body size written through it. It passes Flush,
// Hijack and ReadFrom through, and Unwrap lets http.ResponseController reach the original.
type ResponseWriter struct {
	w           http.ResponseWriter
	status      int
	written     int64
	wroteHeader bool
}

// Reset points the recorder at w and clears what it recorded.
func (rw *ResponseWriter) Reset(w http.ResponseWriter) { *rw = ResponseWriter{w: w} }

// Status is the status code written, 200 if the handler wrote a body without one, 0 if nothing
// was written yet.
func (rw *ResponseWriter) Status() int { return rw.status }

// Written is the number of body bytes written.
func (rw *ResponseWriter) Written() int64 { return rw.written }

// WroteHeader reports whether the header was sent.
func (rw *ResponseWriter) WroteHeader() bool { return rw.wroteHeader }

func (rw *ResponseWriter) Header() http.Header { return rw.w.Header() }

func (rw *ResponseWriter) WriteHeader(code int) {
	if !rw.wroteHeader && code >= 200 || code == http.StatusSwitchingProtocols {
		rw.status, rw.wroteHeader = code, true
	}
	rw.w.WriteHeader(code)
}

func (rw *ResponseWriter) Write(b []byte) (int, error) {
	if !rw.wroteHeader {
		rw.status, rw.wroteHeader = http.StatusOK, true
	}
	n, err := rw.w.Write(b)
	rw.written += int64(n)
	return n, err
}

// Flush sends buffered data to the client, if the underlying writer can.
func (rw *ResponseWriter) Flush() {
	if !rw.wroteHeader {
		rw.status, rw.wroteHeader = http.StatusOK, true
	}
	_ = http.NewResponseController(rw.w).Flush()
}

// Hijack takes over the connection (WebSockets), if the underlying writer allows it.
func (rw *ResponseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(rw.w).Hijack()
	if err == nil && !rw.wroteHeader {
		rw.status, rw.wroteHeader = http.StatusSwitchingProtocols, true
	}
	return conn, brw, err
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (rw *ResponseWriter) Unwrap() http.ResponseWriter { return rw.w }
