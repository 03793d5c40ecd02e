package redis_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/cache"
	"github.com/stackkit/stackkit/kit/cache/redis"
)

// sharedURL is the shared test Redis. Tests on it never FLUSHDB: each works under a namespace
// of its own and clears it when done, so runs and other modules' suites can overlap.
func sharedURL(t testing.TB) string {
	t.Helper()
	return testenv.Get(t, "KIT_TEST_REDIS_URL")
}

// withQuery returns rawURL with the query parameters kv (name, value, name, value...) added.
func withQuery(t testing.TB, rawURL string, kv ...string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("parse test URL: %v", err)
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Add(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// openCache opens a portable cache and closes it when the test ends.
func openCache(t testing.TB, rawURL string, opts ...cache.Option) *cache.Cache {
	t.Helper()
	c, err := cache.Open(context.Background(), rawURL, opts...)
	if err != nil {
		t.Fatalf("cache.Open: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// openDriver opens rawURL through the registered opener and returns the Redis driver behind it.
func openDriver(t testing.TB, rawURL string) *redis.Driver {
	t.Helper()
	d, ok := openCache(t, rawURL).Driver().(*redis.Driver)
	if !ok {
		t.Fatalf("driver is not *redis.Driver")
	}
	return d
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// namespace returns a key prefix no other test uses, and removes its keys when the test ends.
func namespace(t testing.TB, d *redis.Driver) string {
	t.Helper()
	ns := "kittest:redis:" + randomHex(8) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Clear(ctx, ns); err != nil && !errors.Is(err, cache.ErrClosed) {
			t.Logf("cleanup of %s: %v", ns, err)
		}
	})
	return ns
}

// callCounter is a go-redis hook counting what reaches the network: single commands and
// pipelines (one round trip each).
type callCounter struct {
	mu        sync.Mutex
	commands  []string
	pipelines [][]string
}

func (c *callCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (c *callCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		c.mu.Lock()
		c.commands = append(c.commands, cmd.Name())
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *callCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		names := make([]string, len(cmds))
		for i, cmd := range cmds {
			names[i] = cmd.Name()
		}
		c.mu.Lock()
		c.pipelines = append(c.pipelines, names)
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (c *callCounter) reset() {
	c.mu.Lock()
	c.commands, c.pipelines = nil, nil
	c.mu.Unlock()
}

// calls returns what was sent since the last reset, and how many round trips that was.
func (c *callCounter) calls() (commands []string, pipelines [][]string, roundTrips int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.commands, c.pipelines, len(c.commands) + len(c.pipelines)
}

// server is a redis-server of this test's own, which it may stop without disturbing anyone.
type server struct {
	Addr string
	Port int
	Bin  string
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
	once sync.Once
}

// freePort returns a loopback TCP port nobody listened on a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

// startServer starts a private redis-server (KIT_TEST_REDIS_SERVER_BIN) on a free loopback
// port, without persistence, waits until it answers, and stops it when the test ends.
func startServer(t testing.TB, extra ...string) *server {
	t.Helper()
	bin := testenv.Get(t, "KIT_TEST_REDIS_SERVER_BIN")
	return startServerOn(t, bin, freePort(t), extra...)
}

func startServerOn(t testing.TB, bin string, port int, extra ...string) *server {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log")}, extra...)
	return startProcess(t, bin, port, nil, args...)
}

// startSentinel starts a private Sentinel watching the primary at primary under the name master.
func startSentinel(t testing.TB, primary *server, master string) *server {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "sentinel.conf") // Sentinel rewrites its configuration file
	text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\nsentinel monitor %s 127.0.0.1 %d 1\n",
		port, dir, filepath.Join(dir, "sentinel.log"), master, primary.Port)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return startProcess(t, primary.Bin, port, nil, conf, "--sentinel")
}

// startProcess runs bin with args and waits until it answers PING on port (over TLS with
// tlsConfig, when not nil).
func startProcess(t testing.TB, bin string, port int, tlsConfig *tls.Config, args ...string) *server {
	t.Helper()
	s := &server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Port: port, Bin: bin, out: new(bytes.Buffer), done: make(chan struct{})}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(s.Stop)

	c := goredis.NewClient(&goredis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second, TLSConfig: tlsConfig})
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return s
		}
		select {
		case <-s.done:
			t.Fatalf("redis-server on %s exited: %s", s.Addr, s.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s not answering after 15s: %v", s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

// Stop kills this server (only this one) and waits for it to exit.
func (s *server) Stop() {
	s.once.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
	})
}

// Restart starts a new server on the stopped one's port.
func (s *server) Restart(t testing.TB) *server {
	t.Helper()
	return startServerOn(t, s.Bin, s.Port)
}

// URL returns the server's redis:// URL with the query parameters kv.
func (s *server) URL(t testing.TB, kv ...string) string {
	return withQuery(t, "redis://"+s.Addr+"/0", kv...)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
