package transifex_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/i18n/transifex"
	"github.com/stackkit/stackkit/kit/i18n/transifex/txtest"
)

func TestDownloadFollowsRedirectWithoutToken(t *testing.T) {
	e := newEnv(t, "", nil)
	data, err := e.client.DownloadTranslation(context.Background(), transifex.DownloadRequest{Resource: web, Language: "de"})
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != string(po("de", "Hallo", "Tschüss")) {
		t.Fatalf("downloaded %q", data)
	}
	files := e.srv.FileRequests()
	if len(files) != 1 {
		t.Fatalf("%d requests reached the file host, want 1", len(files))
	}
	if files[0].Authorization != "" {
		t.Fatalf("the file host got Authorization %q", files[0].Authorization)
	}
	api, _ := url.Parse(e.srv.API.URL)
	fh, _ := url.Parse(e.srv.Files.URL)
	if api.Host == fh.Host {
		t.Fatal("the file host is the API host; the test proves nothing")
	}
	for _, r := range e.srv.Requests() {
		if r.Authorization != "Bearer "+e.srv.Token {
			t.Fatalf("API request %s %s without the token", r.Method, r.Path)
		}
		if r.Method == http.MethodPost && r.ContentType != transifex.MediaType {
			t.Fatalf("POST %s with Content-Type %q", r.Path, r.ContentType)
		}
	}
	// Created, polled once while processing, then the 303.
	if n := e.srv.Count(http.MethodGet, "/resource_translations_async_downloads/"); n != 2 {
		t.Errorf("%d polls, want 2", n)
	}
}

func TestThrottledHonoursRetryAfterSeconds(t *testing.T) {
	e := newEnv(t, "", nil)
	e.srv.Inject(txtest.Fault{Path: "/resource_language_stats", Status: http.StatusTooManyRequests, RetryAfter: "7"})
	if _, err := e.client.ResourceLanguageStats(context.Background(), project, transifex.StatsFilter{}); err != nil {
		t.Fatal(err)
	}
	if !hasSleep(e.clock, 7*time.Second) {
		t.Fatalf("no 7s wait; waits %v", e.clock.Sleeps())
	}
}

func TestThrottledHonoursRetryAfterDate(t *testing.T) {
	e := newEnv(t, "", nil)
	at := e.clock.Now().Add(9 * time.Second).Format(http.TimeFormat)
	e.srv.Inject(txtest.Fault{Path: "/projects/", Status: http.StatusTooManyRequests, RetryAfter: at})
	if _, err := e.client.Project(context.Background(), project); err != nil {
		t.Fatal(err)
	}
	if !hasSleep(e.clock, 9*time.Second) {
		t.Fatalf("no 9s wait; waits %v", e.clock.Sleeps())
	}
}

func TestThrottledWithoutRetryAfterBacksOff(t *testing.T) {
	e := newEnv(t, "", nil)
	e.srv.Inject(txtest.Fault{Path: "/projects/", Status: http.StatusTooManyRequests, Times: 2})
	if _, err := e.client.Project(context.Background(), project); err != nil {
		t.Fatal(err)
	}
	// Two jittered waits: [0.5s, 1s] then [1s, 2s].
	var waits []time.Duration
	for _, d := range e.clock.Sleeps() {
		if d >= 500*time.Millisecond {
			waits = append(waits, d)
		}
	}
	if len(waits) != 2 || waits[0] > time.Second || waits[1] < time.Second || waits[1] > 2*time.Second {
		t.Fatalf("backoff waits %v", waits)
	}
}

func TestThrottledPastTheDeadlineFailsFast(t *testing.T) {
	e := newEnv(t, "", nil, transifex.WithOperationTimeout(time.Minute))
	e.srv.Inject(txtest.Fault{Path: "/projects/", Status: http.StatusTooManyRequests, RetryAfter: "3600"})
	_, err := e.client.Project(context.Background(), project)
	if !errors.Is(err, transifex.ErrThrottled) || !errors.Is(err, transifex.ErrTimeout) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "Request was throttled") {
		t.Errorf("the API's detail is missing: %v", err)
	}
	if e.clock.Slept() > time.Minute {
		t.Errorf("waited %v past a 1m deadline", e.clock.Slept())
	}
}

func TestUnavailableRetriedWithCappedBackoff(t *testing.T) {
	e := newEnv(t, "", nil, transifex.WithRetry(8, transifex.Backoff{Initial: time.Second, Max: 4 * time.Second, Multiplier: 2}))
	for _, st := range []int{502, 503, 504, 503, 503, 503} {
		e.srv.Inject(txtest.Fault{Path: "/resources/", Status: st})
	}
	r, err := e.client.Resource(context.Background(), web)
	if err != nil {
		t.Fatal(err)
	}
	if r.Slug != "web" || r.Project != project || r.Format != "PO" {
		t.Fatalf("resource %+v", r)
	}
	var waits []time.Duration
	for _, d := range e.clock.Sleeps() {
		if d >= 500*time.Millisecond {
			waits = append(waits, d)
			if d > 4*time.Second {
				t.Errorf("wait %v above the 4s cap", d)
			}
		}
	}
	if len(waits) != 6 {
		t.Fatalf("waits %v, want 6", waits)
	}
}

func TestUnavailableExhaustedKeepsOldFile(t *testing.T) {
	e := newEnv(t, "", nil, transifex.WithRetry(3, transifex.DefaultRetryBackoff))
	writeFile(t, e.root, deFile, "old")
	e.srv.Inject(txtest.Fault{Path: "/resource_translations_async_downloads", Method: http.MethodPost, Status: 503, Times: -1})
	rep := e.pull(t, transifex.PullOptions{})
	r := result(t, rep, web, "de")
	if r.Status != transifex.StatusFailed || !errors.Is(r.Err, transifex.ErrUnavailable) {
		t.Fatalf("de: %v", r)
	}
	if got := readFile(t, e.root, deFile); got != "old" {
		t.Fatalf("old file replaced: %q", got)
	}
	if n := e.srv.Count(http.MethodPost, "/resource_translations_async_downloads"); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

func TestFailedJobReportsDetailAndKeepsOldFile(t *testing.T) {
	e := newEnv(t, "", nil)
	writeFile(t, e.root, deFile, "old")
	e.srv.FailJob(web, "de", txtest.ErrorObject{Code: "compilation_error", Detail: "Could not compile the translation file"})
	rep := e.pull(t, transifex.PullOptions{})
	r := result(t, rep, web, "de")
	var je *transifex.JobError
	if r.Status != transifex.StatusFailed || !errors.Is(r.Err, transifex.ErrJobFailed) || !errors.As(r.Err, &je) {
		t.Fatalf("de: %v", r)
	}
	if !strings.Contains(r.Err.Error(), "Could not compile the translation file") || je.Errors[0].Code != "compilation_error" {
		t.Errorf("detail missing: %v", r.Err)
	}
	if got := readFile(t, e.root, deFile); got != "old" {
		t.Fatalf("old file replaced: %q", got)
	}
	if rep.Err() == nil || !strings.Contains(rep.Err().Error(), "Could not compile") {
		t.Errorf("Report.Err = %v", rep.Err())
	}
}

func TestSlowJobStopsAtTheOperationDeadline(t *testing.T) {
	e := newEnv(t, "", nil, transifex.WithOperationTimeout(30*time.Second))
	writeFile(t, e.root, deFile, "old")
	writeFile(t, e.root, "locale/fr/LC_MESSAGES/web.po", "old")
	e.srv.SlowJob(web, "de", -1)
	start := time.Now()
	rep := e.pull(t, transifex.PullOptions{})
	r := result(t, rep, web, "de")
	if r.Status != transifex.StatusFailed || !errors.Is(r.Err, transifex.ErrTimeout) || !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Fatalf("de: %v", r)
	}
	if !strings.Contains(r.Err.Error(), "30s") {
		t.Errorf("the message does not name the deadline: %v", r.Err)
	}
	if got := readFile(t, e.root, deFile); got != "old" {
		t.Fatalf("old file replaced: %q", got)
	}
	if result(t, rep, web, "fr").Status != transifex.StatusWritten {
		t.Error("fr failed with de")
	}
	if polls := e.srv.Count(http.MethodGet, "/resource_translations_async_downloads/"); polls < 5 {
		t.Errorf("only %d polls in 30 virtual seconds", polls)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("the virtual deadline took %v of real time", time.Since(start))
	}
}

func TestSlowJobFinishesWithinTheDeadline(t *testing.T) {
	e := newEnv(t, "", nil)
	e.srv.SlowJob(web, "de", 6)
	if _, err := e.client.DownloadTranslation(context.Background(), transifex.DownloadRequest{Resource: web, Language: "de"}); err != nil {
		t.Fatal(err)
	}
	// Poll waits grow and stay under the 5s cap.
	var prev time.Duration
	grew := false
	for _, d := range e.clock.Sleeps() {
		if d > 5*time.Second {
			t.Errorf("poll wait %v above the cap", d)
		}
		if d > prev && prev > 0 {
			grew = true
		}
		prev = d
	}
	if !grew {
		t.Errorf("poll waits did not back off: %v", e.clock.Sleeps())
	}
}

func TestBrokenDownloadIsRejected(t *testing.T) {
	cases := []struct {
		name   string
		status int
		ctype  string
		body   string
		want   string
	}{
		{"403", http.StatusForbidden, "text/plain", "denied", "403"},
		{"500", http.StatusInternalServerError, "text/plain", "oops", "500"},
		{"html with 200", http.StatusOK, "text/html", "<html><body>Maintenance</body></html>", "not a parsable PO"},
		{"json with 200", http.StatusOK, "application/json", `{"errors":[{"detail":"x"}]}`, "not a parsable PO"},
		{"empty with 200", http.StatusOK, "text/x-po", "", "empty"},
		{"no header", http.StatusOK, "text/x-po", "msgid \"a\"\nmsgstr \"b\"\n", "header"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "", nil)
			writeFile(t, e.root, deFile, "old")
			e.srv.BreakFile(web, "de", tc.status, tc.ctype, []byte(tc.body))
			rep := e.pull(t, transifex.PullOptions{})
			r := result(t, rep, web, "de")
			if r.Status != transifex.StatusFailed || !errors.Is(r.Err, transifex.ErrInvalidFile) || !strings.Contains(r.Err.Error(), tc.want) {
				t.Fatalf("de: %v", r)
			}
			if got := readFile(t, e.root, deFile); got != "old" {
				t.Fatalf("old file replaced: %q", got)
			}
			if strings.Contains(r.Err.Error(), "auth=") {
				t.Errorf("the file link's credentials are in the error: %v", r.Err)
			}
			// A later good pull is not skipped as unchanged.
			e.srv.BreakFile(web, "de", http.StatusOK, "text/x-po", po("de", "Hallo", "Tschüss"))
			rep = e.pull(t, transifex.PullOptions{})
			if r := result(t, rep, web, "de"); r.Status != transifex.StatusWritten {
				t.Fatalf("retry: %v", r)
			}
		})
	}
}

func TestUnauthorizedIsClearAndFatal(t *testing.T) {
	e := newEnv(t, "", nil)
	writeFile(t, e.root, deFile, "old")
	const badToken = "1/not-the-token-0123456789"
	c, err := transifex.New(badToken, transifex.WithBaseURL(e.srv.URL()), transifex.WithClock(e.clock), transifex.WithTokenSource("TX_TOKEN"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := transifex.Pull(context.Background(), c, e.cfg, transifex.PullOptions{})
	if !errors.Is(err, transifex.ErrUnauthorized) {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"401", "Please verify your credentials", "authentication failed", "TX_TOKEN"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, badToken) || strings.Contains(fmt.Sprintf("%v %+v %#v", c, c, c), badToken) {
		t.Fatal("the token leaked")
	}
	if rep == nil || rep.Count(transifex.StatusWritten) != 0 {
		t.Errorf("report %v", rep)
	}
	if got := readFile(t, e.root, deFile); got != "old" {
		t.Fatalf("old file replaced: %q", got)
	}
	// One refused request, no retries.
	if n := len(e.srv.Requests()); n != 1 {
		t.Errorf("%d requests after a 401", n)
	}
}

func TestNewRejectsBadTokens(t *testing.T) {
	for _, tok := range []string{"", "  ", "a b", "tok\n"} {
		_, err := transifex.New(tok)
		if !errors.Is(err, transifex.ErrConfig) {
			t.Errorf("New(%q): %v", tok, err)
		}
		if tok != "" && strings.TrimSpace(tok) != "" && strings.Contains(err.Error(), tok) {
			t.Errorf("the token is in the error: %v", err)
		}
	}
	if _, err := transifex.New("t", transifex.WithBaseURL("ftp://x")); !errors.Is(err, transifex.ErrConfig) {
		t.Errorf("ftp base URL: %v", err)
	}
}

func TestRateLimiterPacesRequests(t *testing.T) {
	e := newEnv(t, "", nil, transifex.WithRateLimit(2, 1))
	for range 5 {
		if _, err := e.client.Project(context.Background(), project); err != nil {
			t.Fatal(err)
		}
	}
	// 5 requests at 2/s with burst 1: 4 waits of 500ms in virtual time.
	if got := e.clock.Slept(); got < 2*time.Second-time.Millisecond || got > 2*time.Second+time.Millisecond {
		t.Fatalf("waited %v, want 2s (waits %v)", got, e.clock.Sleeps())
	}
}

func TestPaginationRefusesOtherHosts(t *testing.T) {
	// A links.next on another host would carry the token there: refused.
	e := newEnv(t, "", nil)
	c, _ := transifex.New(e.srv.Token, transifex.WithBaseURL(strings.Replace(e.srv.URL(), "127.0.0.1", "localhost", 1)), transifex.WithClock(e.clock))
	_, err := c.ResourceLanguageStats(context.Background(), project, transifex.StatsFilter{})
	if err != nil {
		// The imitation's links use 127.0.0.1; with one page there is no next link to refuse.
		t.Fatal(err)
	}
	e2 := newEnv(t, "", []txtest.Option{txtest.WithPageSize(1)})
	c2, _ := transifex.New(e2.srv.Token, transifex.WithBaseURL(strings.Replace(e2.srv.URL(), "127.0.0.1", "localhost", 1)), transifex.WithClock(e2.clock))
	_, err = c2.ResourceLanguageStats(context.Background(), project, transifex.StatsFilter{})
	if err == nil || !strings.Contains(err.Error(), "refusing to send the token") {
		t.Fatalf("err = %v", err)
	}
}

func TestDirWriteFailureKeepsOldFile(t *testing.T) {
	root := t.TempDir()
	d := transifex.Dir(root)
	ctx := context.Background()
	if err := d.WriteFile(ctx, "a/b.po", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "a"), 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(filepath.Join(root, "a"), 0o755)
	if os.Geteuid() != 0 {
		if err := d.WriteFile(ctx, "a/b.po", []byte("two")); err == nil {
			t.Fatal("write into a read-only directory succeeded")
		}
	}
	os.Chmod(filepath.Join(root, "a"), 0o755)
	if got, _ := d.ReadFile(ctx, "a/b.po"); string(got) != "one" {
		t.Fatalf("content %q", got)
	}
	// A directory in the way fails without touching it.
	if err := os.MkdirAll(filepath.Join(root, "dir.po"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteFile(ctx, "dir.po", []byte("x")); err == nil {
		t.Fatal("replaced a directory")
	}
	entries, _ := os.ReadDir(filepath.Join(root, "a"))
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	for _, bad := range []string{"../x", "/etc/x", ""} {
		if err := d.WriteFile(ctx, bad, nil); err == nil {
			t.Errorf("WriteFile(%q) accepted", bad)
		}
	}
}

func hasSleep(c *txtest.Clock, d time.Duration) bool {
	for _, s := range c.Sleeps() {
		if s == d {
			return true
		}
	}
	return false
}

func TestFileHostRedirectGetsNoToken(t *testing.T) {
	e := newEnv(t, "", nil)
	var gotAuth []string
	final := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = append(gotAuth, r.Header.Get("Authorization"))
		w.Write(po("de", "Hallo (CDN)", "Tschüss"))
	}))
	defer final.Close()
	e.srv.RedirectFile(web, "de", final.URL+"/cdn/de.po?sig=abc")
	data, err := e.client.DownloadTranslation(context.Background(), transifex.DownloadRequest{Resource: web, Language: "de"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "Hallo (CDN)") {
		t.Fatalf("downloaded %q", data)
	}
	if len(gotAuth) != 1 || gotAuth[0] != "" {
		t.Fatalf("the CDN got Authorization %q", gotAuth)
	}
	if fr := e.srv.FileRequests(); len(fr) != 1 || fr[0].Authorization != "" {
		t.Fatalf("file host requests %+v", fr)
	}
}
