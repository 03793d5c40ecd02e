package nats_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/queue"
)

// TestEmbeddedPortInUse: an embedded server told to listen on a port in use fails Open at once
// with the listener's error (address and "address already in use"), not after the 30s wait for
// readiness with "not ready".
func TestEmbeddedPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	q, err := queue.Open(ctx, "nats+embedded://"+t.TempDir()+"?listen="+l.Addr().String(), quiet())
	took := time.Since(start)
	if err == nil {
		q.Close()
		t.Fatal("Open succeeded on a port in use")
	}
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Errorf("error %q: want the address and EADDRINUSE", err)
	}
	if took > 5*time.Second {
		t.Errorf("Open took %s to fail", took)
	}
	t.Logf("failed after %s: %v", took.Round(time.Millisecond), err)
}
