package middleware

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func crossOriginHandler(t *testing.T, opts ...CrossOriginOption) http.Handler {
	t.Helper()
	mw, err := CrossOriginProtection(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("done"))
	}))
}

func TestCrossOriginProtection(t *testing.T) {
	h := crossOriginHandler(t,
		TrustedOrigins("https://App.Example.com:443"), // normalized to https://app.example.com
		BypassPatterns("POST /webhooks/", "/callback"))
	for _, tc := range []struct {
		name, method, path string
		header             map[string]string
		want               int
	}{
		{"same-origin POST", "POST", "/orders", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "https://shop.example"}, 200},
		{"user-initiated POST", "POST", "/orders", map[string]string{"Sec-Fetch-Site": "none"}, 200},
		{"cross-site POST", "POST", "/orders", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403},
		{"same-site POST", "PUT", "/orders", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://sub.shop.example"}, 403},
		{"cross-site DELETE", "DELETE", "/orders/1", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"cross-site PATCH", "PATCH", "/orders/1", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"cross-site GET", "GET", "/orders", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 200},
		{"cross-site HEAD", "HEAD", "/orders", map[string]string{"Sec-Fetch-Site": "cross-site"}, 200},
		{"cross-site OPTIONS", "OPTIONS", "/orders", map[string]string{"Sec-Fetch-Site": "cross-site"}, 200},
		{"old browser, same host", "POST", "/orders", map[string]string{"Origin": "https://shop.example"}, 200},
		{"old browser, other host", "POST", "/orders", map[string]string{"Origin": "https://evil.example"}, 403},
		{"non-browser client", "POST", "/orders", nil, 200},
		{"trusted origin", "POST", "/orders", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example.com"}, 200},
		{"trusted origin, old browser", "POST", "/orders", map[string]string{"Origin": "https://app.example.com"}, 200},
		{"untrusted port", "POST", "/orders", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example.com:8443"}, 403},
		{"bypass", "POST", "/webhooks/stripe", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://stripe.example"}, 200},
		{"bypass other method", "PUT", "/webhooks/stripe", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"bypass exact path", "POST", "/callback", map[string]string{"Sec-Fetch-Site": "cross-site"}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "https://shop.example"+tc.path, strings.NewReader("x=1"))
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.want, w.Body.String())
			}
			if tc.want != 403 {
				return
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if body["status"] != 403.0 || body["detail"] != "cross-origin request rejected" {
				t.Errorf("problem body %v", body)
			}
		})
	}
}

func TestCrossOriginProtectionErrors(t *testing.T) {
	for name, opt := range map[string]CrossOriginOption{
		"origin without scheme":   TrustedOrigins("app.example.com"),
		"origin with path":        TrustedOrigins("https://app.example.com/"),
		"origin with query":       TrustedOrigins("https://app.example.com?x"),
		"null origin":             TrustedOrigins("null"),
		"wildcard origin":         TrustedOrigins("https://*.example.com"),
		"bad pattern":             BypassPatterns("POST /{bad"),
		"conflicting patterns":    BypassPatterns("POST /hooks/", "POST /hooks/"),
		"empty pattern":           BypassPatterns(""),
		"origin with credentials": TrustedOrigins("https://user:pw@app.example.com"),
	} {
		if _, err := CrossOriginProtection(opt); err == nil {
			t.Errorf("%s: no error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

func BenchmarkCrossOriginProtection(b *testing.B) {
	mw, err := CrossOriginProtection(TrustedOrigins("https://app.example.com"))
	if err != nil {
		b.Fatal(err)
	}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, bc := range []struct{ name, method, site string }{
		{"GET", "GET", ""},
		{"POST/same-origin", "POST", "same-origin"},
		{"POST/cross-site", "POST", "cross-site"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest(bc.method, "/", nil)
			if bc.site != "" {
				r.Header.Set("Sec-Fetch-Site", bc.site)
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
