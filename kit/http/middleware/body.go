package middleware

import (
	"fmt"
	"net/http"

	"github.com/stackkit/stackkit/kit/http/problem"
)

// BodyLimit caps request bodies at n bytes. A request whose Content-Length says more gets a 413
// problem at once, without its body being read; any other body is wrapped in
// http.MaxBytesReader, so reading past n fails with *http.MaxBytesError (which DecodeJSON turns
// into a 413) and the connection is closed afterwards instead of the rest being drained.
//
//	handler := middleware.BodyLimit(1 << 20)(mux) // 1 MiB
//
// Requests without a body (GET, HEAD, an empty POST) pass untouched. The body is replaced on the
// request itself rather than on a copy, to save allocating one per request. BodyLimit panics if
// n is negative.
func BodyLimit(n int64) func(http.Handler) http.Handler {
	if n < 0 {
		panic(fmt.Sprintf("middleware: BodyLimit(%d): negative limit", n))
	}
	return func(next http.Handler) http.Handler { return &bodyLimitHandler{limit: n, next: next} }
}

type bodyLimitHandler struct {
	limit int64
	next  http.Handler
}

var bodyConnectionClose = []string{"close"}

func (h *bodyLimitHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > h.limit {
		if r.ProtoMajor == 1 {
			// The unread body would otherwise be drained before the next request; HTTP/2
			// resets the stream instead (and would treat Connection: close as a GOAWAY).
			w.Header()["Connection"] = bodyConnectionClose
		}
		problem.Error(w, r, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(bodyServerWriter(w), r.Body, h.limit)
	}
	h.next.ServeHTTP(w, r)
}

// bodyServerWriter unwraps w down to net/http's own writer, which MaxBytesReader tells to close
// the connection once the limit is hit; the wrappers in between do not pass that on.
func bodyServerWriter(w http.ResponseWriter) http.ResponseWriter {
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}
