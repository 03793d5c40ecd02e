package dbtest

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/kit/db"
	"github.com/stackkit/stackkit/kit/registry"
)

func testOpen(t *testing.T, adminURL string) {
	ctx := context.Background()
	dbURL := NewDatabase(t, adminURL)

	t.Run("PingAndPool", func(t *testing.T) {
		d := Open(t, withQuery(dbURL, "max_open_conns=3&max_idle_conns=2&conn_max_lifetime=1h&ping_timeout=5s"))
		if got := d.Stats().MaxOpenConnections; got != 3 {
			t.Errorf("max_open_conns: pool allows %d connections, want 3", got)
		}
		var one int
		if err := d.NewSelect().ColumnExpr("1").Scan(ctx, &one); err != nil || one != 1 {
			t.Fatalf("SELECT 1 = %d, %v", one, err)
		}
	})

	t.Run("UnknownOption", func(t *testing.T) {
		_, err := db.Open(ctx, withQuery(dbURL, "max_open_con=3"))
		if !errors.Is(err, registry.ErrInvalidOption) {
			t.Fatalf("err = %v, want ErrInvalidOption", err)
		}
		if !strings.Contains(err.Error(), `"max_open_con"`) || !strings.Contains(err.Error(), "max_open_conns") {
			t.Errorf("error does not name the option and list valid ones: %v", err)
		}
	})

	t.Run("BadOptionValue", func(t *testing.T) {
		_, err := db.Open(ctx, withQuery(dbURL, "conn_max_lifetime=30"))
		if !errors.Is(err, registry.ErrInvalidOption) || !strings.Contains(err.Error(), "conn_max_lifetime") {
			t.Fatalf("err = %v, want an error naming conn_max_lifetime", err)
		}
	})

	t.Run("UnreachableRedacted", func(t *testing.T) {
		u, _ := url.Parse(dbURL)
		if u.Scheme == "sqlite" {
			// A file that cannot be created stands in for an unreachable server.
			_, err := db.Open(ctx, "sqlite:///proc/kit-cannot-create/x.db?ping_timeout=2s")
			if err == nil || !strings.Contains(err.Error(), "/proc/kit-cannot-create/x.db") || !strings.Contains(err.Error(), "create directory") {
				t.Fatalf("open of an uncreatable file: %v, want an error naming the path and the cause", err)
			}
			return
		}
		u.User = url.UserPassword("kit", "hunter2")
		u.Host = "127.0.0.1:1"
		q := u.Query()
		q.Set("ping_timeout", "3s")
		u.RawQuery = q.Encode()
		_, err := db.Open(ctx, u.String())
		if err == nil {
			t.Fatal("open of an unreachable server succeeded")
		}
		assertRedacted(t, err, "hunter2")
		if !strings.Contains(err.Error(), "127.0.0.1:1") || !strings.Contains(err.Error(), "ping") {
			t.Errorf("error does not say what failed where: %v", err)
		}
	})
}

func assertRedacted(t *testing.T, err error, secret string) {
	t.Helper()
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error leaks the secret: %v", err)
	}
	if !strings.Contains(err.Error(), "xxxxx") {
		t.Errorf("error does not show the redacted URL: %v", err)
	}
}

func withQuery(rawURL, query string) string {
	if strings.Contains(rawURL, "?") {
		return rawURL + "&" + query
	}
	return rawURL + "?" + query
}

func testCheck(t *testing.T, adminURL string) {
	d := Open(t, NewDatabase(t, adminURL))
	check := db.Check(d)
	if err := check(context.Background()); err != nil {
		t.Fatalf("Check on an open database: %v", err)
	}
	_ = d.Close()
	if err := check(context.Background()); err == nil {
		t.Error("Check on a closed database succeeded")
	}
}
