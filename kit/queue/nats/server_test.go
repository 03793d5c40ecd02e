package nats_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stackkit/stackkit/internal/testenv"
)

// natsServer is a nats-server process a test starts on a port of its own, to stop, restart or
// configure (auth, TLS) without touching the shared server.
type natsServer struct {
	t    *testing.T
	bin  string
	port int
	args []string
	cmd  *exec.Cmd
}

// startServer starts nats-server (KIT_TEST_NATS_SERVER_BIN) with JetStream in a temporary
// directory, on a free loopback port, with extra args.
func startServer(t *testing.T, args ...string) *natsServer {
	t.Helper()
	bin := testenv.Get(t, "KIT_TEST_NATS_SERVER_BIN")
	s := &natsServer{t: t, bin: bin, port: freePort(t), args: append([]string{"-js", "-sd", t.TempDir()}, args...)}
	s.start()
	t.Cleanup(s.kill)
	return s
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *natsServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// start starts the server and waits until it accepts connections.
func (s *natsServer) start() {
	s.t.Helper()
	args := append([]string{"-a", "127.0.0.1", "-p", fmt.Sprint(s.port)}, s.args...)
	s.cmd = exec.Command(s.bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = os.Stderr, os.Stderr
	if testing.Verbose() == false {
		s.cmd.Stdout, s.cmd.Stderr = nil, nil
	}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", s.bin, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("nats-server on %s not up: %v", s.addr(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill stops the server abruptly (SIGKILL) and waits for it to exit.
func (s *natsServer) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}
