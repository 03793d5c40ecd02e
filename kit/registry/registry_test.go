package registry_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/kit/registry"
)

type conn struct{ url string }

func openConn(_ context.Context, u *url.URL, _ *registry.Options) (*conn, error) {
	return &conn{url: u.String()}, nil
}

func TestRegisterAndOpen(t *testing.T) {
	r := registry.New[*conn]("widget")
	r.Register("mem", openConn)
	r.Register("Redis", openConn)

	c, err := r.Open(context.Background(), "REDIS://localhost:6379/0")
	if err != nil {
		t.Fatal(err)
	}
	if c.url != "redis://localhost:6379/0" {
		t.Errorf("opener got %q", c.url)
	}
	if got := strings.Join(r.Schemes(), ","); got != "mem,redis" {
		t.Errorf("Schemes() = %q, want mem,redis", got)
	}
}

func TestRegisterPanics(t *testing.T) {
	for name, fn := range map[string]func(r *registry.Registry[*conn]){
		"duplicate":      func(r *registry.Registry[*conn]) { r.Register("mem", openConn); r.Register("MEM", openConn) },
		"nil opener":     func(r *registry.Registry[*conn]) { r.Register("x", nil) },
		"empty scheme":   func(r *registry.Registry[*conn]) { r.Register("", openConn) },
		"invalid scheme": func(r *registry.Registry[*conn]) { r.Register("re dis", openConn) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("Register did not panic")
				}
			}()
			fn(registry.New[*conn]("widget"))
		})
	}
}

func TestOpenErrors(t *testing.T) {
	r := registry.New[*conn]("widget")
	r.Register("mem", openConn)
	r.Register("redis", func(context.Context, *url.URL, *registry.Options) (*conn, error) {
		// A careless driver that quotes its DSN, password included.
		return nil, fmt.Errorf("dial redis://u:hunter2@db:1: %w", errSentinel)
	})

	_, err := r.Open(context.Background(), "redsi://u:hunter2@db:1/0?token=abc")
	if !errors.Is(err, registry.ErrUnknownScheme) {
		t.Fatalf("unknown scheme: err = %v", err)
	}
	for _, want := range []string{`"redsi"`, "registered schemes: mem, redis", "widget:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	for _, secret := range []string{"hunter2", "abc"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q leaks %q", err, secret)
		}
	}

	_, err = r.Open(context.Background(), "redis://u:hunter2@db:1")
	if !errors.Is(err, errSentinel) {
		t.Errorf("opener error not wrapped: %v", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("opener error leaks the password: %v", err)
	}

	for _, raw := range []string{"", "   ", "localhost", "://x", "redis://u:hunter2@[::1"} {
		_, err := r.Open(context.Background(), raw)
		if !errors.Is(err, registry.ErrInvalidURL) {
			t.Errorf("Open(%q): err = %v, want ErrInvalidURL", raw, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q): error leaks the password: %v", raw, err)
		}
	}

	empty := registry.New[*conn]("widget")
	if _, err := empty.Open(context.Background(), "mem://"); err == nil || !strings.Contains(err.Error(), "import a backend") {
		t.Errorf("empty registry: err = %v", err)
	}
}

var errSentinel = errors.New("connection refused")

type closer struct{ closed bool }

func (c *closer) Close() error { c.closed = true; return nil }

func TestOpenOptions(t *testing.T) {
	r := registry.New[*closer]("widget")
	var last *closer
	// A careful opener reads its options and checks them before I/O.
	r.Register("careful", func(_ context.Context, _ *url.URL, o *registry.Options) (*closer, error) {
		o.Int("pool", 1, 1, 10)
		if err := o.Err(); err != nil {
			return nil, err
		}
		last = &closer{}
		return last, nil
	})
	// A sloppy opener never calls Err; Open must still refuse unknown options and close what it got.
	r.Register("sloppy", func(context.Context, *url.URL, *registry.Options) (*closer, error) {
		last = &closer{}
		return last, nil
	})
	var prefix string
	portable := func(o *registry.Options) { prefix = o.String("prefix", "") }

	if _, err := r.Open(context.Background(), "careful://h?pool=3&prefix=app", portable); err != nil || prefix != "app" {
		t.Fatalf("valid options: err=%v prefix=%q", err, prefix)
	}
	_, err := r.Open(context.Background(), "careful://h?pol=3", portable)
	if !errors.Is(err, registry.ErrInvalidOption) || !strings.Contains(err.Error(), "valid options: pool, prefix") {
		t.Errorf("unknown option: err = %v", err)
	}
	last = nil
	_, err = r.Open(context.Background(), "sloppy://h?typo=1")
	if !errors.Is(err, registry.ErrInvalidOption) {
		t.Errorf("sloppy opener: err = %v", err)
	}
	if last == nil || !last.closed {
		t.Errorf("sloppy opener's value was not closed")
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://app:s3cret@db:5432/app?sslmode=require", "postgres://app:xxxxx@db:5432/app?sslmode=require"},
		{"redis://:pw@localhost:6379/0", "redis://:xxxxx@localhost:6379/0"},
		{"redis://user@localhost", "redis://user@localhost"},
		{"s3://bucket/p?region=eu&secret_key=abc&access_key=AK&X-Amz-Signature=ff", "s3://bucket/p?region=eu&secret_key=xxxxx&access_key=xxxxx&X-Amz-Signature=xxxxx"},
		{"nats://h?token=t0k&password=p&key=k&api_key=a&prefix=key", "nats://h?token=xxxxx&password=xxxxx&key=xxxxx&api_key=xxxxx&prefix=key"},
		{"smtp://u:p%40ss@mail:587?starttls=required", "smtp://u:xxxxx@mail:587?starttls=required"},
		{"sqlite://:memory:", "sqlite://:memory:"},
		{"mailto:secret@example.com", "mailto:xxxxx"},
		{"redis://u:pw@[::1", "redis://xxxxx"},
		{"%%%", "xxxxx"},
		// NATS reads a lone user name as a token; other schemes keep it (redis://user@ above).
		{"nats://token@nats:4222", "nats://xxxxx@nats:4222"},
		{"nats+embedded://s3cr%2Ft@/data", "nats+embedded://xxxxx@/data"},
		// Nothing to hide: shown as written.
		{"console://", "console://"},
		{"smtps://app:s3cret@smtp.example.com", "smtps://app:xxxxx@smtp.example.com"},
		{"s3://bucket?secret_key=s3cret", "s3://bucket?secret_key=xxxxx"},
	} {
		if got := registry.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestIsSecretParam(t *testing.T) {
	for name, want := range map[string]bool{
		"password": true, "sslpassword": true, "Token": true, "access_token": true, "secret": true,
		"client_secret": true, "key": true, "api_key": true, "apikey": true, "sslkey": false,
		"prefix": false, "region": false, "max_size": false, "keyspace": false, "timeout": false,
	} {
		if got := registry.IsSecretParam(name); got != want {
			t.Errorf("IsSecretParam(%q) = %v, want %v", name, got, want)
		}
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("user", "pw", "localhost:6379", "/0", "prefix", "app", "token")
	f.Add("", "p@ss:w/rd?#", "[::1]:1", "/a b", "x", "%zz", "password")
	f.Fuzz(func(t *testing.T, user, pass, host, path, param, value, secretParam string) {
		const marker = "SeCrEtMaRkEr"
		for _, s := range []string{user, host, path, param, value, secretParam} {
			if strings.Contains(strings.ToLower(s), strings.ToLower(marker)) {
				t.Skip()
			}
		}
		if !registry.IsSecretParam(secretParam) {
			secretParam = "token"
		}
		q := url.Values{}
		q.Set(param, value)
		q.Add(secretParam, marker+value)
		u := url.URL{Scheme: "redis", User: url.UserPassword(user, marker+pass), Host: host, Path: path, RawQuery: q.Encode()}
		raw := u.String()
		got := registry.Redact(raw)
		if strings.Contains(strings.ToLower(got), strings.ToLower(marker)) {
			t.Fatalf("Redact(%q) = %q leaks the secret", raw, got)
		}
		// Redaction is stable: redacting twice changes nothing more.
		if again := registry.Redact(got); again != got && !strings.HasSuffix(got, "xxxxx") {
			t.Fatalf("Redact not idempotent: %q -> %q", got, again)
		}
		if err := registry.Scrub(errors.New("dial "+raw), &u); strings.Contains(err.Error(), marker) {
			t.Fatalf("Scrub left the secret in %q", err)
		}
	})
}

func TestScrubNATSToken(t *testing.T) {
	u, err := url.Parse("nats://s3cr%2Ftok@127.0.0.1:4222")
	if err != nil {
		t.Fatal(err)
	}
	inner := errors.New(`nats: authorization violation for "s3cr/tok" (nats://s3cr%2Ftok@127.0.0.1:4222)`)
	got := registry.Scrub(inner, u)
	if msg := got.Error(); strings.Contains(msg, "s3cr") || !strings.Contains(msg, "xxxxx@127.0.0.1:4222") {
		t.Errorf("Scrub = %q: the token shows or the address is gone", msg)
	}
	if !errors.Is(got, inner) {
		t.Error("Scrub lost the wrapped error")
	}
	// A lone user name elsewhere is a name, and stays.
	pg, _ := url.Parse("postgres://app@db/app")
	if e := errors.New("connect app@db"); registry.Scrub(e, pg) != e {
		t.Error("Scrub changed an error for postgres://app@db")
	}
}
