package redis

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/registry"
)

func parse(t *testing.T, rawURL string) error {
	t.Helper()
	_, err := parseTest(t, rawURL)
	return err
}

func parseTest(t *testing.T, rawURL string) (*optionsView, error) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	uo, err := parseURL(u, registry.NewOptions(u.Query()))
	if err != nil {
		return nil, err
	}
	return &optionsView{uo.Addrs, uo.DB, uo.Username, uo.Password, uo.TLSConfig != nil, uo.MasterName,
		uo.SentinelPassword, uo.IsClusterMode, uo.PoolSize, uo.MinIdleConns, uo.MaxRetries, uo.DialTimeout,
		uo.ReadTimeout, uo.WriteTimeout, uo.PoolTimeout, uo.ClientName, uo.ContextTimeoutEnabled}, nil
}

type optionsView struct {
	addrs          []string
	db             int
	user, pass     string
	tls            bool
	master         string
	sentinelPass   string
	cluster        bool
	poolSize       int
	minIdle        int
	maxRetries     int
	dial, read     time.Duration
	write, poolTO  time.Duration
	clientName     string
	contextTimeout bool
}

func TestParseURL(t *testing.T) {
	o, err := parseTest(t, "redis://app:s3cret@cache.internal:6380/2?pool_size=20&min_idle_conns=2&max_retries=5"+
		"&dial_timeout=2s&read_timeout=500ms&write_timeout=750ms&pool_timeout=1s&client_name=orders")
	if err != nil {
		t.Fatal(err)
	}
	want := optionsView{addrs: []string{"cache.internal:6380"}, db: 2, user: "app", pass: "s3cret", poolSize: 20,
		minIdle: 2, maxRetries: 5, dial: 2 * time.Second, read: 500 * time.Millisecond, write: 750 * time.Millisecond,
		poolTO: time.Second, clientName: "orders", contextTimeout: true}
	if !equalView(*o, want) {
		t.Errorf("got %+v\nwant %+v", *o, want)
	}

	o, err = parseTest(t, "redis://")
	if err != nil || !slices.Equal(o.addrs, []string{"localhost:6379"}) || o.db != 0 || o.tls || o.maxRetries != 0 {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	if o, _ := parseTest(t, "redis://h?max_retries=0"); o.maxRetries != -1 {
		t.Errorf("max_retries=0 gave go-redis MaxRetries %d, want -1 (none)", o.maxRetries)
	}
	if o, _ := parseTest(t, "rediss://h:6390/1"); !o.tls || o.addrs[0] != "h:6390" {
		t.Errorf("rediss: %+v", o)
	}
	if o, _ := parseTest(t, "redis://[::1]:6379/0"); o.addrs[0] != "[::1]:6379" {
		t.Errorf("IPv6: %+v", o)
	}

	o, err = parseTest(t, "redis://:pw@s1:26379/3?master_name=mymaster&sentinel=s2:26379&sentinel=s3:26379&sentinel_password=spw")
	if err != nil || o.master != "mymaster" || !slices.Equal(o.addrs, []string{"s1:26379", "s2:26379", "s3:26379"}) ||
		o.db != 3 || o.pass != "pw" || o.sentinelPass != "spw" || o.cluster {
		t.Errorf("sentinel: %+v, %v", o, err)
	}
	o, err = parseTest(t, "redis://n1:7000?cluster=true&addr=n2:7001&addr=n3:7002")
	if err != nil || !o.cluster || !slices.Equal(o.addrs, []string{"n1:7000", "n2:7001", "n3:7002"}) {
		t.Errorf("cluster: %+v, %v", o, err)
	}
}

func equalView(a, b optionsView) bool {
	return slices.Equal(a.addrs, b.addrs) && a.db == b.db && a.user == b.user && a.pass == b.pass &&
		a.tls == b.tls && a.master == b.master && a.cluster == b.cluster && a.poolSize == b.poolSize &&
		a.minIdle == b.minIdle && a.maxRetries == b.maxRetries && a.dial == b.dial && a.read == b.read &&
		a.write == b.write && a.poolTO == b.poolTO && a.clientName == b.clientName && a.contextTimeout == b.contextTimeout
}

func TestParseURLErrors(t *testing.T) {
	for _, tc := range []struct {
		url, want string
	}{
		{"redis://h?pool_sise=3", `option "pool_sise": unknown option (valid options: addr, client_name, cluster, dial_timeout, master_name,`},
		{"redis://h?pool_size=0", `option "pool_size"="0": out of range`},
		{"redis://h?pool_size=1&pool_size=2", `option "pool_size": given 2 times`},
		{"redis://h?read_timeout=3", `option "read_timeout"="3": duration needs a unit`},
		{"redis://h?read_timeout=0", `option "read_timeout"="0": must be positive`},
		{"redis://h?pool_timeout=0s", `option "pool_timeout"="0s": must be positive`},
		{"redis://h?max_retries=-1", `option "max_retries"="-1": out of range`},
		{"redis://h?sentinel=s:26379", `option "sentinel": needs master_name`},
		{"redis://h?master_name=m&sentinel=nohost", `option "sentinel"="nohost": not a host:port address`},
		{"redis://h?addr=n2:7001", `option "addr": extra node addresses need cluster=true`},
		{"redis://h?cluster=true&master_name=m", `option "cluster": cannot be combined with master_name`},
		{"redis://h/3?cluster=true", `Redis Cluster has only database 0`},
		{"redis://h/x", `invalid database number`},
		{"redis://h?db=2", `option "db": unknown option`},
		{"redis://h?tls_ca_file=/etc/ca.pem", `option "tls_ca_file": needs the rediss:// scheme`},
		{"rediss://h?tls_ca_file=/nonexistent/ca.pem", `tls_ca_file: open /nonexistent/ca.pem`},
	} {
		err := parse(t, tc.url)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.url, err, tc.want)
		}
	}
	if err := parse(t, "redis://h?dial_timeout=3"); err == nil || strings.Count(err.Error(), "dial_timeout") != 1 {
		t.Errorf("a malformed timeout should give one error: %v", err)
	}
	// Option errors are ErrInvalidOption, and a secret option's value is not repeated.
	err := parse(t, "redis://h?master_name=m&sentinel_password=hunter2&pool_size=x")
	if !errors.Is(err, registry.ErrInvalidOption) {
		t.Errorf("%v is not ErrInvalidOption", err)
	}
	if err := parse(t, "redis://:hunter2@h/x?sentinel_password=hunter3&bogus=1"); err == nil ||
		strings.Contains(err.Error(), "hunter") {
		t.Errorf("error shows a secret: %v", err)
	}
}

func TestEscapeGlob(t *testing.T) {
	for in, want := range map[string]string{
		"app:1:":    "app:1:",
		"a*":        `a\*`,
		"q?":        `q\?`,
		"[ab]":      `\[ab\]`,
		`s\`:        `s\\`,
		`x*?[]\y`:   `x\*\?\[\]\\y`,
		"ünï:cödé:": "ünï:cödé:",
	} {
		if got := escapeGlob(in); got != want {
			t.Errorf("escapeGlob(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInvalidationEncoding(t *testing.T) {
	for _, tc := range []struct {
		origin string
		keys   []string
	}{
		{"abc", []string{"k"}},
		{"", nil},
		{"o", []string{"", "a\x00b", strings.Repeat("x", 200), "ünï"}},
	} {
		msg := encodeInvalidation(tc.origin, tc.keys)
		origin, keys, ok := decodeInvalidation(string(msg))
		if !ok || origin != tc.origin || !slices.Equal(keys, tc.keys) {
			t.Errorf("round trip of %q %q: %q %q %v", tc.origin, tc.keys, origin, keys, ok)
		}
	}
	if n := len(encodeInvalidation("0123456789abcdef", []string{"app:1:user:42"})); n != 1+1+16+1+13 {
		t.Errorf("one-key message is %d bytes", n)
	}
	good := string(encodeInvalidation("o", []string{"key"}))
	for _, bad := range []string{"", "hello", "\x02" + good[1:], good[:len(good)-1], good + "\x05ab", "\x01\xff"} {
		if _, _, ok := decodeInvalidation(bad); ok {
			t.Errorf("decoded malformed message %q", bad)
		}
	}
}

func TestRoundTTL(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{
		0:                       0,
		time.Nanosecond:         time.Millisecond,
		time.Millisecond:        time.Millisecond,
		1500 * time.Microsecond: 2 * time.Millisecond,
		time.Hour:               time.Hour,
		1<<63 - 1:               (1<<63 - 1) / time.Millisecond * time.Millisecond,
	} {
		if got := roundTTL(in); got != want {
			t.Errorf("roundTTL(%v) = %v, want %v", in, got, want)
		}
	}
}
