package mail_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stackkit/stackkit/kit/mail"
	"github.com/stackkit/stackkit/kit/queue"
)

// outageProxy is a TCP proxy in front of a test server that can take it down: while down it
// closes every connection as soon as it is accepted, and going down drops the open ones, as a
// mail server that crashed. It counts the connections it refused.
type outageProxy struct {
	addr    string
	target  string
	down    atomic.Bool
	refused atomic.Int32

	mu    sync.Mutex
	conns []net.Conn
}

func newOutageProxy(t *testing.T, target string) *outageProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &outageProxy{addr: ln.Addr().String(), target: target}
	t.Cleanup(func() { _ = ln.Close(); p.setDown(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if p.down.Load() {
				p.refused.Add(1)
				_ = c.Close()
				continue
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
			go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
		}
	}()
	return p
}

func (p *outageProxy) setDown(down bool) {
	p.down.Store(down)
	if !down {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// pauseOptions: MaxDeliveries(2), so an outage that spent deliveries would dead-letter at once.
func pauseOptions() []queue.ConsumeOption {
	return []queue.ConsumeOption{queue.Concurrency(2), queue.MaxDeliveries(2), queue.Backoff(10 * time.Millisecond),
		queue.AckWait(2 * time.Second), queue.ProbeBackoff(20*time.Millisecond, 50*time.Millisecond)}
}

func queueN(t *testing.T, q *queue.Queue, n int) {
	t.Helper()
	queued, _ := mail.NewQueued(q, "")
	for i := range n {
		m := testMsg(fmt.Sprintf("pause-%d-%d@test", time.Now().UnixNano(), i))
		if err := queued.Send(ctx10(t), m); err != nil {
			t.Fatal(err)
		}
	}
}

// While the mail server is down the Worker pauses: Paused names the connection failure, it
// sends nothing and dead-letters nothing however many probes fail, and it sends everything
// once the server is back.
func TestWorkerPausesWhileServerDown(t *testing.T) {
	const n = 20
	s := newTestServer(t, plainServer, nil)
	p := newOutageProxy(t, s.Addr)
	p.setDown(true)
	q := openQueue(t)
	queueN(t, q, n)
	w := &mail.Worker{Queue: q, Mailer: openURL(t, "smtp://"+p.addr+"?starttls=off"), Options: pauseOptions()}
	runWorker(t, w)

	waitFor(t, func() bool { return w.Paused() != nil })
	if err := w.Paused(); !errors.Is(err, queue.ErrUnavailable) || !errors.Is(err, mail.ErrConnection) {
		t.Errorf("Paused() = %v, want the connection failure as queue.ErrUnavailable", err)
	}
	// Many probes (each a refused connection) while the outage lasts.
	waitFor(t, func() bool { return p.refused.Load() >= 15 })
	if dl := deadLetters(t, q, mail.DefaultConsumer); len(dl) != 0 {
		t.Fatalf("%d dead letters during the outage, want none; first: %s", len(dl), dl[0].Reason)
	}

	p.setDown(false)
	got := s.WaitReceived(t, n)
	if len(got) != n {
		t.Errorf("received %d messages, want %d", len(got), n)
	}
	waitFor(t, func() bool { return w.Paused() == nil })
	if dl := deadLetters(t, q, mail.DefaultConsumer); len(dl) != 0 {
		t.Errorf("%d dead letters, want none; first: %s", len(dl), dl[0].Reason)
	}
}

// A server that answers probes (NOOP) but replies 421 to every transaction keeps the Worker
// paused: it tries one message per probe, spends none of their deliveries, and sends all once
// the server takes mail again.
func TestWorker421Pauses(t *testing.T) {
	const n = 20
	var closing atomic.Bool
	var mails atomic.Int32
	closing.Store(true)
	s := newTestServer(t, plainServer, func(s *testServer) {
		s.OnMail = func(string) error {
			if closing.Load() {
				mails.Add(1)
				return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Service not available"}
			}
			return nil
		}
	})
	q := openQueue(t)
	queueN(t, q, n)
	w := &mail.Worker{Queue: q, Mailer: openURL(t, "smtp://"+s.Addr+"?starttls=off"), Options: pauseOptions()}
	runWorker(t, w)

	waitFor(t, func() bool { return mails.Load() >= 3*n/2 })
	var se *mail.SMTPError
	if err := w.Paused(); !errors.As(err, &se) || se.Code != 421 {
		t.Errorf("Paused() = %v, want the 421 reply", err)
	}
	if dl := deadLetters(t, q, mail.DefaultConsumer); len(dl) != 0 {
		t.Fatalf("%d dead letters after %d 421 replies, want none; first: %s", len(dl), mails.Load(), dl[0].Reason)
	}
	closing.Store(false)
	s.WaitReceived(t, n)
	waitFor(t, func() bool { return w.Paused() == nil })
	if dl := deadLetters(t, q, mail.DefaultConsumer); len(dl) != 0 {
		t.Errorf("%d dead letters, want none; first: %s", len(dl), dl[0].Reason)
	}
}

// A relay whose TLS certificate fails verification (here self-signed, not trusted by the client;
// in production, expired or replaced) fails every message alike: the worker pauses instead of
// dead-lettering the backlog, and says why.
func TestWorkerPausesOnUntrustedCertificate(t *testing.T) {
	const n = 6
	s := newTestServer(t, implicitTLS, nil)
	q := openQueue(t)
	queueN(t, q, n)
	w := &mail.Worker{Queue: q, Mailer: openURL(t, "smtps://"+s.Addr), Options: pauseOptions()}
	runWorker(t, w)

	waitFor(t, func() bool { return w.Paused() != nil })
	if err := w.Paused(); !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Paused() = %v, want the certificate failure", err)
	}
	if dl := deadLetters(t, q, mail.DefaultConsumer); len(dl) != 0 {
		t.Fatalf("%d dead letters for a certificate failure, want none; first: %s", len(dl), dl[0].Reason)
	}
}
