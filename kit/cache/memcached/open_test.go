package memcached

import (
	"context"
	"errors"
	"math"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/registry"
)

func openURL(t *testing.T, raw string) (*Driver, error) {
	t.Helper()
	u, err := registry.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	d, err := open(context.Background(), u, registry.NewOptions(u.Query()))
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = d.Close() })
	return d.(*Driver), nil
}

func servers(d *Driver) []string {
	var out []string
	_ = d.servers.Each(func(a net.Addr) error { out = append(out, a.String()); return nil })
	return out
}

func TestOpenURL(t *testing.T) {
	for _, tc := range []struct {
		url     string
		servers []string
		flush   bool
		timeout time.Duration
	}{
		{"memcached://", []string{"127.0.0.1:11211"}, false, DefaultTimeout},
		{"memcached://127.0.0.1", []string{"127.0.0.1:11211"}, false, DefaultTimeout},
		{"memcached://127.0.0.1:11300/", []string{"127.0.0.1:11300"}, false, DefaultTimeout},
		{"memcached://127.0.0.1:1,127.0.0.2:2?timeout=2s", []string{"127.0.0.1:1", "127.0.0.2:2"}, false, 2 * time.Second},
		{"memcached://127.0.0.1,127.0.0.2", []string{"127.0.0.1:11211", "127.0.0.2:11211"}, false, DefaultTimeout},
		{"memcached://?server=[::1]:11211&server=::1&flush_on_clear=true", []string{"[::1]:11211", "[::1]:11211"}, true, DefaultTimeout},
		{"memcached://127.0.0.1:1?server=127.0.0.1:2&max_idle_conns=3", []string{"127.0.0.1:1", "127.0.0.1:2"}, false, DefaultTimeout},
		{"memcached:///tmp/memcached.sock", []string{"/tmp/memcached.sock"}, false, DefaultTimeout},
	} {
		t.Run(tc.url, func(t *testing.T) {
			d, err := openURL(t, tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if got := servers(d); !slices.Equal(got, tc.servers) && !(tc.url == "memcached://" && len(got) == 1 && strings.HasSuffix(got[0], ":11211")) {
				t.Errorf("servers %v, want %v", got, tc.servers)
			}
			if d.flushOnClear != tc.flush || d.client.Timeout != tc.timeout {
				t.Errorf("flush_on_clear=%v timeout=%s, want %v %s", d.flushOnClear, d.client.Timeout, tc.flush, tc.timeout)
			}
		})
	}
	d, _ := openURL(t, "memcached://127.0.0.1?max_idle_conns=3")
	if d.client.MaxIdleConns != 3 {
		t.Errorf("max_idle_conns %d, want 3", d.client.MaxIdleConns)
	}
}

func TestOpenURLErrors(t *testing.T) {
	for raw, want := range map[string]string{
		"memcached://127.0.0.1?timout=1s":        `"timout": unknown option`,
		"memcached://127.0.0.1?timeout=0":        `"timeout"="0": must be positive`,
		"memcached://127.0.0.1?timeout=5":        "needs a unit",
		"memcached://127.0.0.1?max_idle_conns=0": "out of range",
		"memcached://127.0.0.1?flush_on_clear=x": "not a boolean",
		"memcached://u:p@127.0.0.1":              "no authentication",
		"memcached://127.0.0.1/0":                "unexpected path",
		"memcached://127.0.0.1,,127.0.0.2":       "empty server address",
		"memcached://?server=a:b:c":              "not host:port",
	} {
		_, err := openURL(t, raw)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", raw, err, want)
		}
	}
	_, err := openURL(t, "memcached://127.0.0.1?bogus=1")
	if !errors.Is(err, registry.ErrInvalidOption) || !strings.Contains(err.Error(), "flush_on_clear, max_idle_conns, server, timeout") {
		t.Errorf("unknown option: %v, want ErrInvalidOption listing the valid options", err)
	}
}

func TestExpiration(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		ttl  time.Duration
		want int32
	}{
		{0, 0},
		{time.Nanosecond, 1},
		{time.Second, 1},
		{1500 * time.Millisecond, 2},
		{time.Minute, 60},
		{30 * 24 * time.Hour, maxRelative}, // still relative
		{30*24*time.Hour + time.Millisecond, int32(now.Unix()) + maxRelative + 1}, // absolute, rounded up
		{365 * 24 * time.Hour, int32(now.Unix() + 365*24*3600)},
		{100 * 365 * 24 * time.Hour, math.MaxInt32}, // beyond 2038: capped
	} {
		if got := expiration(tc.ttl, now); got != tc.want {
			t.Errorf("expiration(%s) = %d, want %d", tc.ttl, got, tc.want)
		}
	}
}

func TestNormalizeServer(t *testing.T) {
	for in, want := range map[string]string{
		"host":            "host:11211",
		"host:1":          "host:1",
		"[::1]:2":         "[::1]:2",
		"::1":             "[::1]:11211",
		"[fe80::1]":       "[fe80::1]:11211",
		"/run/mc.sock":    "/run/mc.sock",
		"10.0.0.1":        "10.0.0.1:11211",
		"10.0.0.1:11212":  "10.0.0.1:11212",
		"memcached.local": "memcached.local:11211",
	} {
		got, err := normalizeServer(in)
		if err != nil || got != want {
			t.Errorf("normalizeServer(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ":1", "host:", "a:b:c", "[::1"} {
		if got, err := normalizeServer(bad); err == nil {
			t.Errorf("normalizeServer(%q) = %q, want an error", bad, got)
		}
	}
}
