package transifex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of a Client.
const (
	// DefaultRestHostname is the API's address, as tx uses it when ~/.transifexrc names none.
	DefaultRestHostname = "https://rest.api.transifex.com"
	// DefaultRate is the shared request rate: 4 requests a second (240 a minute), under half the
	// documented 500 a minute per IP, which leaves room for other tools on the same address.
	DefaultRate = rate.Limit(4)
	// DefaultBurst lets a few requests go at once after a pause.
	DefaultBurst = 4
	// DefaultOperationTimeout bounds one operation: a file's download job from creation to the
	// written bytes, an upload job, a listing with all its pages.
	DefaultOperationTimeout = 5 * time.Minute
	// DefaultRequestTimeout bounds one HTTP request, headers and body.
	DefaultRequestTimeout = 60 * time.Second
	// DefaultAttempts is how often a request is tried when it is throttled (429) or the service
	// is unavailable (502, 503, 504) or the connection fails.
	DefaultAttempts = 6
	// DefaultMaxFileSize bounds a downloaded file.
	DefaultMaxFileSize = 64 << 20
	// DefaultMaxRetryAfter caps the hold a 429's Retry-After puts on the client: a server asking
	// for an hour (or a date far off, from a skewed clock) holds every request for this long, then
	// one request tries again and learns the rest.
	DefaultMaxRetryAfter = 10 * time.Minute
)

// DefaultRetryBackoff is the wait between retries of a 5xx or a 429 without Retry-After.
var DefaultRetryBackoff = Backoff{Initial: time.Second, Max: 30 * time.Second, Multiplier: 2}

// DefaultPollBackoff is the wait between polls of an asynchronous job.
var DefaultPollBackoff = Backoff{Initial: 500 * time.Millisecond, Max: 5 * time.Second, Multiplier: 1.5}

const maxAPIBody = 32 << 20

// Client talks to the Transifex API v3. It is safe for concurrent use; all requests share one
// rate limiter. The token travels only in the Authorization header of requests to the API's own
// host, never to the file host a download redirects to, and never appears in errors or logs.
type Client struct {
	base        *url.URL
	token       string
	tokenSource string
	api         *http.Client
	files       *http.Client
	limiter     *rate.Limiter
	hold        hold
	maxHold     time.Duration
	clock       Clock
	retry       Backoff
	attempts    int
	poll        Backoff
	opTimeout   time.Duration
	maxFileSize int64
	logger      *slog.Logger
	userAgent   string
}

// Option configures a Client.
type Option func(*Client)

// WithBaseURL sets the API's address (a .transifexrc rest_hostname); default DefaultRestHostname.
func WithBaseURL(u string) Option {
	return func(c *Client) {
		if p, err := url.Parse(strings.TrimRight(u, "/")); err == nil {
			c.base = p
		} else {
			c.base = nil
		}
	}
}

// WithHTTPClient makes the client use hc's Transport and Timeout (for proxies, custom TLS). The
// client still installs its own redirect policy: API responses are never followed
// automatically, and file downloads never carry Authorization.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		c.api.Transport, c.files.Transport = hc.Transport, hc.Transport
		if hc.Timeout > 0 {
			c.api.Timeout, c.files.Timeout = hc.Timeout, hc.Timeout
		}
	}
}

// WithRequestTimeout bounds each HTTP request (default DefaultRequestTimeout).
func WithRequestTimeout(d time.Duration) Option {
	return func(c *Client) { c.api.Timeout, c.files.Timeout = d, d }
}

// WithOperationTimeout bounds each operation, retries and polling included (default
// DefaultOperationTimeout; 0 for none beyond the context's).
func WithOperationTimeout(d time.Duration) Option { return func(c *Client) { c.opTimeout = d } }

// WithRateLimit sets the shared request rate and burst (default DefaultRate, DefaultBurst).
func WithRateLimit(r rate.Limit, burst int) Option {
	return func(c *Client) { c.limiter = rate.NewLimiter(r, burst) }
}

// WithLimiter shares one limiter between clients (several workers on one IP address).
func WithLimiter(l *rate.Limiter) Option { return func(c *Client) { c.limiter = l } }

// WithMaxRetryAfter caps how long a 429's Retry-After holds the client (default
// DefaultMaxRetryAfter); a longer Retry-After holds it this long.
func WithMaxRetryAfter(d time.Duration) Option { return func(c *Client) { c.maxHold = d } }

// WithClock sets the time source of every wait (tests use txtest.Clock).
func WithClock(clk Clock) Option { return func(c *Client) { c.clock = clk } }

// WithRetry sets how often a request is tried and the backoff between tries.
func WithRetry(attempts int, b Backoff) Option {
	return func(c *Client) { c.attempts, c.retry = attempts, b }
}

// WithPollBackoff sets the wait between polls of an asynchronous job.
func WithPollBackoff(b Backoff) Option { return func(c *Client) { c.poll = b } }

// WithMaxFileSize bounds a downloaded file (default DefaultMaxFileSize).
func WithMaxFileSize(n int64) Option { return func(c *Client) { c.maxFileSize = n } }

// WithLogger sets the logger (default slog.Default()); retries and waits log at debug and warn.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.logger = l } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithTokenSource names where the token came from ("TX_TOKEN", "~/.transifexrc [host]"), so a
// 401 says where to look. Never the token itself.
func WithTokenSource(s string) Option { return func(c *Client) { c.tokenSource = s } }

// New returns a client that authenticates with token.
func New(token string, opts ...Option) (*Client, error) {
	base, _ := url.Parse(DefaultRestHostname)
	c := &Client{
		base:        base,
		token:       token,
		api:         &http.Client{Timeout: DefaultRequestTimeout},
		files:       &http.Client{Timeout: DefaultRequestTimeout},
		limiter:     rate.NewLimiter(DefaultRate, DefaultBurst),
		maxHold:     DefaultMaxRetryAfter,
		clock:       realClock{},
		retry:       DefaultRetryBackoff,
		attempts:    DefaultAttempts,
		poll:        DefaultPollBackoff,
		opTimeout:   DefaultOperationTimeout,
		maxFileSize: DefaultMaxFileSize,
		userAgent:   "stackkit-transifex/1",
	}
	for _, o := range opts {
		o(c)
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if strings.TrimSpace(token) == "" {
		return nil, configErrorf("no API token: set KIT_TRANSIFEX_TOKEN or TX_TOKEN, or a token in ~/.transifexrc")
	}
	if strings.ContainsAny(token, " \t\r\n") {
		return nil, configErrorf("the API token contains white space (from %s)", c.sourceName())
	}
	if c.base == nil || (c.base.Scheme != "https" && c.base.Scheme != "http") || c.base.Host == "" {
		return nil, configErrorf("the API address must be an http(s) URL with a host")
	}
	if c.attempts < 1 {
		c.attempts = 1
	}
	if c.maxHold <= 0 {
		c.maxHold = DefaultMaxRetryAfter
	}
	// API responses are handled as they come: a 303 from a job is a result, not something to
	// follow with the token attached.
	c.api.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	// The file host gets no Authorization, ever; should a redirect chain lead somewhere, it is
	// stripped there too (Go keeps headers on same-host redirects).
	c.files.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		req.Header.Del("Authorization")
		return nil
	}
	return c, nil
}

func (c *Client) sourceName() string {
	if c.tokenSource != "" {
		return c.tokenSource
	}
	return "the configured token"
}

// BaseURL returns the API's address.
func (c *Client) BaseURL() string { return c.base.String() }

// String describes the client without its token.
func (c *Client) String() string { return "transifex.Client(" + c.base.String() + ")" }

// GoString is String, so %#v does not print the token either.
func (c *Client) GoString() string { return c.String() }

// response is a read HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
	url    *url.URL
}

// resolve makes ref absolute against the API's base and refuses other hosts: the token goes to
// the API's host only.
func (c *Client) resolve(ref string) (*url.URL, error) {
	u, err := c.base.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("transifex: bad link %q: %w", redactURL(ref), err)
	}
	if !strings.EqualFold(u.Host, c.base.Host) || u.Scheme != c.base.Scheme {
		return nil, fmt.Errorf("transifex: link to %s://%s is not on the API's host %s; refusing to send the token there", u.Scheme, u.Host, c.base.Host)
	}
	return u, nil
}

// endpoint builds an API URL from a path and query.
func (c *Client) endpoint(path string, q url.Values) *url.URL {
	u := *c.base
	u.Path = strings.TrimRight(c.base.Path, "/") + path
	u.RawPath = ""
	if q != nil {
		u.RawQuery = q.Encode()
	}
	return &u
}

// call sends one API request, retrying 429 and 502/503/504 and connection failures, and returns
// a 2xx or 3xx response; any other status is an *APIError built from the error document.
//
// A 429 holds the whole client, not the one request: the rate limit is the token's, so every
// request of every goroutine waits until the Retry-After instant (see hold), the throttled one
// included. Other failures are retried after a capped, jittered backoff.
func (c *Client) call(ctx context.Context, method string, u *url.URL, body []byte) (*response, error) {
	return c.callN(ctx, method, u, body, c.attempts)
}

func (c *Client) callN(ctx context.Context, method string, u *url.URL, body []byte, attempts int) (*response, error) {
	var lastErr error
	for attempt := 0; attempt < attempts; attempt++ {
		if attempt > 0 && !errors.Is(lastErr, ErrThrottled) {
			wait := c.retry.Delay(attempt - 1)
			var ae *APIError
			if errors.As(lastErr, &ae) && ae.RetryAfter > 0 {
				wait = min(ae.RetryAfter, c.maxHold)
			}
			c.logger.LogAttrs(ctx, slog.LevelWarn, "transifex: retrying", slog.String("method", method), slog.String("path", u.Path),
				slog.Int("attempt", attempt+1), slog.String("wait", wait.String()), slog.String("error", lastErr.Error()))
			if err := c.sleep(ctx, wait, fmt.Sprintf("a retry of %s %s would wait %s", method, u.Path, wait.Round(time.Millisecond))); err != nil {
				if errors.Is(err, ErrTimeout) {
					return nil, fmt.Errorf("%w; %w", lastErr, err)
				}
				return nil, err
			}
		}
		if err := c.admit(ctx); err != nil {
			if lastErr != nil && errors.Is(err, ErrTimeout) {
				return nil, fmt.Errorf("%w; %w", lastErr, err)
			}
			return nil, err
		}
		resp, err := c.roundTrip(ctx, method, u, body)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctxError(ctx, ctx.Err())
			}
			lastErr = err
			continue
		}
		switch {
		case resp.status >= 200 && resp.status < 400:
			return resp, nil
		case resp.status == http.StatusTooManyRequests:
			ae := c.apiError(method, u, resp)
			c.throttle(ctx, ae, resp.header.Get("Retry-After"), attempt)
			lastErr = ae
			continue
		case resp.status == http.StatusBadGateway || resp.status == http.StatusServiceUnavailable || resp.status == http.StatusGatewayTimeout:
			lastErr = c.apiError(method, u, resp)
			continue
		default:
			return nil, c.apiError(method, u, resp)
		}
	}
	return nil, lastErr
}

// Ping asks the API once whether it serves the token: one GET of the project ("o:org:p:proj"),
// without retries, through the rate limiter. It is the cheap authenticated request a consumer
// probes an outage with. It returns nil when the API answered 200; an *APIError for another
// answer (ErrUnauthorized, ErrNotFound, ...; ErrThrottled for 429 and ErrUnavailable for 502, 503
// and 504); an error matching ErrUnavailable when the API cannot be reached; and, while a 429
// holds the client, ErrThrottled at once, without a request.
func (c *Client) Ping(ctx context.Context, projectID string) error {
	if until := c.ThrottledUntil(); !until.IsZero() {
		return fmt.Errorf("%w: every request is held until %s by a 429", ErrThrottled, until.UTC().Format(time.RFC3339))
	}
	ctx, cancel := c.withOperation(ctx, "pinging the API")
	defer cancel()
	_, err := c.callN(ctx, http.MethodGet, c.endpoint("/projects/"+url.PathEscape(projectID), nil), nil, 1)
	return err
}

// hold is the client-wide stop a 429 puts on every request until its Retry-After instant.
type hold struct {
	mu    sync.Mutex
	until time.Time
	cause *APIError // the 429 that set until
}

// ThrottledUntil returns the instant a 429 holds every request of the client until, and the zero
// time when no request is held. A probe can answer "still throttled" from it without a request.
func (c *Client) ThrottledUntil() time.Time {
	c.hold.mu.Lock()
	defer c.hold.mu.Unlock()
	if c.hold.until.After(c.clock.Now()) {
		return c.hold.until
	}
	return time.Time{}
}

// throttle holds every request of the client after a 429: until the Retry-After instant (an HTTP
// date as given, delta-seconds from now), or for the retry backoff when the header is missing or
// unreadable, never longer than the cap. A hold only ever moves later.
func (c *Client) throttle(ctx context.Context, ae *APIError, header string, attempt int) {
	now := c.clock.Now()
	d, from := ae.RetryAfter, "retry-after"
	if d <= 0 {
		d, from = c.retry.Delay(attempt), "backoff"
	}
	if d > c.maxHold {
		c.logger.LogAttrs(ctx, slog.LevelWarn, "transifex: retry-after capped", slog.String("retry_after", header),
			slog.String("wait", d.String()), slog.String("max", c.maxHold.String()))
		d = c.maxHold
	}
	until := now.Add(d)
	c.hold.mu.Lock()
	if until.After(c.hold.until) {
		c.hold.until, c.hold.cause = until, ae
	}
	c.hold.mu.Unlock()
	c.logger.LogAttrs(ctx, slog.LevelWarn, "transifex: throttled, holding every request", slog.String("method", ae.Method),
		slog.String("path", ae.Path), slog.String("wait", d.String()), slog.String("from", from),
		slog.String("until", until.UTC().Format(time.RFC3339Nano)))
}

// admit lets a request go: after any hold, with a token from the shared rate limiter, and with
// no hold set meanwhile (a 429 may arrive while it waited for the limiter).
func (c *Client) admit(ctx context.Context) error {
	for {
		if err := c.awaitHold(ctx); err != nil {
			return err
		}
		if err := c.wait(ctx); err != nil {
			return err
		}
		c.hold.mu.Lock()
		held := c.hold.until.After(c.clock.Now())
		c.hold.mu.Unlock()
		if !held {
			return nil
		}
	}
}

// awaitHold waits out the client's hold; a hold past the caller's deadline fails at once with
// ErrThrottled and ErrTimeout.
func (c *Client) awaitHold(ctx context.Context) error {
	c.hold.mu.Lock()
	until, cause := c.hold.until, c.hold.cause
	c.hold.mu.Unlock()
	d := until.Sub(c.clock.Now())
	if d <= 0 {
		return nil
	}
	why := fmt.Sprintf("every request is held %s, until %s, by a 429 on %s %s", d.Round(time.Millisecond),
		until.UTC().Format(time.RFC3339), cause.Method, cause.Path)
	err := c.sleep(ctx, d, why)
	var te *timeoutError
	if errors.As(err, &te) {
		te.throttled = true
	}
	return err
}

// wait takes a token from the shared rate limiter, on the client's clock.
func (c *Client) wait(ctx context.Context) error {
	now := c.clock.Now()
	r := c.limiter.ReserveN(now, 1)
	if !r.OK() {
		return errors.New("transifex: rate limiter burst is 0")
	}
	if d := r.DelayFrom(now); d > 0 {
		if err := c.sleep(ctx, d, "waiting for the rate limit"); err != nil {
			r.CancelAt(c.clock.Now())
			return err
		}
	}
	return nil
}

func (c *Client) roundTrip(ctx context.Context, method string, u *url.URL, body []byte) (*response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("transifex: %s %s: %w", method, u.Path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", MediaType)
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", MediaType)
	}
	start := c.clock.Now()
	res, err := c.api.Do(req)
	if err != nil {
		// Refused, reset, timed out, TLS: the API cannot be reached, which is an outage.
		return nil, fmt.Errorf("transifex: %s %s: %w (%w)", method, u.Path, unwrapURLError(err), ErrUnavailable)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxAPIBody+1))
	if err != nil {
		return nil, fmt.Errorf("transifex: %s %s: reading the response: %w (%w)", method, u.Path, err, ErrUnavailable)
	}
	if len(data) > maxAPIBody {
		return nil, fmt.Errorf("transifex: %s %s: response larger than %d bytes", method, u.Path, maxAPIBody)
	}
	c.logger.LogAttrs(ctx, slog.LevelDebug, "transifex: request", slog.String("method", method), slog.String("path", u.Path),
		slog.Int("status", res.StatusCode), slog.String("duration", c.clock.Now().Sub(start).String()))
	return &response{status: res.StatusCode, header: res.Header, body: data, url: u}, nil
}

// unwrapURLError drops *url.Error's URL (a file link carries its own credentials in the query).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (c *Client) apiError(method string, u *url.URL, resp *response) *APIError {
	e := &APIError{Method: method, Path: u.Path, StatusCode: resp.status}
	var doc Document
	if isJSONAPI(resp.header.Get("Content-Type")) && json.Unmarshal(resp.body, &doc) == nil {
		e.Errors = doc.Errors
	}
	if len(e.Errors) == 0 {
		if s := strings.TrimSpace(string(resp.body)); s != "" && len(s) < 200 && !strings.Contains(s, "<") {
			e.Errors = []ErrorObject{{Detail: s}}
		}
	}
	if resp.status == http.StatusTooManyRequests || resp.status == http.StatusServiceUnavailable {
		e.RetryAfter = parseRetryAfter(resp.header.Get("Retry-After"), c.clock.Now())
	}
	if resp.status == http.StatusUnauthorized {
		e.Hint = "authentication failed: check the API token from " + c.sourceName() + " and that the API address " + c.base.Host + " is right"
	}
	return e
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date. 0 when absent or bad.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
		return time.Millisecond
	}
	return 0
}

// document sends a request and decodes a JSON:API document; the response must be JSON.
func (c *Client) document(ctx context.Context, method string, u *url.URL, body any, want int) (*Document, *response, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return nil, nil, fmt.Errorf("transifex: encoding the request: %w", err)
		}
	}
	resp, err := c.call(ctx, method, u, raw)
	if err != nil {
		return nil, nil, err
	}
	if resp.status != want {
		return nil, resp, fmt.Errorf("transifex: %s %s: unexpected status %d %s (want %d)", method, u.Path, resp.status, http.StatusText(resp.status), want)
	}
	return decodeDocument(method, u, resp)
}

func decodeDocument(method string, u *url.URL, resp *response) (*Document, *response, error) {
	if ct := resp.header.Get("Content-Type"); !isJSONAPI(ct) {
		return nil, resp, fmt.Errorf("transifex: %s %s: response is %q, not %s", method, u.Path, ct, MediaType)
	}
	var doc Document
	if err := json.Unmarshal(resp.body, &doc); err != nil {
		return nil, resp, fmt.Errorf("transifex: %s %s: malformed JSON:API document: %w", method, u.Path, err)
	}
	return &doc, resp, nil
}

// list walks a collection page by page, following links.next exactly as given (the cursor is
// opaque). A next link that repeats one already followed ends the walk with an error rather than
// looping.
func (c *Client) list(ctx context.Context, path string, q url.Values) iter.Seq2[Object, error] {
	return func(yield func(Object, error) bool) {
		u := c.endpoint(path, q)
		seen := map[string]bool{}
		for {
			seen[u.String()] = true
			doc, _, err := c.document(ctx, http.MethodGet, u, nil, http.StatusOK)
			if err != nil {
				yield(Object{}, err)
				return
			}
			objs, err := doc.many()
			if err != nil {
				yield(Object{}, err)
				return
			}
			for _, o := range objs {
				if !yield(o, nil) {
					return
				}
			}
			next := string(doc.Links.Next)
			if next == "" {
				return
			}
			if u, err = c.resolve(next); err != nil {
				yield(Object{}, err)
				return
			}
			if seen[u.String()] {
				yield(Object{}, fmt.Errorf("transifex: GET %s: pagination loops (links.next repeats a page)", path))
				return
			}
		}
	}
}

// redactURL drops the query and user information of a URL for messages: file links carry their
// credentials in the query.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	u.Fragment = ""
	return u.String()
}
