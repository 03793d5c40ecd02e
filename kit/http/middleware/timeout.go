package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/stackkit/stackkit/kit/http/problem"
)

// Timeout gives a handler d to respond. Its request's context carries the deadline, so database
// calls and outgoing requests made with it give up in time. If the handler has not started its
// response when the deadline passes, the client gets a 503 problem ("request timed out") at
// once, and whatever the handler writes afterwards is discarded (its writes fail with
// http.ErrHandlerTimeout). A handler that has started writing is left to finish, since its
// status line is already out.
//
//	mux.Handle("GET /reports/{id}", middleware.Timeout(5*time.Second)(reportHandler))
//
// Unlike http.TimeoutHandler the response is not buffered: once the handler writes, its output
// streams to the client (Flush works). The handler runs in its own goroutine with its own header
// map (copied to the response when it writes), so that the 503 can be sent while it is still
// running; a panic there is carried back and re-raised in the serving goroutine, stack
// included, for [Recover]; a panic after the 503 is logged with slog.Default. If the client goes
// away first, the response is a 503 "request canceled" that nobody reads. Hijacking is not
// supported through Timeout. d <= 0 means no timeout: the handler is returned as is.
func Timeout(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if d <= 0 {
			return next
		}
		return &timeoutHandler{d: d, next: next}
	}
}

type timeoutHandler struct {
	d    time.Duration
	next http.Handler
}

func (h *timeoutHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.d)
	defer cancel()
	inner := r.WithContext(ctx)
	tw := &timeoutWriter{w: w, h: w.Header().Clone(), ctx: ctx}
	done := make(chan any, 1) // nil when the handler returned, else what it panicked with
	go h.run(tw, inner, done)

	handlerDone := false
	select {
	case v := <-done:
		if v != nil {
			panic(v)
		}
		handlerDone = true
	case <-ctx.Done():
		tw.mu.Lock()
		started := tw.wroteHeader
		tw.mu.Unlock()
		if started { // too late for a 503: let the handler finish its response
			if v := <-done; v != nil {
				panic(v)
			}
			handlerDone = true
		}
	}

	tw.mu.Lock()
	timedOut := tw.refuseLocked() // from here on a handler still running can no longer write
	if !timedOut && !tw.wroteHeader {
		tw.copyHeader() // headers set by a handler that wrote no body
	}
	tw.mu.Unlock()
	if handlerDone && inner.Pattern != "" {
		r.Pattern = inner.Pattern // a mux inside set it on our copy; Telemetry outside reads it
	}
	if timedOut {
		detail := "request timed out"
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			detail = "request canceled"
		}
		problem.Error(w, r, http.StatusServiceUnavailable, detail)
	}
}

func (h *timeoutHandler) run(tw *timeoutWriter, r *http.Request, done chan<- any) {
	defer tw.catch(r, done)
	h.next.ServeHTTP(tw, r)
}

// timeoutPanic carries a panic from the handler's goroutine to the serving goroutine, with the
// stack where it happened.
type timeoutPanic struct {
	value any
	stack []byte
}

func (p *timeoutPanic) String() string { return fmt.Sprintf("%v\n\n%s", p.value, p.stack) }

func (p *timeoutPanic) Error() string { return p.String() }

func (tw *timeoutWriter) catch(r *http.Request, done chan<- any) {
	v := recover()
	if v == nil {
		done <- nil
		return
	}
	if v != http.ErrAbortHandler {
		v = &timeoutPanic{value: v, stack: debug.Stack()}
	}
	// Past the deadline the serving goroutine may already have answered and stopped listening:
	// log the panic so that it is not lost (at worst it is also re-raised and logged twice).
	tw.mu.Lock()
	late := tw.refuseLocked()
	tw.mu.Unlock()
	if late && v != http.ErrAbortHandler {
		p := v.(*timeoutPanic)
		slog.Default().LogAttrs(r.Context(), slog.LevelError, "panic serving request after its timeout",
			slog.Any("panic", p.value), slog.String("stack", string(p.stack)),
			slog.String("request_id", GetRequestID(r.Context())),
			slog.String("method", r.Method), slog.String("path", r.URL.Path))
	}
	done <- v
}

// timeoutWriter is the handler's ResponseWriter. Every use of the real writer happens under mu,
// and none once timedOut is set.
type timeoutWriter struct {
	w   http.ResponseWriter
	h   http.Header     // the handler's own header map
	ctx context.Context // the handler's, with the deadline

	mu          sync.Mutex
	wroteHeader bool
	timedOut    bool
}

func (tw *timeoutWriter) Header() http.Header { return tw.h }

// refuseLocked reports whether the handler may no longer write: the response timed out, or the
// deadline has passed before the response started. Checking the context here, not only in
// ServeHTTP, means a handler woken by the deadline cannot slip its response in before the 503.
func (tw *timeoutWriter) refuseLocked() bool {
	if !tw.timedOut && !tw.wroteHeader && tw.ctx.Err() != nil {
		tw.timedOut = true
	}
	return tw.timedOut
}

func (tw *timeoutWriter) WriteHeader(code int) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.refuseLocked() || tw.wroteHeader {
		return
	}
	tw.writeHeaderLocked(code)
}

func (tw *timeoutWriter) writeHeaderLocked(code int) {
	tw.copyHeader()
	if code >= 200 || code == http.StatusSwitchingProtocols {
		tw.wroteHeader = true
	}
	tw.w.WriteHeader(code)
}

func (tw *timeoutWriter) copyHeader() {
	dst := tw.w.Header()
	clear(dst)
	maps.Copy(dst, tw.h)
}

func (tw *timeoutWriter) Write(p []byte) (int, error) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.refuseLocked() {
		return 0, http.ErrHandlerTimeout
	}
	if !tw.wroteHeader {
		tw.writeHeaderLocked(http.StatusOK)
	}
	return tw.w.Write(p)
}

// FlushError sends buffered output to the client; http.ResponseController finds it.
func (tw *timeoutWriter) FlushError() error {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.refuseLocked() {
		return http.ErrHandlerTimeout
	}
	if !tw.wroteHeader {
		tw.writeHeaderLocked(http.StatusOK)
	}
	return http.NewResponseController(tw.w).Flush()
}

// Flush implements http.Flusher.
func (tw *timeoutWriter) Flush() { _ = tw.FlushError() }
