package txsync_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stackkit/stackkit/kit/i18n/transifex"
	"github.com/stackkit/stackkit/kit/i18n/transifex/txsync"
	"github.com/stackkit/stackkit/kit/i18n/transifex/txtest"
	"github.com/stackkit/stackkit/kit/queue"
)

// handle runs one request through the worker's handler.
func (e *env) handle(t *testing.T) error {
	t.Helper()
	return e.worker.Handle(context.Background(), mustMessage(t, txsync.Request{}))
}

func wantUnavailable(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, queue.ErrUnavailable) || errors.Is(err, queue.ErrPermanent) {
		t.Fatalf("Handle: %v; want queue.Unavailable, not permanent", err)
	}
}

// Transifex down — 503 on every request, refused connections, a 429 holding the token past the
// sync's deadline — is queue.Unavailable, and the probe says so; once Transifex answers, the
// probe passes and the request is served.
func TestTransifexDownIsUnavailable(t *testing.T) {
	t.Run("503", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		e.srv.Inject(txtest.Fault{Status: http.StatusServiceUnavailable, Times: -1})
		err := e.handle(t)
		wantUnavailable(t, err)
		if !errors.Is(err, transifex.ErrUnavailable) {
			t.Errorf("the cause is lost: %v", err)
		}
		if perr := e.worker.Probe(context.Background()); !errors.Is(perr, transifex.ErrUnavailable) {
			t.Fatalf("Probe during the outage: %v", perr)
		}
		e.srv.ClearFaults()
		if perr := e.worker.Probe(context.Background()); perr != nil {
			t.Fatalf("Probe after the outage: %v", perr)
		}
		if err := e.handle(t); err != nil {
			t.Fatalf("Handle after the outage: %v", err)
		}
	})
	for _, st := range []int{http.StatusBadGateway, http.StatusGatewayTimeout} {
		t.Run(http.StatusText(st), func(t *testing.T) {
			e := newEnv(t, envOptions{})
			e.srv.Inject(txtest.Fault{Path: "/resource_translations_async_downloads", Status: st, Times: -1})
			wantUnavailable(t, e.handle(t))
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		e.srv.API.Close()
		err := e.handle(t)
		wantUnavailable(t, err)
		if perr := e.worker.Probe(context.Background()); !errors.Is(perr, transifex.ErrUnavailable) {
			t.Fatalf("Probe with the API closed: %v", perr)
		}
		t.Logf("Handle: %v", err)
	})
	t.Run("file host refused", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		e.srv.Files.Close()
		wantUnavailable(t, e.handle(t))
	})
	t.Run("429 past the deadline", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		e.srv.Inject(txtest.Fault{Path: "/resource_language_stats", Status: http.StatusTooManyRequests, RetryAfter: "3600"})
		err := e.handle(t)
		wantUnavailable(t, err)
		if !errors.Is(err, transifex.ErrThrottled) {
			t.Errorf("the cause is lost: %v", err)
		}
		n := len(e.srv.Requests())
		if perr := e.worker.Probe(context.Background()); !errors.Is(perr, transifex.ErrThrottled) {
			t.Fatalf("Probe during the hold: %v", perr)
		}
		if got := len(e.srv.Requests()); got != n {
			t.Fatalf("the probe sent a request during the hold")
		}
		e.clock.Advance(transifex.DefaultMaxRetryAfter)
		if perr := e.worker.Probe(context.Background()); perr != nil {
			t.Fatalf("Probe after the hold: %v", perr)
		}
	})
}

// A short 429 is waited out inside the sync; failures of the request itself keep their
// classification: 401 and 404 permanent, a 500 or a failed job retried as before.
func TestRequestFailuresAreNotUnavailable(t *testing.T) {
	t.Run("short 429", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		e.srv.Inject(txtest.Fault{Path: "/resource_language_stats", Status: http.StatusTooManyRequests, RetryAfter: "2"})
		if err := e.handle(t); err != nil {
			t.Fatalf("Handle: %v", err)
		}
	})
	for _, st := range []int{http.StatusUnauthorized, http.StatusNotFound} {
		t.Run(http.StatusText(st), func(t *testing.T) {
			e := newEnv(t, envOptions{})
			e.srv.Inject(txtest.Fault{Path: "/projects/", Status: st, Times: -1})
			if err := e.handle(t); !errors.Is(err, queue.ErrPermanent) || errors.Is(err, queue.ErrUnavailable) {
				t.Fatalf("Handle: %v; want permanent", err)
			}
			// Transifex answers: nothing to wait for.
			if perr := e.worker.Probe(context.Background()); perr != nil {
				t.Fatalf("Probe: %v", perr)
			}
		})
	}
	t.Run("500", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		e.srv.Inject(txtest.Fault{Path: "/resource_translations_async_downloads", Status: http.StatusInternalServerError, Times: -1})
		if err := e.handle(t); err == nil || errors.Is(err, queue.ErrPermanent) || errors.Is(err, queue.ErrUnavailable) {
			t.Fatalf("Handle: %v; want an ordinary failure", err)
		}
	})
	t.Run("failed job", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		e.srv.FailJob(web, "de", txtest.ErrorObject{Detail: "parse error"})
		if err := e.handle(t); err == nil || errors.Is(err, queue.ErrPermanent) || errors.Is(err, queue.ErrUnavailable) {
			t.Fatalf("Handle: %v; want an ordinary failure", err)
		}
	})
}
