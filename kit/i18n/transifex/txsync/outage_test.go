package txsync_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

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

// The worker as Run runs it: while Transifex answers 503 the consumer pauses and probes with
// Worker.Probe, and the request, whose MaxDeliveries is 2, is never dead-lettered however long the
// outage lasts; once Transifex answers, the sync runs and its version is published.
func TestRunPausesWhileTransifexIsDown(t *testing.T) {
	var mu sync.Mutex
	var pauses []error
	e := newEnv(t, envOptions{worker: txsync.Options{ConsumeOptions: []queue.ConsumeOption{
		queue.MaxDeliveries(2), queue.Backoff(time.Millisecond), queue.ProbeBackoff(5*time.Millisecond, 20*time.Millisecond),
		queue.OnPause(func(reason error) { mu.Lock(); pauses = append(pauses, reason); mu.Unlock() }),
	}}})
	e.srv.Inject(txtest.Fault{Status: http.StatusServiceUnavailable, Times: -1})
	run(t, e.worker.Run)
	id := e.request(t, txsync.Request{Reason: "outage"})

	// Once paused, the consumer probes (project GETs); ten of them later, far past what
	// MaxDeliveries(2) would allow as deliveries, nothing is dead-lettered.
	paused := func() bool { mu.Lock(); defer mu.Unlock(); return len(pauses) > 0 }
	eventually(t, "the consumer paused", paused)
	probes := func() int { return e.srv.Count(http.MethodGet, "/projects/") }
	probesAtPause := probes()
	eventually(t, "ten probes while Transifex is down", func() bool { return probes() >= probesAtPause+10 })
	ctx := context.Background()
	for dl, err := range e.q.DeadLetters(ctx, txsync.DefaultConsumer) {
		if err == nil && dl.Message.ID == id {
			t.Fatalf("dead-lettered during the outage after %d deliveries: %s", dl.Deliveries, dl.Reason)
		}
	}
	mu.Lock()
	if len(pauses) == 0 || !errors.Is(pauses[0], queue.ErrUnavailable) {
		t.Fatalf("OnPause calls %v; want a pause with the Unavailable reason", pauses)
	}
	mu.Unlock()

	e.srv.ClearFaults()
	eventually(t, "a version published after the outage", func() bool {
		cur, err := txsync.ReadCurrent(ctx, e.store, txsync.DefaultPrefix)
		return err == nil && cur != ""
	})
	for dl, err := range e.q.DeadLetters(ctx, txsync.DefaultConsumer) {
		if err == nil {
			t.Fatalf("dead letter %s after %d deliveries: %s", dl.Message.ID, dl.Deliveries, dl.Reason)
		}
	}
	t.Logf("Transifex 503 on every request for %d probes: 0 dead letters, the sync ran after recovery", probes()-probesAtPause)
}
