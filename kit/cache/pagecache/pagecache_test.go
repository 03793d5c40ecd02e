package pagecache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/cache"
	"github.com/stackkit/stackkit/kit/cache/pagecache"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// counted wraps fn and counts its calls.
type counted struct {
	calls atomic.Int32
	fn    http.HandlerFunc
}

func (c *counted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.calls.Add(1)
	c.fn(w, r)
}

func text(body string, header ...string) *counted {
	return &counted{fn: func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Add(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	}}
}

// do serves one request; header is name, value pairs.
func do(h http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func memoryCache(t testing.TB) *cache.Cache {
	t.Helper()
	c, err := cache.Open(context.Background(), "memory://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func wantCalls(t *testing.T, h *counted, n int32) {
	t.Helper()
	if got := h.calls.Load(); got != n {
		t.Fatalf("handler called %d times, want %d", got, n)
	}
}

func TestHitAfterMiss(t *testing.T) {
	clock := newClock()
	h := text("hello")
	pages := pagecache.Middleware(memoryCache(t), pagecache.XCacheHeader(true), pagecache.Now(clock.Now))(h)

	miss := do(pages, "GET", "/a")
	if miss.Code != 200 || miss.Body.String() != "hello" || miss.Header().Get("X-Cache") != "MISS" {
		t.Fatalf("miss: %d %q %v", miss.Code, miss.Body, miss.Header())
	}
	if got := miss.Header().Get("Cache-Control"); got != "max-age=600" {
		t.Errorf("miss Cache-Control = %q, want the default TTL added", got)
	}
	if got, want := miss.Header().Get("Expires"), clock.Now().Add(10*time.Minute).Format(http.TimeFormat); got != want {
		t.Errorf("miss Expires = %q, want %q", got, want)
	}
	if miss.Header().Get("Date") == "" || miss.Header().Get("Content-Length") != "5" {
		t.Errorf("miss header %v: want Date and Content-Length", miss.Header())
	}

	clock.Advance(42 * time.Second)
	hit := do(pages, "GET", "/a")
	wantCalls(t, h, 1)
	if hit.Code != 200 || hit.Body.String() != "hello" || hit.Header().Get("X-Cache") != "HIT" {
		t.Fatalf("hit: %d %q %v", hit.Code, hit.Body, hit.Header())
	}
	if got := hit.Header().Get("Age"); got != "42" {
		t.Errorf("Age = %q, want 42", got)
	}
	for _, k := range []string{"Content-Type", "Cache-Control", "Expires", "Date", "Content-Length"} {
		if hit.Header().Get(k) != miss.Header().Get(k) {
			t.Errorf("hit %s = %q, miss had %q", k, hit.Header().Get(k), miss.Header().Get(k))
		}
	}
}

func TestXCacheOffByDefault(t *testing.T) {
	pages := pagecache.Middleware(memoryCache(t))(text("x"))
	do(pages, "GET", "/")
	if w := do(pages, "GET", "/"); w.Header()["X-Cache"] != nil {
		t.Fatalf("X-Cache sent by default: %v", w.Header())
	}
}

func TestHeadServedFromGet(t *testing.T) {
	h := text("hello")
	pages := pagecache.Middleware(memoryCache(t), pagecache.XCacheHeader(true))(h)

	// A HEAD miss is not stored: its handler may leave the body out.
	do(pages, "HEAD", "/a")
	do(pages, "GET", "/a")
	wantCalls(t, h, 2)

	w := do(pages, "HEAD", "/a")
	wantCalls(t, h, 2)
	if w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") != "5" || w.Header().Get("X-Cache") != "HIT" {
		t.Fatalf("HEAD: %d %q %v", w.Code, w.Body, w.Header())
	}
}

func TestVaryKeysSeparately(t *testing.T) {
	c, d := newMapCache(t)
	h := &counted{fn: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Accept-Language")
		io.WriteString(w, "page in "+r.Header.Get("Accept-Language"))
	}}
	pages := pagecache.Middleware(c)(h)
	for range 3 {
		for _, lang := range []string{"en", "fr"} {
			if w := do(pages, "GET", "/p", "Accept-Language", lang); w.Body.String() != "page in "+lang {
				t.Fatalf("%s: got %q", lang, w.Body)
			}
		}
	}
	wantCalls(t, h, 2)
	if n := d.count(":p:"); n != 2 {
		t.Fatalf("%d pages stored, want 2", n)
	}
	if n := d.count(":v:"); n != 1 {
		t.Fatalf("%d Vary lists stored, want 1", n)
	}
	// A request without the header is a variant of its own.
	do(pages, "GET", "/p")
	wantCalls(t, h, 3)
}

func TestVaryListChanges(t *testing.T) {
	c, _ := newMapCache(t)
	vary := "Accept-Language"
	h := &counted{fn: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", vary)
		io.WriteString(w, r.Header.Get("Accept-Language")+"/"+r.Header.Get("X-Theme"))
	}}
	pages := pagecache.Middleware(c)(h)
	get := func(lang, theme string) string {
		return do(pages, "GET", "/p", "Accept-Language", lang, "X-Theme", theme).Body.String()
	}
	get("en", "dark")
	// The stored page varies on Accept-Language alone: it is right for any theme.
	if got := get("en", "light"); got != "en/dark" {
		t.Fatalf("got %q", got)
	}
	vary = "accept-language, X-Theme" // a deploy changed what the page varies on
	get("fr", "dark")                 // a miss: stores the new list
	wantCalls(t, h, 2)
	for _, tc := range [][2]string{{"fr", "light"}, {"fr", "dark"}, {"en", "light"}, {"en", "dark"}, {"fr", "light"}} {
		if got := get(tc[0], tc[1]); got != tc[0]+"/"+tc[1] {
			t.Fatalf("%v: got %q", tc, got)
		}
	}
	wantCalls(t, h, 5)
}

func TestLocale(t *testing.T) {
	c, d := newMapCache(t)
	// The locale is negotiated from Accept-Language's first tag; the response varies on it.
	negotiate := func(r *http.Request) string {
		tag, _, _ := strings.Cut(r.Header.Get("Accept-Language"), ",")
		lang, _, _ := strings.Cut(tag, "-")
		return lang
	}
	h := &counted{fn: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Accept-Language")
		io.WriteString(w, "page in "+negotiate(r))
	}}
	pages := pagecache.Middleware(c, pagecache.Locale(negotiate))(h)
	for _, al := range []string{"en-US,en;q=0.9", "en", "en-GB", "de-DE", "de"} {
		if w := do(pages, "GET", "/p", "Accept-Language", al); w.Body.String() != "page in "+al[:2] {
			t.Fatalf("%s: got %q", al, w.Body)
		}
	}
	// Accept-Language strings that negotiate the same locale share an entry.
	wantCalls(t, h, 2)
	if n := d.count(":p:"); n != 2 {
		t.Fatalf("%d pages stored, want 2", n)
	}

	// Without Vary, the locale still keys the page.
	byCookie := func(r *http.Request) string {
		if ck, err := r.Cookie("lang"); err == nil {
			return ck.Value
		}
		return "en"
	}
	h2 := &counted{fn: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, byCookie(r)) }}
	pages2 := pagecache.Middleware(c, pagecache.Locale(byCookie))(h2)
	for range 2 {
		for _, lang := range []string{"en", "nl"} {
			if w := do(pages2, "GET", "/q", "Cookie", "lang="+lang); w.Body.String() != lang {
				t.Fatalf("%s: got %q", lang, w.Body)
			}
		}
	}
	wantCalls(t, h2, 2)
}

func TestNotStored(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		header []string
		req    []string
	}{
		{"Set-Cookie", 200, []string{"Set-Cookie", "session=1"}, nil},
		{"private", 200, []string{"Cache-Control", "private, max-age=60"}, nil},
		{"qualified private", 200, []string{"Cache-Control", `max-age=60, private="X-User, X-Other"`}, nil},
		{"no-store", 200, []string{"Cache-Control", "No-Store"}, nil},
		{"no-cache", 200, []string{"Cache-Control", "public, no-cache"}, nil},
		{"max-age=0", 200, []string{"Cache-Control", "max-age=0"}, nil},
		{"invalid max-age", 200, []string{"Cache-Control", "max-age=soon"}, nil},
		{"s-maxage=0", 200, []string{"Cache-Control", "max-age=60, s-maxage=0"}, nil},
		{"Expires in the past", 200, []string{"Expires", "Mon, 02 Jan 2006 15:04:05 GMT"}, nil},
		{"invalid Expires", 200, []string{"Expires", "0"}, nil},
		{"Vary: *", 200, []string{"Vary", "Accept, *"}, nil},
		{"Age past max-age", 200, []string{"Cache-Control", "max-age=60", "Age", "60"}, nil},
		{"trailer", 200, []string{"Trailer", "X-Checksum"}, nil},
		{"Authorization without public", 200, []string{"Cache-Control", "max-age=60"}, []string{"Authorization", "Bearer x"}},
		{"404 by default", 404, nil, nil},
		{"500", 500, nil, nil},
		{"302", 302, []string{"Location", "/b"}, nil},
		{"Content-Length mismatch", 200, []string{"Content-Length", "7"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, d := newMapCache(t)
			h := &counted{fn: func(w http.ResponseWriter, r *http.Request) {
				for i := 0; i+1 < len(tc.header); i += 2 {
					w.Header().Add(tc.header[i], tc.header[i+1])
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, "body")
			}}
			pages := pagecache.Middleware(c)(h)
			for range 2 {
				w := do(pages, "GET", "/x", tc.req...)
				if w.Code != tc.status {
					t.Fatalf("status %d, want %d", w.Code, tc.status)
				}
				if tc.name != "Content-Length mismatch" && w.Body.String() != "body" {
					t.Fatalf("body %q", w.Body)
				}
				if w.Header().Get("Expires") != "" && tc.header == nil {
					t.Fatalf("an unstored response was patched: %v", w.Header())
				}
			}
			wantCalls(t, h, 2)
			if n := d.count(":p:"); n != 0 {
				t.Fatalf("%d pages stored", n)
			}
		})
	}
}

func TestAuthorizationWithPermission(t *testing.T) {
	for _, cc := range []string{"public, max-age=60", "s-maxage=60", "max-age=60, must-revalidate"} {
		t.Run(cc, func(t *testing.T) {
			h := text("shared", "Cache-Control", cc)
			pages := pagecache.Middleware(memoryCache(t))(h)
			do(pages, "GET", "/x", "Authorization", "Bearer a")
			do(pages, "GET", "/x")
			wantCalls(t, h, 1)
		})
	}
}

func TestCookieFollowsVary(t *testing.T) {
	c, d := newMapCache(t)
	// A request's Cookie does not prevent storing...
	plain := text("same for all")
	pages := pagecache.Middleware(c)(plain)
	do(pages, "GET", "/plain", "Cookie", "session=a")
	do(pages, "GET", "/plain", "Cookie", "session=b")
	wantCalls(t, plain, 1)

	// ...and a response that varies on it is stored per cookie.
	perUser := &counted{fn: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Cookie")
		io.WriteString(w, "hello "+r.Header.Get("Cookie"))
	}}
	pages = pagecache.Middleware(c)(perUser)
	for range 2 {
		for _, s := range []string{"session=a", "session=b"} {
			if w := do(pages, "GET", "/user", "Cookie", s); w.Body.String() != "hello "+s {
				t.Fatalf("%s: got %q", s, w.Body)
			}
		}
	}
	wantCalls(t, perUser, 2)
	if n := d.count(":p:"); n != 3 {
		t.Fatalf("%d pages stored, want 3", n)
	}
}

func TestStatusesOption(t *testing.T) {
	h := &counted{fn: func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }}
	pages := pagecache.Middleware(memoryCache(t), pagecache.Statuses(200, 301, 404))(h)
	do(pages, "GET", "/missing")
	if w := do(pages, "GET", "/missing"); w.Code != 404 {
		t.Fatalf("status %d", w.Code)
	}
	wantCalls(t, h, 1)

	for _, code := range []int{304, 206, 199, 600} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Statuses(%d) did not panic", code)
				}
			}()
			pagecache.Middleware(memoryCache(t), pagecache.Statuses(code))
		}()
	}
}

func TestStreamedNotStored(t *testing.T) {
	c, d := newMapCache(t)
	h := &counted{fn: func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "part 1;")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Error(err)
		}
		io.WriteString(w, "part 2")
	}}
	pages := pagecache.Middleware(c)(h)
	for range 2 {
		w := do(pages, "GET", "/stream")
		if w.Body.String() != "part 1;part 2" || !w.Flushed {
			t.Fatalf("body %q flushed %v", w.Body, w.Flushed)
		}
		if w.Header().Get("Expires") != "" {
			t.Fatalf("streamed response was patched: %v", w.Header())
		}
	}
	wantCalls(t, h, 2)
	if d.count(":p:") != 0 {
		t.Fatal("streamed page stored")
	}

	// http.Flusher works too.
	h2 := &counted{fn: func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "a")
		w.(http.Flusher).Flush()
	}}
	pages = pagecache.Middleware(c)(h2)
	do(pages, "GET", "/flusher")
	do(pages, "GET", "/flusher")
	wantCalls(t, h2, 2)
}

func TestOversizedNotStored(t *testing.T) {
	c, d := newMapCache(t)
	big := strings.Repeat("x", 100)
	h := &counted{fn: func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < len(big); i += 10 {
			io.WriteString(w, big[i:i+10])
		}
	}}
	declared := text(big, "Content-Length", "100")
	fits := text(big[:64])
	mw := pagecache.Middleware(c, pagecache.MaxSize(64))
	for _, tc := range []struct {
		h    *counted
		path string
		body string
		want int32
	}{{h, "/grows", big, 2}, {declared, "/declared", big, 2}, {fits, "/fits", big[:64], 1}} {
		pages := mw(tc.h)
		for range 2 {
			if w := do(pages, "GET", tc.path); w.Body.String() != tc.body {
				t.Fatalf("%s: body %q", tc.path, w.Body)
			}
		}
		wantCalls(t, tc.h, tc.want)
	}
	if n := d.count(":p:"); n != 1 {
		t.Fatalf("%d pages stored, want 1", n)
	}
}

func TestMaxAge(t *testing.T) {
	clock := newClock()
	h := text("x", "Cache-Control", "public, max-age=60")
	pages := pagecache.Middleware(memoryCache(t), pagecache.Now(clock.Now))(h)
	w := do(pages, "GET", "/")
	if got := w.Header().Get("Cache-Control"); got != "public, max-age=60" {
		t.Errorf("Cache-Control = %q, want it untouched", got)
	}
	clock.Advance(59 * time.Second)
	if w := do(pages, "GET", "/"); w.Header().Get("Age") != "59" {
		t.Fatalf("Age %q", w.Header().Get("Age"))
	}
	wantCalls(t, h, 1)
	clock.Advance(time.Second)
	do(pages, "GET", "/")
	wantCalls(t, h, 2) // expired: rendered again
	do(pages, "GET", "/")
	wantCalls(t, h, 2) // and stored again
}

func TestMaxAgeRealClock(t *testing.T) {
	// The backend's own TTL, without the injected clock.
	h := text("x", "Cache-Control", "max-age=1")
	pages := pagecache.Middleware(memoryCache(t))(h)
	do(pages, "GET", "/")
	do(pages, "GET", "/")
	wantCalls(t, h, 1)
	deadline := time.Now().Add(5 * time.Second)
	for h.calls.Load() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("still cached after 5s")
		}
		time.Sleep(50 * time.Millisecond)
		do(pages, "GET", "/")
	}
}

func TestSMaxAgeWins(t *testing.T) {
	clock := newClock()
	c, d := newMapCache(t)
	h := text("x", "Cache-Control", "max-age=300, s-maxage=30")
	pages := pagecache.Middleware(c, pagecache.Now(clock.Now))(h)
	do(pages, "GET", "/")
	if _, ttl := d.only(t, ":p:"); ttl != 30*time.Second {
		t.Fatalf("stored for %s, want 30s", ttl)
	}
	clock.Advance(29 * time.Second)
	do(pages, "GET", "/")
	wantCalls(t, h, 1)
	clock.Advance(time.Second)
	do(pages, "GET", "/")
	wantCalls(t, h, 2)

	// s-maxage alone: browsers are given no lifetime of ours.
	sOnly := text("x", "Cache-Control", "s-maxage=30")
	w := do(pagecache.Middleware(c)(sOnly), "GET", "/s")
	if w.Header().Get("Cache-Control") != "s-maxage=30" || w.Header().Get("Expires") != "" {
		t.Fatalf("s-maxage-only response patched: %v", w.Header())
	}
}

func TestExpires(t *testing.T) {
	clock := newClock()
	c, d := newMapCache(t)
	now := clock.Now()
	h := text("x", "Date", now.Add(-5*time.Second).Format(http.TimeFormat), "Expires", now.Add(25*time.Second).Format(http.TimeFormat))
	pages := pagecache.Middleware(c, pagecache.Now(clock.Now))(h)
	w := do(pages, "GET", "/")
	if _, ttl := d.only(t, ":p:"); ttl != 30*time.Second {
		t.Fatalf("stored for %s, want 30s (Expires - Date)", ttl)
	}
	if got := w.Header().Get("Cache-Control"); got != "max-age=30" {
		t.Fatalf("Cache-Control = %q", got)
	}
}

func TestAgeFromHandler(t *testing.T) {
	clock := newClock()
	c, d := newMapCache(t)
	h := text("x", "Cache-Control", "max-age=100", "Age", "40") // a proxied response
	pages := pagecache.Middleware(c, pagecache.Now(clock.Now))(h)
	do(pages, "GET", "/")
	if _, ttl := d.only(t, ":p:"); ttl != 60*time.Second {
		t.Fatalf("stored for %s, want 60s", ttl)
	}
	clock.Advance(10 * time.Second)
	if w := do(pages, "GET", "/"); w.Header().Get("Age") != "50" {
		t.Fatalf("Age %q, want 50", w.Header().Get("Age"))
	}
}

func TestTTLOption(t *testing.T) {
	c, d := newMapCache(t)
	pages := pagecache.Middleware(c, pagecache.TTL(time.Minute))(text("x"))
	if w := do(pages, "GET", "/"); w.Header().Get("Cache-Control") != "max-age=60" {
		t.Fatalf("Cache-Control %q", w.Header().Get("Cache-Control"))
	}
	if _, ttl := d.only(t, ":p:"); ttl != time.Minute {
		t.Fatalf("stored for %s", ttl)
	}

	// TTL(0): only responses that state their lifetime.
	h := text("x")
	pages = pagecache.Middleware(c, pagecache.TTL(0))(h)
	do(pages, "GET", "/none")
	do(pages, "GET", "/none")
	wantCalls(t, h, 2)
}

func TestOtherMethodsPassThrough(t *testing.T) {
	c, d := newMapCache(t)
	h := text("done")
	pages := pagecache.Middleware(c, pagecache.XCacheHeader(true))(h)
	for _, m := range []string{"POST", "PUT", "DELETE", "OPTIONS"} {
		for range 2 {
			if w := do(pages, m, "/x"); w.Body.String() != "done" || w.Header()["X-Cache"] != nil {
				t.Fatalf("%s: %q %v", m, w.Body, w.Header())
			}
		}
	}
	wantCalls(t, h, 8)
	if len(d.m) != 0 {
		t.Fatalf("stored %d keys", len(d.m))
	}
}

func TestInvalidateOnWrite(t *testing.T) {
	c, _ := newMapCache(t)
	version := 1
	status := http.StatusSeeOther
	h := &counted{fn: func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			if status < 400 {
				version++
			}
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Vary", "Accept-Language")
		fmt.Fprintf(w, "v%d %s", version, r.Header.Get("Accept-Language"))
	}}
	pages := pagecache.Middleware(c, pagecache.InvalidateOnWrite(true))(h)
	get := func(lang string) string { return do(pages, "GET", "/item?id=1", "Accept-Language", lang).Body.String() }
	get("en")
	get("fr")
	if get("en") != "v1 en" || get("fr") != "v1 fr" {
		t.Fatal("not cached")
	}
	wantCalls(t, h, 2)

	do(pages, "POST", "/item?id=1") // 303: a success
	if got := get("en"); got != "v2 en" {
		t.Fatalf("after POST: %q", got)
	}
	// The other variant was stored before the write: it must not come back with the new Vary list.
	if got := get("fr"); got != "v2 fr" {
		t.Fatalf("after POST, other variant: %q", got)
	}

	status = http.StatusBadRequest
	do(pages, "POST", "/item?id=1")
	if got := get("en"); got != "v2 en" {
		t.Fatalf("after failed POST: %q", got)
	}
	calls := h.calls.Load()
	get("en")
	wantCalls(t, h, calls) // a failed write invalidates nothing

	// Without the option a write changes nothing.
	c2, _ := newMapCache(t)
	version, status = 1, 200
	plain := pagecache.Middleware(c2)(h)
	do(plain, "GET", "/item")
	do(plain, "POST", "/item")
	if got := do(plain, "GET", "/item").Body.String(); !strings.HasPrefix(got, "v1") {
		t.Fatalf("without InvalidateOnWrite: %q", got)
	}
}

func TestQueryOrderMatters(t *testing.T) {
	h := &counted{fn: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.RawQuery) }}
	pages := pagecache.Middleware(memoryCache(t))(h)
	for range 2 {
		if w := do(pages, "GET", "/s?a=1&b=2"); w.Body.String() != "a=1&b=2" {
			t.Fatalf("got %q", w.Body)
		}
		if w := do(pages, "GET", "/s?b=2&a=1"); w.Body.String() != "b=2&a=1" {
			t.Fatalf("got %q", w.Body)
		}
	}
	wantCalls(t, h, 2) // two entries, both hits the second time
	do(pages, "GET", "/s")
	do(pages, "GET", "/s?")
	wantCalls(t, h, 4)
}

func TestURLParts(t *testing.T) {
	h := &counted{fn: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Host) }}
	pages := pagecache.Middleware(memoryCache(t))(h)
	do(pages, "GET", "http://example.com/p")
	do(pages, "GET", "http://EXAMPLE.com/p") // host names are case-insensitive
	wantCalls(t, h, 1)
	do(pages, "GET", "https://example.com/p") // r.TLS set: another scheme
	do(pages, "GET", "http://example.org/p")
	wantCalls(t, h, 3)

	// A Scheme option replaces r.TLS, e.g. for a TLS-terminating proxy.
	h2 := text("x")
	pages = pagecache.Middleware(memoryCache(t), pagecache.Scheme(func(r *http.Request) string {
		return r.Header.Get("X-Forwarded-Proto")
	}))(h2)
	do(pages, "GET", "/p", "X-Forwarded-Proto", "https")
	do(pages, "GET", "/p", "X-Forwarded-Proto", "https")
	do(pages, "GET", "/p", "X-Forwarded-Proto", "http")
	wantCalls(t, h2, 2)

	// The key is the URL the client asked for, not the one a router left in r.URL.
	h3 := &counted{fn: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) }}
	shared := pagecache.Middleware(memoryCache(t))
	mux := http.NewServeMux()
	mux.Handle("/a/", http.StripPrefix("/a", shared(h3)))
	mux.Handle("/b/", http.StripPrefix("/b", shared(h3)))
	do(mux, "GET", "/a/x")
	if w := do(mux, "GET", "/b/x"); w.Body.String() != "/x" || h3.calls.Load() != 2 {
		t.Fatalf("/b/x served from /a/x's entry")
	}
}

func TestKeyPrefix(t *testing.T) {
	c, d := newMapCache(t)
	h := text("x")
	do(pagecache.Middleware(c, pagecache.KeyPrefix("site1"))(h), "GET", "/")
	do(pagecache.Middleware(c, pagecache.KeyPrefix("site2"))(h), "GET", "/")
	wantCalls(t, h, 2)
	if d.count("site1:p:") != 1 || d.count("site2:p:") != 1 {
		t.Fatalf("keys %v", d.m)
	}
	for k := range d.m {
		if len(k) > 100 {
			t.Errorf("key %q is %d bytes", k, len(k))
		}
	}
	for _, bad := range []string{"", "has space", "ctl\x01", strings.Repeat("p", 65)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("KeyPrefix(%q) did not panic", bad)
				}
			}()
			pagecache.Middleware(c, pagecache.KeyPrefix(bad))
		}()
	}
}

func TestLongURLKeyFitsMemcached(t *testing.T) {
	c, d := newMapCache(t)
	h := text("x")
	pages := pagecache.Middleware(c)(h)
	long := "/" + strings.Repeat("segment/", 200) + "?q=" + strings.Repeat("z", 2000)
	do(pages, "GET", long)
	do(pages, "GET", long)
	wantCalls(t, h, 1)
	for k := range d.m {
		if len(k) > 250 {
			t.Fatalf("key of %d bytes", len(k))
		}
	}
}

func TestOuterHeadersNotStored(t *testing.T) {
	var n atomic.Int32
	h := text("x", "Vary", "Accept-Encoding")
	pages := pagecache.Middleware(memoryCache(t))(h)
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", strconv.Itoa(int(n.Add(1))))
		w.Header().Set("Vary", "Origin")
		pages.ServeHTTP(w, r)
	})
	do(outer, "GET", "/")
	w := do(outer, "GET", "/")
	wantCalls(t, h, 1)
	if got := w.Header().Get("X-Request-Id"); got != "2" {
		t.Fatalf("X-Request-Id %q: the stored one was sent", got)
	}
	// A field the handler changed is its own, and stored.
	if got := w.Header()["Vary"]; len(got) != 2 || got[0] != "Origin" || got[1] != "Accept-Encoding" {
		t.Fatalf("Vary %q", got)
	}
}

func TestCSPNonceNotStored(t *testing.T) {
	var n atomic.Int32
	h := &counted{fn: func(w http.ResponseWriter, r *http.Request) {
		policy := w.Header().Get("Content-Security-Policy")
		if i := strings.Index(policy, "'nonce-"); i >= 0 {
			nonce, _, _ := strings.Cut(policy[i+7:], "'")
			fmt.Fprintf(w, `<script nonce="%s">go()</script>`, nonce)
			return
		}
		io.WriteString(w, "<p>no scripts</p>")
	}}
	pages := pagecache.Middleware(memoryCache(t))(h)
	withCSP := func(policy string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", fmt.Sprintf(policy, n.Add(1)))
			pages.ServeHTTP(w, r)
		})
	}
	nonced := withCSP("default-src 'self'; script-src 'self' 'nonce-n%d'")
	do(nonced, "GET", "/nonced")
	if w := do(nonced, "GET", "/nonced"); !strings.Contains(w.Body.String(), `nonce="n2"`) {
		t.Fatalf("stored a page with a nonce: %q", w.Body)
	}
	wantCalls(t, h, 2)

	// A policy without a nonce in the body does not prevent storing.
	plain := withCSP("default-src 'self' /* %d */")
	do(plain, "GET", "/plain")
	do(plain, "GET", "/plain")
	wantCalls(t, h, 3)
}

func TestHopByHopNotStored(t *testing.T) {
	h := text("x", "Connection", "X-Hop", "X-Hop", "1", "Keep-Alive", "timeout=5", "X-Kept", "1")
	pages := pagecache.Middleware(memoryCache(t))(h)
	do(pages, "GET", "/")
	w := do(pages, "GET", "/")
	wantCalls(t, h, 1)
	for _, k := range []string{"Connection", "X-Hop", "Keep-Alive"} {
		if w.Header()[k] != nil {
			t.Errorf("hop-by-hop %s stored", k)
		}
	}
	if w.Header().Get("X-Kept") != "1" {
		t.Error("X-Kept lost")
	}
}

func TestRequestNoCache(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"Cache-Control", "no-cache"}, {"Cache-Control", "max-age=0"}, {"Pragma", "no-cache"},
	} {
		t.Run(tc.name+": "+tc.value, func(t *testing.T) {
			version := 0
			h := &counted{fn: func(w http.ResponseWriter, r *http.Request) { version++; fmt.Fprint(w, version) }}

			ignored := pagecache.Middleware(memoryCache(t))(h)
			do(ignored, "GET", "/")
			if w := do(ignored, "GET", "/", tc.name, tc.value); w.Body.String() != "1" {
				t.Fatalf("default: %q, want the stored page", w.Body)
			}

			honoured := pagecache.Middleware(memoryCache(t), pagecache.HonourRequestNoCache(true))(h)
			do(honoured, "GET", "/")
			if w := do(honoured, "GET", "/", tc.name, tc.value); w.Body.String() != "3" {
				t.Fatalf("honoured: %q, want a fresh render", w.Body)
			}
			if w := do(honoured, "GET", "/"); w.Body.String() != "3" {
				t.Fatalf("after refresh: %q, want the refreshed page stored", w.Body)
			}
		})
	}

	// no-store: neither looked up nor stored.
	h := text("x")
	pages := pagecache.Middleware(memoryCache(t), pagecache.HonourRequestNoCache(true))(h)
	do(pages, "GET", "/", "Cache-Control", "no-store")
	do(pages, "GET", "/")
	wantCalls(t, h, 2)
}

func TestRefreshKeepsOtherVariants(t *testing.T) {
	c, _ := newMapCache(t)
	h := &counted{fn: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Accept-Language")
		io.WriteString(w, r.Header.Get("Accept-Language"))
	}}
	pages := pagecache.Middleware(c, pagecache.HonourRequestNoCache(true))(h)
	do(pages, "GET", "/", "Accept-Language", "en")
	do(pages, "GET", "/", "Accept-Language", "fr")
	do(pages, "GET", "/", "Accept-Language", "en", "Cache-Control", "no-cache")
	do(pages, "GET", "/", "Accept-Language", "fr")
	wantCalls(t, h, 3)
}

func TestCorruptValueIsMiss(t *testing.T) {
	c, d := newMapCache(t)
	h := text("x")
	pages := pagecache.Middleware(c)(h)
	do(pages, "GET", "/")
	key, _ := d.only(t, ":p:")
	for _, v := range [][]byte{nil, []byte("P"), []byte("P\x02" + strings.Repeat("\x00", 40)), bytes.Repeat([]byte{0xff}, 64)} {
		d.put(key, v)
		if w := do(pages, "GET", "/"); w.Body.String() != "x" || w.Code != 200 {
			t.Fatalf("%q: %d %q", v, w.Code, w.Body)
		}
	}
	vkey, _ := d.only(t, ":v:")
	d.put(vkey, []byte("V\x01short"))
	if w := do(pages, "GET", "/"); w.Body.String() != "x" {
		t.Fatalf("corrupt Vary list: %q", w.Body)
	}
}

func TestFailingCache(t *testing.T) {
	c, d := newMapCache(t)
	d.fail = errors.New("backend down")
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	h := text("still here")
	pages := pagecache.Middleware(c, pagecache.Logger(logger), pagecache.InvalidateOnWrite(true))(h)
	for range 3 {
		if w := do(pages, "GET", "/"); w.Code != 200 || w.Body.String() != "still here" {
			t.Fatalf("%d %q", w.Code, w.Body)
		}
	}
	if w := do(pages, "HEAD", "/"); w.Code != 200 {
		t.Fatalf("HEAD %d", w.Code)
	}
	if w := do(pages, "POST", "/"); w.Code != 200 {
		t.Fatalf("POST %d", w.Code)
	}
	wantCalls(t, h, 5)
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"cache read failed", "cache write failed", "cache delete failed", "backend down"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

func TestFailOpenCache(t *testing.T) {
	// The portable cache's fail-open turns backend errors into misses before they reach us.
	d := newMapDriver()
	d.fail = errors.New("backend down")
	c, err := cache.New(failOpenDriver{d}, cache.WithFailOpen(50*time.Millisecond), cache.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	h := text("ok")
	pages := pagecache.Middleware(c)(h)
	for range 2 {
		if w := do(pages, "GET", "/"); w.Body.String() != "ok" {
			t.Fatalf("%q", w.Body)
		}
	}
}

// failOpenDriver is a shared (not private) backend, to which the cache applies fail-open.
type failOpenDriver struct{ *mapDriver }

func (failOpenDriver) Capabilities() cache.Capabilities { return cache.Capabilities{Name: "shared"} }

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestReadFromAndEmptyBody(t *testing.T) {
	h := &counted{fn: func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/copy" {
			io.Copy(w, strings.NewReader("copied"))
		}
	}}
	pages := pagecache.Middleware(memoryCache(t))(h)
	for range 2 {
		if w := do(pages, "GET", "/copy"); w.Body.String() != "copied" {
			t.Fatalf("%q", w.Body)
		}
		if w := do(pages, "GET", "/empty"); w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") != "0" {
			t.Fatalf("empty: %d %q %v", w.Code, w.Body, w.Header())
		}
	}
	wantCalls(t, h, 2)
}

func TestPanicNotStored(t *testing.T) {
	c, d := newMapCache(t)
	pages := pagecache.Middleware(c)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "half a page")
		panic("boom")
	}))
	w := httptest.NewRecorder()
	func() {
		defer func() { recover() }()
		pages.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	}()
	if w.Body.Len() != 0 || len(d.m) != 0 {
		t.Fatalf("after a panic: body %q, %d keys stored", w.Body, len(d.m))
	}
}

// TestRealServer goes through net/http, which chunks bodies and answers HEAD itself.
func TestRealServer(t *testing.T) {
	big := strings.Repeat("0123456789", 2000) // past net/http's buffer: chunked unless Content-Length is set
	h := text(big)
	srv := httptest.NewServer(pagecache.Middleware(memoryCache(t), pagecache.XCacheHeader(true))(h))
	defer srv.Close()
	for i, method := range []string{"GET", "GET", "HEAD"} {
		req, _ := http.NewRequest(method, srv.URL+"/big?x=1", nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ContentLength != int64(len(big)) || len(resp.TransferEncoding) != 0 {
			t.Errorf("%d %s: Content-Length %d, Transfer-Encoding %v", i, method, resp.ContentLength, resp.TransferEncoding)
		}
		if method == "GET" && string(body) != big {
			t.Errorf("%d: body of %d bytes", i, len(body))
		}
		if want := map[bool]string{true: "MISS", false: "HIT"}[i == 0]; resp.Header.Get("X-Cache") != want {
			t.Errorf("%d: X-Cache %q, want %q", i, resp.Header.Get("X-Cache"), want)
		}
	}
	wantCalls(t, h, 1)
}

func TestConcurrent(t *testing.T) {
	h := &counted{fn: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Accept-Language")
		io.WriteString(w, r.URL.Path+r.Header.Get("Accept-Language"))
	}}
	pages := pagecache.Middleware(memoryCache(t))(h)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				path, lang := fmt.Sprintf("/p%d", i%5), []string{"en", "fr"}[(g+i)%2]
				if w := do(pages, "GET", path, "Accept-Language", lang); w.Body.String() != path+lang {
					t.Errorf("%s %s: %q", path, lang, w.Body)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := h.calls.Load(); n > 100 {
		t.Errorf("handler called %d times for 10 variants", n)
	}
}

// discard is a ResponseWriter that keeps nothing, to measure the middleware alone.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func BenchmarkHit(b *testing.B) {
	body := strings.Repeat("<p>cached page</p>", 500) // 9 KB
	h := text(body, "Vary", "Accept-Encoding", "Cache-Control", "public, max-age=3600")
	pages := pagecache.Middleware(memoryCache(b))(h)
	r := httptest.NewRequest("GET", "/articles/hello-world?page=2", nil)
	r.Header.Set("Accept-Encoding", "gzip, br")
	w := &discard{h: http.Header{}}
	pages.ServeHTTP(w, r)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		clear(w.h)
		pages.ServeHTTP(w, r)
	}
	if h.calls.Load() != 1 {
		b.Fatalf("handler called %d times", h.calls.Load())
	}
}

func BenchmarkMissNotStored(b *testing.B) {
	// The cost on pages that are never stored: two lookups and the pass-through.
	h := text("x", "Cache-Control", "no-store")
	pages := pagecache.Middleware(memoryCache(b))(h)
	r := httptest.NewRequest("GET", "/dashboard", nil)
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		pages.ServeHTTP(w, r)
	}
}
