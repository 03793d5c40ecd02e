package middleware

import (
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/stackkit/stackkit/kit/http/internal/reqctx"
	"github.com/stackkit/stackkit/kit/http/problem"
)

// Recover turns a panicking handler into a 500 problem response and logs the panic value and
// stack at Error on logger (slog.Default() when nil), with the request ID, method and path.
//
//	handler := middleware.Recover(logger)(mux)
//
// If the handler had already started the response, a 500 can no longer be sent: Recover logs
// the panic and aborts the connection by panicking with http.ErrAbortHandler, which net/http
// handles quietly, so the client sees a truncated response rather than a complete-looking one.
// http.ErrAbortHandler raised by the handler itself is passed on untouched. Either way the
// server keeps serving other requests.
//
// Headers the handler set that must not go out with an error (Set-Cookie, ETag, Last-Modified,
// Location, Content-Disposition) are removed from the 500, and it is marked Cache-Control:
// no-store. Headers set before the handler ran (request ID, security headers) stay.
func Recover(logger *slog.Logger) func(http.Handler) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return func(next http.Handler) http.Handler { return &recoverHandler{logger: logger, next: next} }
}

type recoverHandler struct {
	logger *slog.Logger
	next   http.Handler
}

func (h *recoverHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s, w, r := reqctx.Ensure(w, r)
	defer h.recover(s, w, r)
	h.next.ServeHTTP(w, r)
}

var recoverNoStore = []string{"no-store"}

func (h *recoverHandler) recover(s *reqctx.State, w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	var stack []byte
	if p, ok := v.(*timeoutPanic); ok { // a panic carried over from Timeout's goroutine
		v, stack = p.value, p.stack
	} else {
		stack = debug.Stack()
	}
	h.logger.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
		slog.Any("panic", v),
		slog.String("stack", string(stack)),
		slog.String("request_id", s.RequestID),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
	)
	if s.Writer.WroteHeader() {
		panic(http.ErrAbortHandler)
	}
	hdr := w.Header()
	for _, k := range [...]string{"Set-Cookie", "Etag", "Last-Modified", "Location", "Content-Disposition"} {
		delete(hdr, k)
	}
	hdr["Cache-Control"] = recoverNoStore
	problem.Error(w, r, http.StatusInternalServerError, "")
}
