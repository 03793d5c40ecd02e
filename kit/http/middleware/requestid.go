package middleware

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/textproto"
	"unsafe"

	"github.com/stackkit/stackkit/kit/http/internal/reqctx"
)

// DefaultRequestIDHeader is the header RequestID reads and echoes unless told otherwise.
const DefaultRequestIDHeader = "X-Request-Id"

// requestIDMaxLen bounds an accepted ID: long enough for any tracing or gateway scheme, short
// enough that a client cannot bloat every log line.
const requestIDMaxLen = 128

// RequestIDOption configures RequestID.
type RequestIDOption func(*requestIDConfig)

type requestIDConfig struct {
	header string
	trust  bool
}

// WithRequestIDHeader sets the header that carries the ID in both directions (default
// "X-Request-Id").
func WithRequestIDHeader(name string) RequestIDOption {
	return func(c *requestIDConfig) { c.header = name }
}

// TrustRequestID sets whether an ID sent by the client (or the load balancer in front) is kept
// (default true). An ID is kept only if it is 1 to 128 characters of [A-Za-z0-9._:-], so that
// it is safe to log and to echo; otherwise a new one is generated.
func TrustRequestID(trust bool) RequestIDOption {
	return func(c *requestIDConfig) { c.trust = trust }
}

// RequestID gives every request an ID, echoes it in the response header, and makes it
// available to the rest of the stack: [GetRequestID], the access log, problem responses,
// spans, and log records through [LogHandler].
//
//	handler := middleware.RequestID()(mux)
//	// in a handler:
//	slog.InfoContext(r.Context(), "order paid") // carries request_id when the logger uses LogHandler
//	id := middleware.GetRequestID(r.Context())
//
// A generated ID is 128 random bits as 32 lowercase hex digits, drawn from the runtime's
// per-thread ChaCha8 generator (math/rand/v2): request IDs must be unique, not secret, and that
// generator is seeded from the operating system and costs a few nanoseconds without a system
// call or a shared counter.
func RequestID(opts ...RequestIDOption) func(http.Handler) http.Handler {
	c := requestIDConfig{header: DefaultRequestIDHeader, trust: true}
	for _, o := range opts {
		o(&c)
	}
	c.header = textproto.CanonicalMIMEHeaderKey(c.header)
	return func(next http.Handler) http.Handler { return &requestIDHandler{cfg: c, next: next} }
}

// GetRequestID returns the request ID carried by ctx, or "".
func GetRequestID(ctx context.Context) string { return reqctx.RequestID(ctx) }

type requestIDHandler struct {
	cfg  requestIDConfig
	next http.Handler
}

func (h *requestIDHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s, w, r := reqctx.Ensure(w, r)
	if s.RequestID == "" {
		if h.cfg.trust {
			if v := r.Header[h.cfg.header]; len(v) > 0 && requestIDValid(v[0]) {
				s.RequestID = v[0]
			}
		}
		if s.RequestID == "" {
			s.RequestID = newRequestID(&s.IDBuf)
		}
	}
	// The state's one-element array backs the header value, saving a []string per request.
	s.IDHeader[0] = s.RequestID
	w.Header()[h.cfg.header] = s.IDHeader[:]
	h.next.ServeHTTP(w, r)
}

func requestIDValid(id string) bool {
	if id == "" || len(id) > requestIDMaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

const requestIDHexDigits = "0123456789abcdef"

// newRequestID writes 32 random hex digits into b, which lives in the request's State and is never
// written again, and returns them as a string sharing b's memory: no allocation.
func newRequestID(b *[32]byte) string {
	for half := 0; half < 2; half++ {
		v := rand.Uint64()
		for i := 15; i >= 0; i-- {
			b[half*16+i] = requestIDHexDigits[v&0xf]
			v >>= 4
		}
	}
	return unsafe.String(&b[0], len(b))
}
