package i18nsync_test

import (
	"bufio"
	"context"
	"encoding/json"
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

	"github.com/stackkit/stackkit/kit/i18n/transifex/txsync"
	"github.com/stackkit/stackkit/kit/queue"
)

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

// binary builds cmd/i18nsync once per run (with the race detector when the tests have it).
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "i18nsync-bin-"); buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "i18nsync")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		if out, err := exec.Command("go", append(args, "./cmd/i18nsync")...).CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/i18nsync: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is the service running as a child process, its JSON log lines collected.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []map[string]any
	raw    strings.Builder
	exited chan struct{}
}

func start(t *testing.T, env map[string]string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t))
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + cmd.Dir, "KIT_HTTP_ADDR=127.0.0.1:0", "OTEL_SDK_DISABLED=true"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	p := &proc{t: t, cmd: cmd, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var l map[string]any
			_ = json.Unmarshal(sc.Bytes(), &l)
			p.mu.Lock()
			p.raw.WriteString(sc.Text() + "\n")
			if l != nil {
				p.lines = append(p.lines, l)
			}
			p.mu.Unlock()
		}
		_ = cmd.Wait()
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
			t.Logf("i18nsync log:\n%s", p.log())
		}
	})
	return p
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw.String()
}

// find returns the first log line with msg, or nil.
func (p *proc) find(msg string) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines {
		if l["msg"] == msg {
			return l
		}
	}
	return nil
}

func (p *proc) waitLog(msg string, timeout time.Duration) map[string]any {
	p.t.Helper()
	var l map[string]any
	eventually(p.t, "log line "+msg, timeout, func() bool { l = p.find(msg); return l != nil })
	return l
}

func (p *proc) get(path string) int {
	addr, _ := p.waitLog("http: serving", 10*time.Second)["addr"].(string)
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSIGTERMDrainsTheSyncInProgress runs the binary, starts a sync whose download is slow, and
// sends SIGTERM in the middle of it: readiness turns 503, the sync finishes and stores its
// version, the request is acknowledged (not delivered again), and the process exits 0.
func TestSIGTERMDrainsTheSyncInProgress(t *testing.T) {
	sp := newSpace(t)
	tx := newTransifex(t)
	// The download job answers "processing" three times: a pull of a few seconds, real time.
	tx.SlowJob(web, "de", 3)
	dir := t.TempDir()
	p := start(t, map[string]string{
		"KIT_QUEUE_URL": sp.url, "KIT_STORAGE_URL": "file://" + dir, "KIT_TX_CONFIG": writeTxConfig(t),
		"KIT_TX_REST_HOSTNAME": tx.URL(), "KIT_TRANSIFEX_TOKEN": tx.Token,
		"KIT_I18N_SUBJECT": sp.subject("sync"), "KIT_I18N_EVENT_SUBJECT": sp.subject("updated"),
		"KIT_I18N_DRAIN_TIMEOUT": "60s",
	})
	p.waitLog("i18nsync: consuming", 60*time.Second)
	if code := p.get("/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz %d before the drain", code)
	}
	q, err := queue.Open(context.Background(), sp.url, queue.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	m, _ := txsync.Request{Reason: "drain test"}.Message(sp.subject("sync"), 0)
	if err := q.Publish(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	p.waitLog("i18n sync started", 30*time.Second)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitLog("i18nsync: draining: taking no more requests, finishing the sync in progress", 10*time.Second)
	if p.find("i18n version stored") == nil {
		if code := p.get("/readyz"); code != http.StatusServiceUnavailable {
			t.Errorf("/readyz %d while draining, want 503", code)
		}
	}
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		t.Fatal("the process did not exit after SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	stored := p.find("i18n version stored")
	if stored == nil || p.find("i18nsync: drained") == nil || p.find("i18n sync done") == nil {
		t.Fatal("the sync in progress did not finish before the exit")
	}
	cur, err := os.ReadFile(filepath.Join(dir, "i18n", "current"))
	if err != nil || strings.TrimSpace(string(cur)) != stored["version"] {
		t.Fatalf("i18n/current = %q, %v; want %v", cur, err, stored["version"])
	}
	if pending, ackPending := sp.consumerState(t, txsync.DefaultConsumer); pending != 0 || ackPending != 0 {
		t.Fatalf("request not acknowledged: %d pending, %d awaiting ack", pending, ackPending)
	}
}
