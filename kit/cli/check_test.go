package cli_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stackkit/stackkit/kit/queue"
	natsq "github.com/stackkit/stackkit/kit/queue/nats"

	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/cli"
)

// line returns the report line of check name, failing the test when there is none.
func line(t *testing.T, out, name string) string {
	t.Helper()
	for l := range strings.SplitSeq(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return l
		}
	}
	t.Fatalf("no %q line in:\n%s", name, out)
	return ""
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestCheckEveryBackend: kitctl check against the real servers, each backend configured one way
// or another (flag or environment), then with migrations pending and applied.
func TestCheckEveryBackend(t *testing.T) {
	dir := t.TempDir()
	migrations := filepath.Join(dir, "migrations")
	writeFiles(t, migrations, map[string]string{
		"0001_a.up.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY);", "0001_a.down.sql": "DROP TABLE a;",
	})
	dbURL := "sqlite://" + filepath.ToSlash(filepath.Join(dir, "app.db"))
	t.Setenv("KIT_CACHE_URL", testenv.Get(t, "KIT_TEST_REDIS_URL")+"?prefix=kitctl-check")
	// A stream of the test's own, in memory, deleted after: opening the queue creates its streams.
	stream := "KITCTL_CHECK_" + strings.ToUpper(uniquePrefix()[7:])
	qURL := testenv.Get(t, "KIT_TEST_NATS_URL") + "?stream=" + stream + "&subjects=" + strings.ToLower(stream) + ".>&storage=memory"
	t.Setenv("KIT_QUEUE_URL", qURL)
	t.Cleanup(func() { deleteStreams(t, qURL, stream, stream+"_DEAD") })
	t.Setenv("KIT_MAIL_URL", "smtp://"+testenv.Get(t, "KIT_TEST_SMTP_ADDR")+"?starttls=off")
	args := []string{"check", "--database-url", dbURL, "--migrations", migrations,
		"--storage-url", "file://" + filepath.ToSlash(filepath.Join(dir, "media"))}

	r := kitctl(t, args)
	if r.code != cli.ExitPending {
		t.Fatalf("with a migration pending: exit %d, want %d\n%s%s", r.code, cli.ExitPending, r.stdout, r.stderr)
	}
	if l := line(t, r.stdout, "migrations"); !strings.Contains(l, "PENDING") || !strings.Contains(l, "0001_a") {
		t.Errorf("migrations line: %q, want PENDING naming 0001_a", l)
	}
	for _, name := range []string{"database", "cache", "queue", "storage", "mail"} {
		if l := line(t, r.stdout, name); !regexp.MustCompile(`\sok \(`).MatchString(l) {
			t.Errorf("%s: %q, want ok", name, l)
		}
	}

	if r := kitctl(t, []string{"migrate", "up", "--database-url", dbURL, "--migrations", migrations}); r.code != 0 {
		t.Fatalf("migrate up: %+v", r)
	}
	r = kitctl(t, args)
	if r.code != 0 || !strings.Contains(line(t, r.stdout, "migrations"), "ok") {
		t.Fatalf("after migrate up: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// S3 storage on the S3-compatible server: a bucket that exists answers; one that does not
	// fails its line; the secret key shows in neither.
	e := s3TestEnv(t)
	r = kitctl(t, []string{"check", "--storage-url", e.url(t, "")})
	if l := line(t, r.stdout, "storage"); r.code != 0 || !strings.Contains(l, " ok ") {
		t.Errorf("s3 storage: exit %d, %q", r.code, l)
	}
	missing := strings.Replace(e.url(t, ""), "s3://"+kitctlBucket+"/", "s3://kitctl-no-such-bucket/", 1)
	r = kitctl(t, []string{"check", "--storage-url", missing})
	if l := line(t, r.stdout, "storage"); r.code != cli.ExitFailure || !strings.Contains(l, "FAILED") {
		t.Errorf("s3 storage, no such bucket: exit %d, %q", r.code, l)
	}
	if strings.Contains(r.stdout+r.stderr, e.secret) {
		t.Errorf("output shows the S3 secret key:\n%s%s", r.stdout, r.stderr)
	}
}

// TestCheckFailures: unreachable servers and bad options fail their own line, with the reason,
// secrets hidden, within the timeout; unconfigured backends are skipped.
func TestCheckFailures(t *testing.T) {
	for _, env := range []string{"KIT_DATABASE_URL", "KIT_CACHE_URL", "KIT_QUEUE_URL", "KIT_STORAGE_URL", "KIT_MAIL_URL", "KIT_MIGRATIONS_DIR"} {
		t.Setenv(env, "")
	}
	down := closedPort(t)
	r := kitctl(t, []string{"check", "--timeout", "5s",
		"--database-url", "postgres://app:pgsecret1@" + down + "/app",
		"--cache-url", "redis://:redissecret2@" + down + "/0",
		"--mail-url", "smtp://u:mailsecret3@127.0.0.1:1025?starttls=sometimes",
	})
	if r.code != cli.ExitFailure {
		t.Fatalf("exit %d, want %d\n%s%s", r.code, cli.ExitFailure, r.stdout, r.stderr)
	}
	for _, secret := range []string{"pgsecret1", "redissecret2", "mailsecret3"} {
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("output shows the secret %q:\n%s%s", secret, r.stdout, r.stderr)
		}
	}
	if l := line(t, r.stdout, "database"); !strings.Contains(l, "FAILED") || !strings.Contains(l, "connect") {
		t.Errorf("database: %q, want FAILED with the connection error", l)
	}
	if l := line(t, r.stdout, "cache"); !strings.Contains(l, "FAILED") || !strings.Contains(l, "refused") {
		t.Errorf("cache: %q, want FAILED with the connection error", l)
	}
	if l := line(t, r.stdout, "mail"); !strings.Contains(l, "FAILED") || !strings.Contains(l, `"starttls"`) {
		t.Errorf("mail: %q, want FAILED naming the bad option", l)
	}
	for _, name := range []string{"queue", "storage"} {
		if l := line(t, r.stdout, name); !strings.Contains(l, "skipped") || !strings.Contains(l, "not configured") {
			t.Errorf("%s: %q, want skipped as not configured", name, l)
		}
	}
	if !strings.Contains(r.stderr, "3 check(s) failed") {
		t.Errorf("stderr %q, want the count of failed checks", r.stderr)
	}

	if r := kitctl(t, []string{"check", "--timeout", "0s"}); r.code != cli.ExitUsage {
		t.Errorf("--timeout 0s: exit %d, want %d", r.code, cli.ExitUsage)
	}
	if r := kitctl(t, []string{"check", "--migrations", t.TempDir()}); r.code != cli.ExitUsage {
		t.Errorf("--migrations without a database: exit %d, want %d", r.code, cli.ExitUsage)
	}
	// A misspelled deployment (nothing configured) must not pass.
	if r := kitctl(t, []string{"check"}); r.code != cli.ExitFailure || !strings.Contains(r.stderr, "nothing to check") {
		t.Errorf("nothing configured: exit %d, %q; want 1 saying nothing was checked", r.code, r.stderr)
	}
	// An explicit migrations directory that is not there fails; only a missing ./migrations is "none".
	dbURL := "sqlite://" + filepath.ToSlash(filepath.Join(t.TempDir(), "app.db"))
	r = kitctl(t, []string{"check", "--database-url", dbURL, "--migrations", filepath.Join(t.TempDir(), "nope")})
	if r.code != cli.ExitFailure || !strings.Contains(line(t, r.stdout, "migrations"), "FAILED") {
		t.Errorf("missing --migrations: exit %d\n%s", r.code, r.stdout)
	}
}

// TestCheckTimeout: a server that accepts the connection and never answers fails its check at
// --timeout, for clients that take a context and for NATS's, which does not.
func TestCheckTimeout(t *testing.T) {
	for _, env := range []string{"KIT_DATABASE_URL", "KIT_CACHE_URL", "KIT_QUEUE_URL", "KIT_STORAGE_URL", "KIT_MAIL_URL", "KIT_MIGRATIONS_DIR"} {
		t.Setenv(env, "")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0") // never accepted: the handshake completes, then silence
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	silent := l.Addr().String()
	start := time.Now()
	r := kitctl(t, []string{"check", "--timeout", "300ms",
		"--queue-url", "nats://" + silent, "--cache-url", "redis://" + silent + "/0",
		"--mail-url", "smtp://" + silent + "?starttls=off"})
	took := time.Since(start)
	if r.code != cli.ExitFailure {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, name := range []string{"queue", "cache", "mail"} {
		if l := line(t, r.stdout, name); !strings.Contains(l, "FAILED") {
			t.Errorf("%s: %q, want FAILED", name, l)
		}
	}
	// The three run at once, each bounded by 300ms; 3s leaves room for a loaded machine while
	// NATS's own 5s connect timeout would exceed it.
	if took > 3*time.Second {
		t.Errorf("check took %s with --timeout 300ms", took)
	}
}

// TestCheckAllDefaults: --all checks the local defaults of backends configured nowhere.
func TestCheckAllDefaults(t *testing.T) {
	for _, env := range []string{"KIT_DATABASE_URL", "KIT_CACHE_URL", "KIT_QUEUE_URL", "KIT_STORAGE_URL", "KIT_MAIL_URL", "KIT_MIGRATIONS_DIR"} {
		t.Setenv(env, "")
	}
	t.Chdir(t.TempDir()) // the defaults live under ./.kit
	r := kitctl(t, []string{"check", "--all"})
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for name, url := range map[string]string{"database": "sqlite://", "cache": "memory://", "queue": "nats+embedded://", "storage": "file://", "mail": "console://"} {
		if l := line(t, r.stdout, name); !strings.Contains(l, url) || !strings.Contains(l, " ok ") {
			t.Errorf("%s: %q, want ok on %s", name, l, url)
		}
	}
	if l := line(t, r.stdout, "migrations"); !strings.Contains(l, "skipped") {
		t.Errorf("migrations without ./migrations: %q, want skipped", l)
	}
}

// deleteStreams deletes the test's streams from the NATS server of qURL.
func deleteStreams(t *testing.T, qURL string, streams ...string) {
	ctx := context.Background()
	q, err := queue.Open(ctx, qURL)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer q.Close()
	js := q.Driver().(*natsq.Driver).JetStream()
	for _, s := range streams {
		if err := js.DeleteStream(ctx, s); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("delete stream %s: %v", s, err)
		}
	}
}
