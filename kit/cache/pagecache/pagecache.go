package pagecache

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/stackkit/stackkit/kit/cache"
)

// Defaults of the options.
const (
	DefaultTTL     = 10 * time.Minute
	DefaultMaxSize = 1 << 20
	DefaultPrefix  = "pagecache"
)

// Option configures Middleware.
type Option func(*config)

type config struct {
	ttl           time.Duration // <= 0: only responses that state their own lifetime are stored
	maxSize       int
	statuses      []int
	prefix        string
	locale        func(*http.Request) string
	scheme        func(*http.Request) string
	honourNoCache bool
	invalidate    bool
	xCache        bool
	logger        *slog.Logger
	now           func() time.Time
}

// TTL sets how long a response that states no lifetime of its own (no max-age, s-maxage or
// Expires) is stored; default 10 minutes. With d <= 0 only responses that state their lifetime
// are stored.
func TTL(d time.Duration) Option { return func(c *config) { c.ttl = d } }

// MaxSize sets the largest body, in bytes, that is buffered and stored (default 1 MiB). A larger
// response is sent on as it is written, and not stored.
func MaxSize(n int) Option { return func(c *config) { c.maxSize = max(n, 0) } }

// Statuses sets the response statuses that are stored (default 200 only), for example
// Statuses(200, 301, 404). 206 and 304 are partial answers and are refused, as is anything
// outside 200-599: Middleware panics on them.
func Statuses(codes ...int) Option {
	return func(c *config) { c.statuses = append([]int(nil), codes...) }
}

// KeyPrefix sets the prefix of the cache keys (default "pagecache"), so that two page caches
// sharing a kit/cache Cache, say two sites on one Redis, keep apart. It is printable ASCII
// without spaces, at most 64 bytes: Middleware panics otherwise.
func KeyPrefix(p string) Option { return func(c *config) { c.prefix = p } }

// Locale adds the request's negotiated locale to the key (Django adds the active language), so
// each translation of a page is stored on its own. With it, Accept-Language in a response's
// Vary is left out of the key: the locale is taken to be what was negotiated from it, and
// otherwise every distinct Accept-Language string browsers send would get its own copy.
func Locale(fn func(*http.Request) string) Option { return func(c *config) { c.locale = fn } }

// Scheme tells the scheme the client used, for the key. The default is "https" when r.TLS is
// set and "http" otherwise; behind a TLS-terminating proxy give the resolved one, for example
// from kit/http's middleware.IsSecure.
func Scheme(fn func(*http.Request) string) Option { return func(c *config) { c.scheme = fn } }

// HonourRequestNoCache makes a request's "Cache-Control: no-cache" or "max-age=0" (what
// browsers send on reload), or "Pragma: no-cache" without Cache-Control, skip the lookup, so
// the handler renders the page afresh and the new copy is stored; "Cache-Control: no-store"
// skips storing too. The default is false, as in Django:
// on a public site any client could otherwise make every request reach the handler, which is
// what the cache is there to prevent.
func HonourRequestNoCache(on bool) Option { return func(c *config) { c.honourNoCache = on } }

// InvalidateOnWrite makes every stored variant of a URL unreachable (by deleting its Vary list,
// one Delete) when a request with an unsafe method
// (POST, PUT, PATCH, DELETE, ...) to the same URL, query included, gets a 2xx or 3xx response
// (RFC 9111 §4.4). Other URLs the write changes are not known to the cache.
func InvalidateOnWrite(on bool) Option { return func(c *config) { c.invalidate = on } }

// XCacheHeader adds "X-Cache: HIT" or "X-Cache: MISS" to GET and HEAD responses, for debugging.
func XCacheHeader(on bool) Option { return func(c *config) { c.xCache = on } }

// Logger sets where cache errors are logged (at Warn); the default is slog.Default().
func Logger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// Now sets the clock used for freshness, Age, Date and Expires; the default is time.Now. Tests
// use it to expire entries without waiting.
func Now(fn func() time.Time) Option { return func(c *config) { c.now = fn } }

// Middleware returns the page cache over c.
//
//	pages := pagecache.Middleware(c, pagecache.Locale(i18n.LocaleOf), pagecache.XCacheHeader(true))
//	handler := middleware.Compress()(middleware.ConditionalGET()(pages(mux)))
//
// Lookup: GET and HEAD requests are looked up; a HEAD is answered from a stored GET. Other
// methods pass through (see [InvalidateOnWrite]). A client's Cache-Control: no-cache is ignored
// unless [HonourRequestNoCache] says otherwise. A hit is sent with the stored status, header and
// body and an Age header (RFC 9111 §5.1); a stored page past its freshness lifetime is a miss,
// whatever the backend's own TTL granularity.
//
// Key: as Django, in two steps. Under a key derived from the URL the cache keeps the list of
// request headers the response's Vary names; the page itself is under a key that hashes (SHA-256)
// "GET", the full URL — scheme (see [Scheme]), host, path and raw query exactly as the client
// sent them, so ?a=1&b=2 and ?b=2&a=1 are two entries — the values of those request headers, and
// the locale (see [Locale]). Requests that differ in a header the response varies on (Cookie,
// Accept-Language, ...) therefore get separate entries.
//
// Store: only responses to GET (never HEAD, whose handler may leave the body out) with a status
// in [Statuses] (default 200) and a positive freshness lifetime. The lifetime is s-maxage, else
// max-age, else Expires minus Date, less any Age the handler reports, else [TTL]. Never stored:
// responses that set a cookie; that are Cache-Control private, no-store or no-cache; that have
// Vary: *, trailers, or a Content-Length their body does not match; that are streamed (the
// handler flushed, or the body grew past [MaxSize]); whose body carries the nonce of their
// Content-Security-Policy (fresh per request, so a stored copy's inline scripts would be
// blocked); and, per RFC 9111 §3.5, responses to a
// request with Authorization unless they say public, s-maxage or must-revalidate. A request's
// Cookie does not prevent storing: a response that depends on a cookie must say so with
// "Vary: Cookie" (then each cookie value gets its own entry) or be Cache-Control: private.
//
// A stored response gets, when absent, Date, Cache-Control max-age (unless it sets s-maxage
// only) and Expires (Django's patch_response_headers), on the response sent now as well. Hop-by-hop
// fields, and header fields that were on the ResponseWriter before the page cache called the
// handler (set by outer middleware: request IDs, CORS, ...), are not stored: outer middleware
// sets them again on every hit.
//
// The cache never breaks a response: a read that fails, or a stored value that does not decode
// (a newer format, a corrupt value), is a miss; a failed write is logged and the response is
// sent all the same.
func Middleware(c *cache.Cache, opts ...Option) func(http.Handler) http.Handler {
	cfg := &config{ttl: DefaultTTL, maxSize: DefaultMaxSize, statuses: []int{http.StatusOK}, prefix: DefaultPrefix}
	for _, o := range opts {
		o(cfg)
	}
	if c == nil {
		panic("pagecache: nil cache")
	}
	for _, code := range cfg.statuses {
		if code < 200 || code > 599 || code == http.StatusPartialContent || code == http.StatusNotModified {
			panic(fmt.Sprintf("pagecache: status %d cannot be stored", code))
		}
	}
	if err := checkPrefix(cfg.prefix); err != nil {
		panic(err)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	return func(next http.Handler) http.Handler {
		return &handler{c: c, cfg: cfg, next: next}
	}
}

func checkPrefix(p string) error {
	if p == "" || len(p) > 64 {
		return fmt.Errorf("pagecache: key prefix %q must be 1 to 64 bytes", p)
	}
	for i := 0; i < len(p); i++ {
		if p[i] <= ' ' || p[i] >= 0x7f {
			return fmt.Errorf("pagecache: key prefix %q must be printable ASCII without spaces", p)
		}
	}
	return nil
}

type handler struct {
	c    *cache.Cache
	cfg  *config
	next http.Handler
}

var (
	writerPool sync.Pool
	xCacheMiss = "MISS"
	xCacheHit  = "HIT"
)

func (hd *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if hd.cfg.invalidate && !safeMethod(r.Method) {
			hd.serveWrite(w, r)
			return
		}
		hd.next.ServeHTTP(w, r)
		return
	}
	lookup, store := true, r.Method == http.MethodGet
	if hd.cfg.honourNoCache {
		noCache, noStore := requestNoCache(r.Header)
		lookup = !noCache && !noStore
		store = store && !noStore
	}
	ctx := r.Context()
	var locale string // asked only when a key needs it
	asked := false
	var vary []byte // the URL's stored Vary list, read even when the lookup is skipped: storing reuses its nonce
	if lookup || store {
		var kb [512]byte
		u := hd.appendURL(kb[:0], r)
		if b := hd.get(ctx, r, hd.key(kindVary, sha256.Sum256(u))); b != nil {
			if v, err := decodeVary(b); err == nil {
				vary = b
				if lookup {
					if hd.cfg.locale != nil {
						locale, asked = hd.cfg.locale(r), true
					}
					u = appendVariant(u, r, locale, v)
					if b := hd.get(ctx, r, hd.key(kindPage, sha256.Sum256(u))); b != nil {
						if p, err := decodePage(b); err == nil && hd.cfg.now().UnixNano() < p.expires {
							hd.serveHit(w, r, &p)
							return
						}
					}
				}
			}
		}
	}
	if hd.cfg.xCache {
		w.Header()["X-Cache"] = []string{xCacheMiss}
	}
	if !store {
		hd.next.ServeHTTP(w, r)
		return
	}
	pw, _ := writerPool.Get().(*pageWriter)
	if pw == nil {
		pw = new(pageWriter)
	}
	pw.init(hd, w, r, locale, asked, vary)
	hd.next.ServeHTTP(pw, r)
	// No defer: after a panic the buffered page must be neither sent nor stored.
	pw.finish()
	pw.release()
	writerPool.Put(pw)
}

// serveHit sends a stored page.
func (hd *handler) serveHit(w http.ResponseWriter, r *http.Request, p *page) {
	h := w.Header()
	spare := p.apply(h, 2)
	age := p.age + (hd.cfg.now().UnixNano()-p.stored)/int64(time.Second)
	spare[0] = strconv.FormatInt(max(age, 0), 10)
	h["Age"] = spare[0:1:1]
	if hd.cfg.xCache {
		spare[1] = xCacheHit
		h["X-Cache"] = spare[1:2:2]
	}
	w.WriteHeader(p.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(p.body)
	}
}

// get reads key; a miss, a failure and an empty value are all nil.
func (hd *handler) get(ctx context.Context, r *http.Request, key string) []byte {
	b, err := hd.c.Get(ctx, key)
	if err != nil {
		if !errors.Is(err, cache.ErrNotFound) {
			hd.logError(ctx, r, "read", err)
		}
		return nil
	}
	return b
}

func (hd *handler) set(ctx context.Context, r *http.Request, key string, value []byte, ttl time.Duration) {
	if err := hd.c.Set(ctx, key, value, ttl); err != nil {
		hd.logError(ctx, r, "write", err)
	}
}

func (hd *handler) logError(ctx context.Context, r *http.Request, op string, err error) {
	hd.cfg.logger.LogAttrs(ctx, slog.LevelWarn, "pagecache: cache "+op+" failed",
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
}

// serveWrite runs an unsafe request and, if it succeeded, deletes the URL's Vary list, which
// makes every stored variant of the URL unreachable (see store).
func (hd *handler) serveWrite(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	hd.next.ServeHTTP(sw, r)
	if sw.status == 0 {
		sw.status = http.StatusOK // the handler wrote nothing: net/http sends 200
	}
	if sw.status < 200 || sw.status >= 400 {
		return
	}
	var kb [512]byte
	key := hd.key(kindVary, sha256.Sum256(hd.appendURL(kb[:0], r)))
	if _, err := hd.c.Delete(context.WithoutCancel(r.Context()), key); err != nil {
		hd.logError(r.Context(), r, "delete", err)
	}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions || m == http.MethodTrace
}
