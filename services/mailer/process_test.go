package mailer_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/mail"
	"github.com/stackkit/stackkit/kit/queue"
	natsq "github.com/stackkit/stackkit/kit/queue/nats"
)

// The reliability tests run the service as the operator does: the cmd/mailer binary, built once
// per test run (with the race detector when the tests have it), as a child process.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func mailerBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "mailer-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "mailer")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, "./cmd/mailer")...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/mailer: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// logLine is one JSON log record of the child.
type logLine map[string]any

func (l logLine) msg() string { s, _ := l["msg"].(string); return s }

// proc is a running mailer process.
type proc struct {
	t    testing.TB
	cmd  *exec.Cmd
	addr string // its HTTP address

	mu      sync.Mutex
	lines   []logLine
	raw     strings.Builder
	changed chan struct{}
	exited  chan struct{}
	state   *os.ProcessState
}

// startMailer runs the binary with env (on top of a minimal environment) and waits until it
// serves HTTP and consumes. HTTP listens on a free loopback port.
func startMailer(t testing.TB, env map[string]string) *proc {
	t.Helper()
	p := launch(t, env)
	p.waitLog("consuming", 30*time.Second, func(l logLine) bool { return l.msg() == "mailer: consuming" })
	return p
}

// launch starts the binary without waiting for it to be ready.
func launch(t testing.TB, env map[string]string) *proc {
	t.Helper()
	cmd := exec.Command(mailerBinary(t))
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + cmd.Dir, "KIT_HTTP_ADDR=127.0.0.1:0"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	p := &proc{t: t, cmd: cmd, changed: make(chan struct{}), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var l logLine
			_ = json.Unmarshal(sc.Bytes(), &l)
			p.mu.Lock()
			p.raw.WriteString(sc.Text() + "\n")
			if l != nil {
				p.lines = append(p.lines, l)
				if l.msg() == "http: serving" {
					p.addr, _ = l["addr"].(string)
				}
			}
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
		_ = cmd.Wait()
		p.mu.Lock()
		p.state = cmd.ProcessState
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("mailer log (pid %d):\n%s", cmd.Process.Pid, p.log())
		}
	})
	return p
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw.String()
}

// waitLog waits for a log line matching match.
func (p *proc) waitLog(what string, timeout time.Duration, match func(logLine) bool) logLine {
	p.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		p.mu.Lock()
		lines, ch, state := p.lines[seen:], p.changed, p.state
		seen = len(p.lines)
		p.mu.Unlock()
		for _, l := range lines {
			if match(l) {
				return l
			}
		}
		if state != nil {
			p.t.Fatalf("mailer exited (%v) before logging %s:\n%s", state, what, p.log())
		}
		select {
		case <-ch:
		case <-deadline.C:
			p.t.Fatalf("mailer did not log %s within %s:\n%s", what, timeout, p.log())
		}
	}
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// kill SIGKILLs the process and waits for it to be gone.
func (p *proc) kill() {
	p.t.Helper()
	p.signal(syscall.SIGKILL)
	<-p.exited
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.t.Fatalf("mailer still running %s later:\n%s", timeout, p.log())
	}
	return p.state.ExitCode()
}

func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// get fetches path from the process's HTTP server and returns the status and body.
func (p *proc) get(path string) (int, string, error) {
	resp, err := http.Get("http://" + p.addr + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitStatus polls path until it answers want, failing after timeout.
func (p *proc) waitStatus(path string, want int, timeout time.Duration) string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, body, err := p.get(path)
		if err == nil && code == want {
			return body
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("GET %s: want %d, got %d %q (%v) after %s", path, want, code, body, err, timeout)
		}
		time.Sleep(50 * time.Millisecond) // polling an HTTP endpoint: nothing to wait on
	}
}

// testQueue is a NATS JetStream work stream of the test's own on the shared server, named
// uniquely so tests running at once (and other modules' tests) never see each other's messages.
type testQueue struct {
	url     string // the queue URL the mailer and the test use
	subject string // the mail subject
	q       *queue.Queue
	js      jetstream.JetStream
	stream  string
}

func newTestQueue(t testing.TB) *testQueue {
	t.Helper()
	base := testenv.Get(t, "KIT_TEST_NATS_URL")
	var b [5]byte
	_, _ = rand.Read(b[:])
	id := strings.ToUpper(hex.EncodeToString(b[:]))
	tq := &testQueue{stream: "MAILERTEST_" + id, subject: "mailertest" + strings.ToLower(id) + ".mail"}
	tq.url = base + "?stream=" + tq.stream + "&subjects=" + strings.TrimSuffix(tq.subject, ".mail") + ".>&storage=memory"
	ctx := context.Background()
	q, err := queue.Open(ctx, tq.url)
	if err != nil {
		t.Fatal(err)
	}
	tq.q = q
	tq.js = q.Driver().(*natsq.Driver).JetStream()
	t.Cleanup(func() {
		for _, s := range []string{tq.stream, tq.stream + "_DEAD"} {
			if err := tq.js.DeleteStream(ctx, s); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				t.Errorf("delete stream %s: %v", s, err)
			}
		}
		_ = q.Close()
	})
	return tq
}

// env is the mailer's environment for this queue and an SMTP server.
func (tq *testQueue) env(s *smtpServer, extra map[string]string) map[string]string {
	env := map[string]string{
		"KIT_QUEUE_URL":    tq.url,
		"KIT_MAIL_URL":     s.URL("&max_conns=8"),
		"KIT_MAIL_SUBJECT": tq.subject,
		"KIT_LOG_LEVEL":    "info",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// publish queues n messages as an application does (a queued kit/mail Mailer), with stable
// Message-IDs, and returns them.
func (tq *testQueue) publish(t testing.TB, n int, to func(i int) string) []string {
	t.Helper()
	ctx := context.Background()
	m, err := mail.NewQueued(tq.q, tq.subject)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i := range n {
		rcpt := "user" + fmt.Sprint(i) + "@example.com"
		if to != nil {
			rcpt = to(i)
		}
		ids[i] = mail.StableMessageID(fmt.Sprintf("%s/%d", tq.stream, i), "test.example")
		err := m.Send(ctx, &mail.Message{
			From: "Shop <shop@example.com>", To: []string{rcpt},
			Subject: fmt.Sprintf("Message %d", i), Text: "Hello.\n",
			MessageID: ids[i],
		})
		if err != nil {
			t.Fatalf("enqueue message %d: %v", i, err)
		}
	}
	return ids
}

// streamState returns the work stream's stored messages and the consumer's unacknowledged ones.
func (tq *testQueue) streamState(t testing.TB, consumer string) (msgs uint64, ackPending int) {
	t.Helper()
	ctx := context.Background()
	s, err := tq.js.Stream(ctx, tq.stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Consumer(ctx, consumer)
	if err != nil {
		t.Fatal(err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs, ci.NumAckPending
}

// deadLetters lists the mailer consumer's dead letters.
func (tq *testQueue) deadLetters(t testing.TB) []*queue.DeadLetter {
	t.Helper()
	var out []*queue.DeadLetter
	for dl, err := range tq.q.DeadLetters(context.Background(), mail.DefaultConsumer) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, dl)
	}
	return out
}
