package middleware_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/kit/http/middleware"
)

func TestTrustedProxies(t *testing.T) {
	tests := []struct {
		name    string
		trusted []string // default: 10.0.0.0/8, 192.0.2.7, fd00::/8
		peer    string
		tls     bool
		headers map[string][]string
		ip      string
		secure  bool
	}{
		{name: "untrusted peer ignores headers", peer: "203.0.113.5:1234",
			headers: map[string][]string{"X-Forwarded-For": {"1.1.1.1"}, "X-Forwarded-Proto": {"https"}},
			ip:      "203.0.113.5"},
		{name: "untrusted peer ignores Forwarded", peer: "203.0.113.5:1234",
			headers: map[string][]string{"Forwarded": {"for=1.1.1.1;proto=https"}},
			ip:      "203.0.113.5"},
		{name: "untrusted peer over TLS", peer: "203.0.113.5:1234", tls: true,
			headers: map[string][]string{"X-Forwarded-Proto": {"http"}},
			ip:      "203.0.113.5", secure: true},
		{name: "trusted peer without headers", peer: "10.0.0.1:1234", ip: "10.0.0.1"},
		{name: "trusted peer", peer: "10.0.0.1:1234",
			headers: map[string][]string{"X-Forwarded-For": {"1.1.1.1"}, "X-Forwarded-Proto": {"https"}},
			ip:      "1.1.1.1", secure: true},
		{name: "single trusted address", peer: "192.0.2.7:80",
			headers: map[string][]string{"X-Forwarded-For": {"1.1.1.1"}},
			ip:      "1.1.1.1"},
		{name: "spoofed entries left of the client", peer: "10.0.0.1:1234",
			headers: map[string][]string{"X-Forwarded-For": {"6.6.6.6, 7.7.7.7, 1.1.1.1, 10.0.0.2"}},
			ip:      "1.1.1.1"},
		{name: "all entries trusted", peer: "10.0.0.1:1234",
			headers: map[string][]string{"X-Forwarded-For": {"10.0.0.3, 10.0.0.2"}},
			ip:      "10.0.0.3"},
		{name: "several header lines", peer: "10.0.0.1:1234",
			headers: map[string][]string{"X-Forwarded-For": {"6.6.6.6", "1.1.1.1,10.0.0.9"}},
			ip:      "1.1.1.1"},
		{name: "empty entries", peer: "10.0.0.1:1234",
			headers: map[string][]string{"X-Forwarded-For": {"1.1.1.1,, ", ""}},
			ip:      "1.1.1.1"},
		{name: "entry with port", peer: "10.0.0.1:1234",
			headers: map[string][]string{"X-Forwarded-For": {"1.1.1.1:5555"}},
			ip:      "1.1.1.1"},
		{name: "IPv6 entry", peer: "10.0.0.1:1234",
			headers: map[string][]string{"X-Forwarded-For": {"2001:db8::1, [fd00::5]:80"}},
			ip:      "2001:db8::1"},
		{name: "garbage entry stops at nearest trusted hop", peer: "10.0.0.1:1234",
			headers: map[string][]string{"X-Forwarded-For": {"1.1.1.1, nonsense, 10.0.0.2"}},
			ip:      "10.0.0.2"},
		{name: "garbage only", peer: "10.0.0.1:1234",
			headers: map[string][]string{"X-Forwarded-For": {"nonsense"}},
			ip:      "10.0.0.1"},
		{name: "IPv6 trusted peer", peer: "[fd00::2]:443",
			headers: map[string][]string{"X-Forwarded-For": {"1.1.1.1"}},
			ip:      "1.1.1.1"},
		{name: "IPv4-mapped trusted peer", peer: "[::ffff:10.0.0.1]:443",
			headers: map[string][]string{"X-Forwarded-For": {"1.1.1.1"}},
			ip:      "1.1.1.1"},
		{name: "proto aligned with the client entry", peer: "10.0.0.1:1234",
			headers: map[string][]string{"X-Forwarded-For": {"1.1.1.1, 10.0.0.2"}, "X-Forwarded-Proto": {"https, http"}},
			ip:      "1.1.1.1", secure: true},
		{name: "spoofed proto left of the client entry", peer: "10.0.0.1:1234",
			headers: map[string][]string{"X-Forwarded-For": {"1.1.1.1, 10.0.0.2"}, "X-Forwarded-Proto": {"https, http, http"}},
			ip:      "1.1.1.1"},
		{name: "single proto set by the edge", peer: "10.0.0.1:1234",
			headers: map[string][]string{"X-Forwarded-For": {"1.1.1.1, 10.0.0.2"}, "X-Forwarded-Proto": {"HTTPS"}},
			ip:      "1.1.1.1", secure: true},
		{name: "proto says http over TLS from the proxy", peer: "10.0.0.1:1234", tls: true,
			headers: map[string][]string{"X-Forwarded-For": {"1.1.1.1"}, "X-Forwarded-Proto": {"http"}},
			ip:      "1.1.1.1"},
		{name: "proto missing keeps TLS", peer: "10.0.0.1:1234", tls: true,
			headers: map[string][]string{"X-Forwarded-For": {"1.1.1.1"}},
			ip:      "1.1.1.1", secure: true},
		{name: "Forwarded wins over X-Forwarded-For", peer: "10.0.0.1:1234",
			headers: map[string][]string{
				"Forwarded":       {`for=1.1.1.1;proto=https, for="[fd00::1]:80";proto=http`},
				"X-Forwarded-For": {"2.2.2.2"},
			},
			ip: "1.1.1.1", secure: true},
		{name: "Forwarded IPv6 with port", peer: "10.0.0.1:1234",
			headers: map[string][]string{"Forwarded": {`For="[2001:db8:cafe::17]:4711"; Proto=https`}},
			ip:      "2001:db8:cafe::17", secure: true},
		{name: "Forwarded spoofed left of the client", peer: "10.0.0.1:1234",
			headers: map[string][]string{"Forwarded": {"for=6.6.6.6;proto=https", "for=1.1.1.1;proto=http"}},
			ip:      "1.1.1.1"},
		{name: "Forwarded unbalanced quote cannot hide the proxy's element", peer: "10.0.0.1:1234",
			headers: map[string][]string{"Forwarded": {`for="6.6.6.6, for=1.1.1.1`}},
			ip:      "1.1.1.1"},
		{name: "Forwarded unknown stops at nearest trusted hop", peer: "10.0.0.1:1234",
			headers: map[string][]string{"Forwarded": {"for=unknown;proto=https, for=10.0.0.5"}},
			ip:      "10.0.0.5", secure: true}, // the unknown element was written by trusted 10.0.0.5
		{name: "Forwarded obfuscated", peer: "10.0.0.1:1234",
			headers: map[string][]string{"Forwarded": {"for=_hidden;proto=https"}},
			ip:      "10.0.0.1", secure: true},
		{name: "Forwarded without proto falls back to X-Forwarded-Proto", peer: "10.0.0.1:1234",
			headers: map[string][]string{"Forwarded": {"for=1.1.1.1"}, "X-Forwarded-Proto": {"https"}},
			ip:      "1.1.1.1", secure: true},
		{name: "Unix socket peer trusted", trusted: []string{"unix"}, peer: "@",
			headers: map[string][]string{"X-Forwarded-For": {"1.1.1.1"}, "X-Forwarded-Proto": {"https"}},
			ip:      "1.1.1.1", secure: true},
		{name: "Unix socket peer not trusted", peer: "@",
			headers: map[string][]string{"X-Forwarded-For": {"1.1.1.1"}},
			ip:      "@"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trusted := tt.trusted
			if trusted == nil {
				trusted = []string{"10.0.0.0/8", "192.0.2.7", "fd00::/8"}
			}
			mw, err := middleware.TrustedProxies(trusted...)
			if err != nil {
				t.Fatal(err)
			}
			var ip string
			var secure bool
			h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ip, secure = middleware.ClientIP(r), middleware.IsSecure(r)
			}))
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.peer
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for k, v := range tt.headers {
				r.Header[k] = v
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if ip != tt.ip || secure != tt.secure {
				t.Errorf("client %q secure %v, want %q %v", ip, secure, tt.ip, tt.secure)
			}
		})
	}
}

func TestTrustedProxiesErrors(t *testing.T) {
	for _, entries := range [][]string{{}, {"10.0.0.0/33"}, {"10.0.0.1", "not-an-ip"}, {""}, {"10.0.0.0/8/8"}} {
		_, err := middleware.TrustedProxies(entries...)
		if err == nil {
			t.Errorf("%q: no error", entries)
			continue
		}
		if len(entries) > 0 && !strings.Contains(err.Error(), `"`+entries[len(entries)-1]+`"`) {
			t.Errorf("%q: error %q does not name the entry", entries, err)
		}
	}
	if _, err := middleware.TrustedProxies("10.0.0.1", "[::1]", "::ffff:10.0.0.0/104", "unix"); err != nil {
		t.Error(err)
	}
}

func TestClientIPWithoutProxies(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "[2001:db8::1]:443"
	r.Header.Set("X-Forwarded-For", "1.1.1.1")
	r.Header.Set("X-Forwarded-Proto", "https")
	if ip := middleware.ClientIP(r); ip != "2001:db8::1" || middleware.IsSecure(r) {
		t.Errorf("client %q secure %v", ip, middleware.IsSecure(r))
	}
	r.TLS = &tls.ConnectionState{}
	if !middleware.IsSecure(r) {
		t.Error("TLS request not secure")
	}
}

func BenchmarkTrustedProxies(b *testing.B) {
	mw, err := middleware.TrustedProxies("10.0.0.0/8", "fd00::/8")
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:5555"
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 1.1.1.1, 10.0.0.2")
	r.Header.Set("X-Forwarded-Proto", "https")
	benchServe(b, mw(helloHandler), r)
}
