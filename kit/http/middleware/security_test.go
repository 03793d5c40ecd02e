package middleware_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/http/middleware"
)

func TestSecurityHeaders(t *testing.T) {
	defaults := map[string]string{
		"X-Content-Type-Options":     "nosniff",
		"Referrer-Policy":            "same-origin",
		"Cross-Origin-Opener-Policy": "same-origin",
		"X-Frame-Options":            "DENY",
	}
	with := func(extra map[string]string) map[string]string {
		m := make(map[string]string)
		for k, v := range defaults {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		opts    []middleware.SecurityOption
		https   bool   // r.TLS set
		proxied string // X-Forwarded-Proto from peer 10.0.0.1, with 10.0.0.0/8 trusted
		preset  map[string]string
		handler func(h http.Header)
		want    map[string]string // "" means absent
	}{
		{name: "http", want: with(map[string]string{"Strict-Transport-Security": ""})},
		{name: "https", https: true, want: with(map[string]string{"Strict-Transport-Security": "max-age=31536000"})},
		{name: "https through a trusted proxy", proxied: "https",
			want: with(map[string]string{"Strict-Transport-Security": "max-age=31536000"})},
		{name: "http through a trusted proxy", proxied: "http",
			want: with(map[string]string{"Strict-Transport-Security": ""})},
		{
			name: "hsts options", https: true,
			opts: []middleware.SecurityOption{middleware.WithHSTS(2*365*24*time.Hour, true, true)},
			want: map[string]string{"Strict-Transport-Security": "max-age=63072000; includeSubDomains; preload"},
		},
		{
			name: "hsts off", https: true, opts: []middleware.SecurityOption{middleware.WithHSTS(0, true, true)},
			want: with(map[string]string{"Strict-Transport-Security": ""}),
		},
		{
			name: "changed and dropped",
			opts: []middleware.SecurityOption{
				middleware.WithFrameOptions("SAMEORIGIN"), middleware.WithReferrerPolicy(""),
				middleware.WithCrossOriginOpenerPolicy("same-origin-allow-popups"), middleware.WithNosniff(false),
			},
			want: map[string]string{
				"X-Frame-Options": "SAMEORIGIN", "Referrer-Policy": "", "X-Content-Type-Options": "",
				"Cross-Origin-Opener-Policy": "same-origin-allow-popups",
			},
		},
		{
			name:   "outer header kept",
			preset: map[string]string{"X-Frame-Options": "SAMEORIGIN"},
			want:   with(map[string]string{"X-Frame-Options": "SAMEORIGIN"}),
		},
		{
			name: "handler overrides",
			handler: func(h http.Header) {
				h.Set("X-Frame-Options", "SAMEORIGIN")
				h.Del("Referrer-Policy")
				h.Add("Cross-Origin-Opener-Policy", "unsafe-none")
			},
			want: with(map[string]string{"X-Frame-Options": "SAMEORIGIN", "Referrer-Policy": ""}),
		},
		{
			name: "static csp", opts: []middleware.SecurityOption{middleware.WithCSP("default-src 'self'")},
			want: with(map[string]string{"Content-Security-Policy": "default-src 'self'"}),
		},
	}
	proxies, err := middleware.TrustedProxies("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := middleware.SecurityHeaders(tt.opts...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.handler != nil {
					tt.handler(w.Header())
				}
			}))
			if tt.proxied != "" {
				h = proxies(h)
			}
			r := httptest.NewRequest("GET", "/", nil)
			if tt.https {
				r.TLS = &tls.ConnectionState{}
			}
			if tt.proxied != "" {
				r.RemoteAddr = "10.0.0.1:1234"
				r.Header.Set("X-Forwarded-Proto", tt.proxied)
			}
			w := httptest.NewRecorder()
			for k, v := range tt.preset {
				w.Header().Set(k, v)
			}
			h.ServeHTTP(w, r)
			for k, v := range tt.want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestSecurityHeadersNotInjectedFromUntrustedPeer(t *testing.T) {
	proxies, err := middleware.TrustedProxies("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	h := proxies(middleware.SecurityHeaders()(helloHandler))
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "203.0.113.9:1234"
	r.Header.Set("X-Forwarded-Proto", "https")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if v := w.Header().Get("Strict-Transport-Security"); v != "" {
		t.Errorf("HSTS %q from a spoofed X-Forwarded-Proto", v)
	}
}

func TestCSPNonce(t *testing.T) {
	const policy = "default-src 'self'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'"
	h := middleware.SecurityHeaders(middleware.WithCSP(policy),
		middleware.WithCSPReportOnly("script-src 'nonce-{nonce}' 'strict-dynamic'"))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(middleware.CSPNonce(r.Context())))
		}))
	nonceRE := regexp.MustCompile(`^[A-Za-z0-9+/]{22}==$`)
	seen := map[string]bool{}
	for range 50 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		nonce := w.Body.String()
		if !nonceRE.MatchString(nonce) {
			t.Fatalf("nonce %q", nonce)
		}
		if seen[nonce] {
			t.Fatalf("nonce %q repeated", nonce)
		}
		seen[nonce] = true
		want := strings.ReplaceAll(policy, "{nonce}", nonce)
		if got := w.Header().Get("Content-Security-Policy"); got != want {
			t.Fatalf("CSP %q, want %q", got, want)
		}
		if got := w.Header().Get("Content-Security-Policy-Report-Only"); got != "script-src 'nonce-"+nonce+"' 'strict-dynamic'" {
			t.Fatalf("CSP report-only %q", got)
		}
	}
	if n := middleware.CSPNonce(t.Context()); n != "" {
		t.Errorf("CSPNonce outside a request = %q", n)
	}
}

func TestHTTPSRedirect(t *testing.T) {
	tests := []struct {
		name     string
		opts     []middleware.RedirectOption
		method   string
		target   string
		host     string
		https    bool
		status   int
		location string
	}{
		{name: "get", method: "GET", target: "/a/b?x=1&y=%2F", host: "example.com", status: 308,
			location: "https://example.com/a/b?x=1&y=%2F"},
		{name: "post keeps method", method: "POST", target: "/form", host: "example.com", status: 308,
			location: "https://example.com/form"},
		{name: "port dropped", method: "GET", target: "/", host: "example.com:8080", status: 308,
			location: "https://example.com/"},
		{name: "escaped path", method: "GET", target: "/a%20b/c%2Fd", host: "example.com", status: 308,
			location: "https://example.com/a%20b/c%2Fd"},
		{name: "IPv6", method: "GET", target: "/", host: "[2001:db8::1]:80", status: 308,
			location: "https://[2001:db8::1]/"},
		{name: "fixed host", opts: []middleware.RedirectOption{middleware.RedirectHost("www.example.com:8443")},
			method: "GET", target: "/x", host: "evil.com", status: 308, location: "https://www.example.com:8443/x"},
		{name: "https passes", method: "GET", target: "/", host: "example.com", https: true, status: 200},
		{name: "exempt", opts: []middleware.RedirectOption{middleware.RedirectExemptPaths("/healthz")},
			method: "GET", target: "/healthz", host: "10.1.2.3:8080", status: 200},
		{name: "bad host", method: "GET", target: "/", host: "evil.com/x", status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := middleware.HTTPSRedirect(tt.opts...)(helloHandler)
			r := httptest.NewRequest(tt.method, tt.target, nil)
			r.Host = tt.host
			if tt.https {
				r.TLS = &tls.ConnectionState{}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status || w.Header().Get("Location") != tt.location {
				t.Errorf("%d %q, want %d %q", w.Code, w.Header().Get("Location"), tt.status, tt.location)
			}
		})
	}
}

func BenchmarkSecurityHeaders(b *testing.B) {
	b.Run("default", func(b *testing.B) {
		benchServe(b, middleware.SecurityHeaders()(helloHandler), httptest.NewRequest("GET", "/", nil))
	})
	b.Run("https", func(b *testing.B) {
		r := httptest.NewRequest("GET", "/", nil)
		r.TLS = &tls.ConnectionState{}
		benchServe(b, middleware.SecurityHeaders()(helloHandler), r)
	})
	b.Run("csp-nonce", func(b *testing.B) {
		h := middleware.SecurityHeaders(middleware.WithCSP("default-src 'self'; script-src 'nonce-{nonce}'"))(helloHandler)
		benchServe(b, h, httptest.NewRequest("GET", "/", nil))
	})
}

func BenchmarkHTTPSRedirect(b *testing.B) {
	b.Run("secure", func(b *testing.B) {
		r := httptest.NewRequest("GET", "/", nil)
		r.TLS = &tls.ConnectionState{}
		benchServe(b, middleware.HTTPSRedirect()(helloHandler), r)
	})
	b.Run("redirect", func(b *testing.B) {
		benchServe(b, middleware.HTTPSRedirect()(helloHandler), httptest.NewRequest("GET", "/a?b=c", nil))
	})
}

// TestSecurityHeadersSharedValues checks that a handler appending to a header value does not
// write into the value shared by every response.
func TestSecurityHeadersSharedValues(t *testing.T) {
	h := middleware.SecurityHeaders()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("X-Frame-Options", "SAMEORIGIN")
	}))
	for range 3 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if got := w.Header().Values("X-Frame-Options"); len(got) != 2 || got[0] != "DENY" {
			t.Fatalf("X-Frame-Options %q", got)
		}
	}
}
