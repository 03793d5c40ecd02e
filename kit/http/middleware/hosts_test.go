package middleware_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/kit/http/middleware"
)

func TestAllowedHosts(t *testing.T) {
	tests := []struct {
		allowed []string
		host    string
		ok      bool
	}{
		{[]string{"example.com"}, "example.com", true},
		{[]string{"example.com"}, "EXAMPLE.Com", true},
		{[]string{"example.com"}, "example.com:8080", true},
		{[]string{"example.com"}, "example.com:", true},
		{[]string{"example.com"}, "example.com.", true},
		{[]string{"example.com"}, "example.com.:443", true},
		{[]string{"Example.COM."}, "example.com", true},
		{[]string{"example.com"}, "www.example.com", false},
		{[]string{"example.com"}, "example.com.evil.com", false},
		{[]string{"example.com"}, "evilexample.com", false},
		{[]string{"example.com"}, "example.co", false},
		{[]string{".example.com"}, "example.com", true},
		{[]string{".example.com"}, "api.example.com", true},
		{[]string{".example.com"}, "a.b.EXAMPLE.com:443", true},
		{[]string{".example.com"}, "badexample.com", false},
		{[]string{".example.com"}, "example.com.evil.com", false},
		{[]string{"*"}, "anything.test:1", true},
		{[]string{"*"}, "", false},
		{[]string{"*"}, "bad host", false},
		{[]string{"192.0.2.1"}, "192.0.2.1:80", true},
		{[]string{"192.0.2.1"}, "192.0.2.10", false},
		{[]string{"[::1]"}, "[::1]:8000", true},
		{[]string{"::1"}, "[::1]", true},
		{[]string{"[2001:DB8::1]"}, "[2001:db8::1]", true},
		{[]string{"[::1]"}, "[::2]", false},
		{[]string{"[::1]"}, "::1", false},
		{[]string{"[::1]"}, "[::1", false},
		{[]string{"example.com"}, "", false},
		{[]string{"example.com"}, "example.com:80x", false},
		{[]string{"example.com"}, "example.com:80:80", false},
		{[]string{"example.com"}, "example.com@evil.com", false},
		{[]string{"example.com"}, "evil.com#example.com", false},
		{[]string{"example.com"}, "example.com/evil", false},
		{[]string{"example.com"}, "exa_mple.com", false},
		{[]string{"example.com"}, "ex\u00e4mple.com", false},
		{[]string{"example.com", ".example.org"}, "www.example.org", true},
	}
	for _, tt := range tests {
		mw, err := middleware.AllowedHosts(tt.allowed)
		if err != nil {
			t.Fatalf("%q: %v", tt.allowed, err)
		}
		called := false
		h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true }))
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = tt.host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if called != tt.ok || tt.ok != (w.Code == 200) {
			t.Errorf("%q with Host %q: allowed %v (status %d), want %v", tt.allowed, tt.host, called, w.Code, tt.ok)
		}
		if !tt.ok {
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["detail"] != "host not allowed" ||
				w.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("Host %q: response %s", tt.host, w.Body)
			}
			if tt.host != "" && strings.Contains(w.Body.String(), tt.host) {
				t.Errorf("Host %q echoed in %s", tt.host, w.Body)
			}
		}
	}
}

func TestAllowedHostsExemptPaths(t *testing.T) {
	mw, err := middleware.AllowedHosts([]string{"example.com"}, middleware.ExemptPaths("/healthz", "/readyz"))
	if err != nil {
		t.Fatal(err)
	}
	h := mw(helloHandler)
	for _, tt := range []struct {
		path string
		code int
	}{{"/healthz", 200}, {"/readyz", 200}, {"/healthz/", 400}, {"/", 400}} {
		r := httptest.NewRequest("GET", tt.path, nil)
		r.Host = "10.1.2.3:8080" // kubelet probes the pod IP
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.code {
			t.Errorf("%s: %d, want %d", tt.path, w.Code, tt.code)
		}
	}
}

func TestAllowedHostsErrors(t *testing.T) {
	for _, hosts := range [][]string{
		nil, {}, {""}, {"exa mple.com"}, {"example.com:80"}, {"."}, {"http://example.com"},
		{"example.com", "*.example.com"}, {".[::1]"}, {"[::1]:80"},
	} {
		_, err := middleware.AllowedHosts(hosts)
		if err == nil {
			t.Errorf("%q: no error", hosts)
			continue
		}
		if len(hosts) > 0 && !strings.Contains(err.Error(), `"`+hosts[len(hosts)-1]+`"`) {
			t.Errorf("%q: error %q does not name the entry", hosts, err)
		}
	}
}

// TestAllowedHostsForgedOverTheWire sends a raw request with a forged Host to a real server.
func TestAllowedHostsForgedOverTheWire(t *testing.T) {
	mw, err := middleware.AllowedHosts([]string{"example.com"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mw(helloHandler))
	defer srv.Close()
	for host, want := range map[string]int{"evil.com": 400, "example.com:80": 200} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		_ = conn.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q: %d, want %d", host, resp.StatusCode, want)
		}
	}
}

func BenchmarkAllowedHosts(b *testing.B) {
	mw, err := middleware.AllowedHosts([]string{"example.com", ".example.org", "localhost"})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Host = "api.example.org:8443"
	benchServe(b, mw(helloHandler), r)
}
