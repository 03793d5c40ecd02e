package transifex_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/stackkit/stackkit/kit/i18n/transifex"
	"github.com/stackkit/stackkit/kit/i18n/transifex/txtest"
)

// throttleLoad runs five goroutines against the imitation on real time, each issuing another kind
// of request (download jobs with their polls, project reads, stats listings, resource reads,
// source upload jobs) through one client, with two 429s injected on two kinds mid-run. It returns
// once both 429s were answered and requests were seen after the later hold ended. The rate
// limiter spaces requests 100ms apart, far longer than a loopback round trip, so no request is
// in flight when a 429 reaches the client: any request arriving inside a hold was sent after the
// client knew of it.
func throttleLoad(t *testing.T, faults ...txtest.Fault) []txtest.Request {
	t.Helper()
	srv := txtest.New(t)
	srv.AddProject(project, "en", "de", "fr")
	srv.AddResource(web, "PO", sourcePO)
	srv.SetTranslation(web, "de", po("de", "Hallo", "Tschüss"), txtest.Stats{Total: 2, Translated: 2})
	c, err := transifex.New(srv.Token, transifex.WithBaseURL(srv.URL()), transifex.WithLogger(quietLogger()),
		transifex.WithRateLimit(rate.Limit(10), 1),
		transifex.WithPollBackoff(transifex.Backoff{Initial: 20 * time.Millisecond, Max: 50 * time.Millisecond, Multiplier: 2}))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range faults {
		srv.Inject(f)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kinds := map[string]func(context.Context) error{
		"download": func(ctx context.Context) error {
			_, err := c.DownloadTranslation(ctx, transifex.DownloadRequest{Resource: web, Language: "de"})
			return err
		},
		"project": func(ctx context.Context) error { _, err := c.Project(ctx, project); return err },
		"stats": func(ctx context.Context) error {
			_, err := c.ResourceLanguageStats(ctx, project, transifex.StatsFilter{})
			return err
		},
		"resource": func(ctx context.Context) error { _, err := c.Resource(ctx, web); return err },
		"upload": func(ctx context.Context) error {
			_, err := c.UploadSource(ctx, transifex.SourceUpload{Resource: web, Content: sourcePO})
			return err
		},
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(kinds))
	for name, do := range kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := do(ctx); err != nil && ctx.Err() == nil {
					errs <- fmt.Errorf("%s: %w", name, err)
					return
				}
			}
		}()
	}
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	done := make(chan struct{})
	go func() {
		select {
		case <-deadline.C:
		case <-ctx.Done():
		}
		close(done)
	}()
	for n := 1; ; n++ {
		select {
		case err := <-errs:
			cancel()
			wg.Wait()
			t.Fatal(err)
		default:
		}
		if !srv.WaitRequests(done, n) {
			cancel()
			wg.Wait()
			t.Fatalf("after 30s: %d requests, %d 429s; the load did not finish", len(srv.Requests()), len(throttled(srv.Requests())))
		}
		reqs := srv.Requests()
		th := throttled(reqs)
		if len(th) < len(faults) {
			continue
		}
		last := time.Time{}
		for _, r := range th {
			if u := holdUntil(t, r); u.After(last) {
				last = u
			}
		}
		after := 0
		for _, r := range reqs {
			if r.At.After(last) && r.Status != 0 {
				after++
			}
		}
		if after >= 5 {
			break
		}
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return srv.Requests()
}

func throttled(reqs []txtest.Request) []txtest.Request {
	var out []txtest.Request
	for _, r := range reqs {
		if r.Status == http.StatusTooManyRequests {
			out = append(out, r)
		}
	}
	return out
}

// holdUntil is the instant a 429's Retry-After names, from the server's side: its arrival plus
// the seconds, or the date.
func holdUntil(t *testing.T, r txtest.Request) time.Time {
	t.Helper()
	if n, err := strconv.Atoi(r.RetryAfter); err == nil {
		return r.At.Add(time.Duration(n) * time.Second)
	}
	at, err := http.ParseTime(r.RetryAfter)
	if err != nil {
		t.Fatalf("429 with Retry-After %q", r.RetryAfter)
	}
	return at
}

func kindOf(r txtest.Request) string {
	p := r.Path
	if i := strings.Index(p[1:], "/"); i >= 0 {
		p = p[:i+1]
	}
	return r.Method + " " + p
}

// checkHolds asserts that no request of any kind arrived between a 429 and its Retry-After
// instant, and logs the figures.
func checkHolds(t *testing.T, form string, reqs []txtest.Request) {
	t.Helper()
	th := throttled(reqs)
	perKind := map[string]int{}
	for _, r := range reqs {
		perKind[kindOf(r)]++
	}
	inside := 0
	for _, h := range th {
		until := holdUntil(t, h)
		next := time.Time{}
		for _, r := range reqs {
			if !r.At.After(h.At) {
				continue
			}
			if r.At.Before(until) {
				inside++
				t.Errorf("%s %s arrived %s after the 429 on %s %s, inside its %s hold (Retry-After %q)",
					r.Method, r.Path, r.At.Sub(h.At).Round(time.Millisecond), h.Method, h.Path,
					until.Sub(h.At).Round(time.Millisecond), h.RetryAfter)
			}
			if next.IsZero() || r.At.Before(next) {
				next = r.At
			}
		}
		if next.IsZero() {
			t.Fatalf("no request after the 429 on %s %s", h.Method, h.Path)
		}
		t.Logf("429 (%s form) on %s %s: Retry-After %q = hold %s; next request of any kind %s later",
			form, h.Method, h.Path, h.RetryAfter, until.Sub(h.At).Round(time.Millisecond), next.Sub(h.At).Round(time.Millisecond))
	}
	t.Logf("load: 5 goroutines of 5 request kinds, one client at 10 req/s; fault: %d 429s (%s form); requests: %d answered, %d 429, %d arrived inside a hold; per kind %v",
		len(th), form, len(reqs), len(th), inside, perKind)
}

func TestThrottleHoldsEveryRequestRetryAfterSeconds(t *testing.T) {
	reqs := throttleLoad(t,
		txtest.Fault{Method: http.MethodPost, Path: "/resource_translations_async_downloads", Status: http.StatusTooManyRequests, RetryAfter: "1", After: 2},
		txtest.Fault{Method: http.MethodGet, Path: "/projects/", Status: http.StatusTooManyRequests, RetryAfter: "1", After: 6},
	)
	checkHolds(t, "seconds", reqs)
}

func TestThrottleHoldsEveryRequestRetryAfterDate(t *testing.T) {
	reqs := throttleLoad(t,
		txtest.Fault{Method: http.MethodPost, Path: "/resource_strings_async_uploads", Status: http.StatusTooManyRequests, RetryAt: time.Second, After: 2},
		txtest.Fault{Method: http.MethodGet, Path: "/resource_language_stats", Status: http.StatusTooManyRequests, RetryAt: time.Second, After: 6},
	)
	checkHolds(t, "HTTP-date", reqs)
}

// In virtual time, one goroutine: a 429 on one request holds the next request of another kind
// until the Retry-After instant, exactly.
func TestThrottleHoldsOtherRequestsVirtualTime(t *testing.T) {
	for _, tc := range []struct{ name, retryAfter string }{{"seconds", "7"}, {"date", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "", nil, transifex.WithRetry(1, transifex.DefaultRetryBackoff))
			ra := tc.retryAfter
			if ra == "" {
				ra = e.clock.Now().Add(9 * time.Second).UTC().Format(http.TimeFormat)
			}
			e.srv.Inject(txtest.Fault{Path: "/projects/", Status: http.StatusTooManyRequests, RetryAfter: ra})
			if _, err := e.client.Project(context.Background(), project); !errors.Is(err, transifex.ErrThrottled) {
				t.Fatalf("Project: %v, want ErrThrottled (one attempt)", err)
			}
			if _, err := e.client.Resource(context.Background(), web); err != nil {
				t.Fatal(err)
			}
			reqs := e.srv.Requests()
			if len(reqs) != 2 || reqs[0].Status != http.StatusTooManyRequests {
				t.Fatalf("requests %+v", reqs)
			}
			want := holdUntil(t, reqs[0])
			if reqs[1].At.Before(want) {
				t.Fatalf("GET %s arrived %s after the 429, before its Retry-After instant (%s)", reqs[1].Path,
					reqs[1].At.Sub(reqs[0].At), want.Sub(reqs[0].At))
			}
			if got := reqs[1].At.Sub(want); got > 300*time.Millisecond {
				t.Errorf("held %s past the Retry-After instant", got)
			}
		})
	}
}

// A hold longer than the caller's context deadline fails at once, for the throttled request and
// for every other one, without a request reaching the server.
func TestThrottlePastContextDeadlineFailsAtOnce(t *testing.T) {
	srv := txtest.New(t)
	srv.AddProject(project, "en", "de")
	srv.AddResource(web, "PO", sourcePO)
	c, err := transifex.New(srv.Token, transifex.WithBaseURL(srv.URL()), transifex.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	srv.Inject(txtest.Fault{Path: "/projects/", Status: http.StatusTooManyRequests, RetryAfter: "30"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err = c.Project(ctx, project)
	if !errors.Is(err, transifex.ErrThrottled) || !errors.Is(err, transifex.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Project: %v", err)
	}
	_, err2 := c.Resource(ctx, web)
	if !errors.Is(err2, transifex.ErrThrottled) || !errors.Is(err2, transifex.ErrTimeout) {
		t.Fatalf("Resource: %v", err2)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %s to fail a 30s hold with a 3s deadline", d)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Fatalf("%d requests reached the server, want the one 429", n)
	}
	t.Logf("Project: %v", err)
	t.Logf("Resource: %v", err2)
}

// A server asking for an hour holds the client for the cap (WithMaxRetryAfter), then one request
// tries again; an unreadable Retry-After holds every request for the retry backoff.
func TestThrottleHoldIsCappedAndDefaulted(t *testing.T) {
	t.Run("capped", func(t *testing.T) {
		e := newEnv(t, "", nil, transifex.WithMaxRetryAfter(2*time.Minute), transifex.WithOperationTimeout(0))
		e.srv.Inject(txtest.Fault{Path: "/projects/", Status: http.StatusTooManyRequests, RetryAfter: "3600"})
		if _, err := e.client.Project(context.Background(), project); err != nil {
			t.Fatal(err)
		}
		reqs := e.srv.Requests()
		if len(reqs) != 2 {
			t.Fatalf("%d requests", len(reqs))
		}
		if d := reqs[1].At.Sub(reqs[0].At); d < 2*time.Minute || d > 2*time.Minute+time.Second {
			t.Fatalf("retried %s after a 429 asking for an hour, want the 2m cap", d)
		}
		if !e.client.ThrottledUntil().IsZero() {
			t.Errorf("still held until %s after the hold ended", e.client.ThrottledUntil())
		}
	})
	for _, ra := range []string{"", "soon", "-5", "1.5"} {
		t.Run("retry-after="+ra, func(t *testing.T) {
			e := newEnv(t, "", nil, transifex.WithRetry(1, transifex.DefaultRetryBackoff))
			e.srv.Inject(txtest.Fault{Path: "/projects/", Status: http.StatusTooManyRequests, RetryAfter: ra})
			if _, err := e.client.Project(context.Background(), project); !errors.Is(err, transifex.ErrThrottled) {
				t.Fatalf("Project: %v", err)
			}
			until := e.client.ThrottledUntil()
			if d := until.Sub(e.clock.Now()); d < 500*time.Millisecond || d > time.Second {
				t.Fatalf("held %s, want the first backoff step [0.5s, 1s]", d)
			}
			if _, err := e.client.Resource(context.Background(), web); err != nil {
				t.Fatal(err)
			}
			reqs := e.srv.Requests()
			if reqs[1].At.Before(until) {
				t.Fatalf("GET %s went %s before the hold ended", reqs[1].Path, until.Sub(reqs[1].At))
			}
		})
	}
}
