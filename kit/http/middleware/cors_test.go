package middleware

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func corsTestHandler(t testing.TB, opts ...CORSOption) (http.Handler, *int) {
	t.Helper()
	mw, err := CORS(opts...)
	if err != nil {
		t.Fatal(err)
	}
	calls := new(int)
	return mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*calls++
		w.Header().Set("X-Request-Id", "req-1")
		_, _ = w.Write([]byte("ok"))
	})), calls
}

func corsDo(h http.Handler, method, origin string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "https://api.example.com/items", nil)
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestCORSActualRequests(t *testing.T) {
	h, calls := corsTestHandler(t,
		AllowedOrigins("https://app.example.com", "https://*.example.org", "http://localhost:3000"),
		ExposedHeaders("x-request-id", "Location"))
	for _, tc := range []struct {
		origin, allow string
	}{
		{"https://app.example.com", "https://app.example.com"},
		{"https://a.example.org", "https://a.example.org"},
		{"https://a.b.example.org", "https://a.b.example.org"},
		{"http://localhost:3000", "http://localhost:3000"},
		{"https://example.org", ""},                // the wildcard needs a subdomain
		{"http://a.example.org", ""},               // scheme must match
		{"https://a.example.org:8443", ""},         // port must match
		{"https://evil.com/.example.org", ""},      // not a host
		{"https://evil.com?.example.org", ""},      // not a host
		{"https://a..example.org", ""},             // empty label
		{"https://app.example.com.evil.com", ""},   // suffix trick
		{"https://evilapp.example.com", ""},        // exact origin is exact
		{"null", ""},                               // never allowed
		{"", ""},                                   // same-origin or non-browser
		{"https://APP.example.com", ""},            // browsers serialize lowercase
		{"https://x.example.org.evil.example", ""}, // suffix must end the origin
	} {
		before := *calls
		w := corsDo(h, "GET", tc.origin)
		if *calls != before+1 || w.Body.String() != "ok" {
			t.Errorf("%q: handler not called", tc.origin)
		}
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != tc.allow {
			t.Errorf("%q: Allow-Origin %q, want %q", tc.origin, got, tc.allow)
		}
		if got := w.Header().Get("Vary"); got != "Origin" {
			t.Errorf("%q: Vary %q", tc.origin, got)
		}
		wantExpose := ""
		if tc.allow != "" {
			wantExpose = "X-Request-Id, Location"
		}
		if got := w.Header().Get("Access-Control-Expose-Headers"); got != wantExpose {
			t.Errorf("%q: Expose-Headers %q", tc.origin, got)
		}
		if w.Header().Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("%q: credentials allowed without AllowCredentials", tc.origin)
		}
	}
}

func TestCORSAnyOrigin(t *testing.T) {
	h, _ := corsTestHandler(t, AllowedOrigins("*"))
	w := corsDo(h, "GET", "https://anything.example")
	if w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Header().Get("Vary") != "" {
		t.Errorf("any origin: %v", w.Header())
	}
	w = corsDo(h, "OPTIONS", "https://anything.example", "Access-Control-Request-Method", "POST")
	if w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("any origin preflight: %d %v", w.Code, w.Header())
	}
}

func TestCORSCredentials(t *testing.T) {
	h, _ := corsTestHandler(t, AllowedOrigins("https://app.example.com"), AllowCredentials(true))
	w := corsDo(h, "POST", "https://app.example.com")
	if w.Header().Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		w.Header().Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("credentials: %v", w.Header())
	}
	w = corsDo(h, "POST", "https://other.example")
	if w.Header().Get("Access-Control-Allow-Credentials") != "" || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("credentials for a foreign origin: %v", w.Header())
	}
	if _, err := CORS(AllowedOrigins("*"), AllowCredentials(true)); err == nil {
		t.Error("no error for credentials with *")
	}
}

func TestCORSPreflight(t *testing.T) {
	h, calls := corsTestHandler(t,
		AllowedOrigins("https://app.example.com"),
		AllowedMethods("GET", "POST", "delete"),
		MaxAge(10*time.Minute+500*time.Millisecond),
		AllowCredentials(true))
	w := corsDo(h, "OPTIONS", "https://app.example.com",
		"Access-Control-Request-Method", "DELETE",
		"Access-Control-Request-Headers", "content-type,authorization")
	if *calls != 0 {
		t.Error("preflight reached the handler")
	}
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Fatalf("preflight: %d %q", w.Code, w.Body.String())
	}
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin":      "https://app.example.com",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Methods":     "GET, POST, DELETE",
		"Access-Control-Allow-Headers":     "content-type,authorization",
		"Access-Control-Max-Age":           "600",
		"Vary":                             "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	// A plain OPTIONS request (no Access-Control-Request-Method) is the handler's.
	w = corsDo(h, "OPTIONS", "https://app.example.com")
	if *calls != 1 || w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("plain OPTIONS: calls %d, %d %v", *calls, w.Code, w.Header())
	}
	// Without Origin it is not a CORS preflight either.
	corsDo(h, "OPTIONS", "", "Access-Control-Request-Method", "DELETE")
	if *calls != 2 {
		t.Error("OPTIONS without Origin did not reach the handler")
	}
}

func TestCORSPreflightRejected(t *testing.T) {
	h, calls := corsTestHandler(t, AllowedOrigins("https://app.example.com"))
	for _, tc := range []struct {
		name, origin, method, headers, detail string
	}{
		{"origin", "https://evil.example", "GET", "", "CORS preflight rejected: origin not allowed"},
		{"method", "https://app.example.com", "DELETE", "", "CORS preflight rejected: method not allowed"},
		{"lowercase method", "https://app.example.com", "patch", "", "CORS preflight rejected: method not allowed"},
		{"header", "https://app.example.com", "POST", "content-type, x-secret", `CORS preflight rejected: header "x-secret" not allowed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := []string{"Access-Control-Request-Method", tc.method}
			if tc.headers != "" {
				hdr = append(hdr, "Access-Control-Request-Headers", tc.headers)
			}
			w := corsDo(h, "OPTIONS", tc.origin, hdr...)
			if w.Code != http.StatusForbidden || w.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%d %v", w.Code, w.Header())
			}
			for k := range w.Header() {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("rejected preflight carries %s", k)
				}
			}
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["detail"] != tc.detail {
				t.Errorf("body %v (%v)", body, err)
			}
		})
	}
	if *calls != 0 {
		t.Error("rejected preflight reached the handler")
	}
}

func TestCORSDefaultsAndWildcards(t *testing.T) {
	h, _ := corsTestHandler(t, AllowedOrigins("https://app.example.com"))
	// The default headers cover a JSON API with bearer tokens, case-insensitively.
	w := corsDo(h, "OPTIONS", "https://app.example.com", "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "Content-Type, AUTHORIZATION, x-request-id")
	if w.Code != 204 || w.Header().Get("Access-Control-Allow-Methods") != "GET, HEAD, POST" {
		t.Errorf("defaults: %d %v", w.Code, w.Header())
	}
	if w.Header().Get("Access-Control-Max-Age") != "" {
		t.Error("Max-Age sent by default")
	}

	h, _ = corsTestHandler(t, AllowedOrigins("https://app.example.com"), AllowedMethods("*"), AllowedHeaders("*"))
	w = corsDo(h, "OPTIONS", "https://app.example.com", "Access-Control-Request-Method", "PURGE",
		"Access-Control-Request-Headers", "x-anything", "Access-Control-Request-Headers", "x-more")
	if w.Code != 204 || w.Header().Get("Access-Control-Allow-Methods") != "PURGE" ||
		w.Header().Get("Access-Control-Allow-Headers") != "x-anything,x-more" {
		t.Errorf("wildcards: %d %v", w.Code, w.Header())
	}
}

func TestCORSVaryKept(t *testing.T) {
	mw, _ := CORS(AllowedOrigins("https://app.example.com"))
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")
	}))
	w := corsDo(h, "GET", "https://app.example.com")
	if got := w.Header().Values("Vary"); len(got) != 2 || got[0] != "Origin" || got[1] != "Accept-Encoding" {
		t.Errorf("Vary %q", got)
	}
}

func TestCORSConfigErrors(t *testing.T) {
	for name, opts := range map[string][]CORSOption{
		"no origins":          nil,
		"null":                {AllowedOrigins("null")},
		"path":                {AllowedOrigins("https://app.example.com/")},
		"no scheme":           {AllowedOrigins("app.example.com")},
		"inner wildcard":      {AllowedOrigins("https://app.*.example.com")},
		"bare wildcard label": {AllowedOrigins("https://*example.com")},
		"wildcard only":       {AllowedOrigins("https://*.")},
		"credentials and *":   {AllowedOrigins("*"), AllowCredentials(true)},
		"bad method":          {AllowedOrigins("https://a.example"), AllowedMethods("GET POST")},
		"bad header":          {AllowedOrigins("https://a.example"), AllowedHeaders("X-A, X-B")},
	} {
		if _, err := CORS(opts...); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Origins are normalized: case and default ports.
	h, _ := corsTestHandler(t, AllowedOrigins("HTTPS://App.Example.COM:443", "http://Local.test:80", "https://*.Example.ORG"))
	for _, o := range []string{"https://app.example.com", "http://local.test", "https://a.example.org"} {
		if w := corsDo(h, "GET", o); w.Header().Get("Access-Control-Allow-Origin") != o {
			t.Errorf("%s not allowed after normalization", o)
		}
	}
}

func BenchmarkCORS(b *testing.B) {
	mw, err := CORS(AllowedOrigins("https://app.example.com", "https://*.example.org"), MaxAge(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, bc := range []struct {
		name   string
		method string
		header []string
	}{
		{"no-origin", "GET", nil},
		{"allowed", "GET", []string{"Origin", "https://app.example.com"}},
		{"wildcard", "GET", []string{"Origin", "https://a.example.org"}},
		{"preflight", "OPTIONS", []string{"Origin", "https://app.example.com",
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest(bc.method, "/", nil)
			for i := 0; i < len(bc.header); i += 2 {
				r.Header.Set(bc.header[i], bc.header[i+1])
			}
			w := &compressBenchWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, r)
			}
		})
	}
}
