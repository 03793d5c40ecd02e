package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain makes the test binary kitctl itself when KITCTL_MAIN=1, so the tests below run the
// real main.
func TestMain(m *testing.M) {
	if os.Getenv("KITCTL_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// TestRedisMessagesGoToSlog: against a Redis that refuses connections, go-redis's own pool
// messages do not reach stderr; kitctl's report of the failure does, once.
func TestRedisMessagesGoToSlog(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	cmd := exec.Command(os.Args[0], "check", "--cache-url", "redis://"+closed+"/0")
	cmd.Env = append(os.Environ(), "KITCTL_MAIN=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "FAILED") || !strings.Contains(stdout.String(), "refused") {
		t.Errorf("stdout does not report the refused connection:\n%s", stdout.String())
	}
	if strings.Contains(stderr.String(), "pool.go") || strings.Contains(stderr.String(), "failed to dial") {
		t.Errorf("go-redis's own messages reached stderr:\n%s", stderr.String())
	}
}
