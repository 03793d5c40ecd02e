package mailer_test

import (
	"bytes"
	"io"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// smtpServer is a real SMTP server (emersion/go-smtp) in the test process, on a port of its own,
// that counts the Message-IDs it accepts, so a test can tell lost mail from duplicates exactly.
// It can be stopped and started again on the same port (an outage), refuse recipients with a
// 550, and hold DATA (sends in flight) until released.
type smtpServer struct {
	t    testing.TB
	addr string

	mu       sync.Mutex
	srv      *smtp.Server
	stopped  chan struct{} // closed by stop: held DATA commands fail
	received map[string]int
	total    int
	rejected map[string]bool // recipients refused with 550 5.1.1
	holdFrom int             // DATA commands after this many accepted messages wait for release; -1: none
	release  chan struct{}
	holding  int // DATA commands waiting now
	changed  chan struct{}
}

func newSMTPServer(t testing.TB) *smtpServer {
	t.Helper()
	s := &smtpServer{t: t, received: map[string]int{}, rejected: map[string]bool{}, holdFrom: -1,
		release: make(chan struct{}), changed: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.stop)
	return s
}

// URL is the mailer's KIT_MAIL_URL for this server.
func (s *smtpServer) URL(opts string) string {
	return "smtp://" + s.addr + "?starttls=off&local_name=mailer.test" + opts
}

func (s *smtpServer) serve(ln net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &smtpSession{s: s, c: c}, nil }))
	srv.Domain = "smtp.test"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	srv.MaxMessageBytes = 1 << 20
	srv.ErrorLog = nopLogger{}
	s.mu.Lock()
	s.srv, s.stopped = srv, make(chan struct{})
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// stop closes the listener and every connection: the server is down.
func (s *smtpServer) stop() {
	s.mu.Lock()
	srv := s.srv
	if srv != nil {
		close(s.stopped)
		s.srv = nil
	}
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// start brings a stopped server back on the same port.
func (s *smtpServer) start() {
	s.t.Helper()
	var ln net.Listener
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for {
		if ln, err = net.Listen("tcp", s.addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the port is still being released by the kernel
	}
	if err != nil {
		s.t.Fatalf("restart SMTP server on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

func (s *smtpServer) reject(rcpt string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejected[strings.ToLower(rcpt)] = on
}

// holdAfter makes DATA wait, once n messages have been accepted, until releaseAll.
func (s *smtpServer) holdAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holdFrom = n
	s.release = make(chan struct{})
}

func (s *smtpServer) releaseAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holdFrom = -1
	close(s.release)
}

// counts returns the distinct Message-IDs accepted, all messages accepted, and DATA commands held.
func (s *smtpServer) counts() (distinct, total, holding int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.received), s.total, s.holding
}

// ids returns how often each Message-ID was accepted.
func (s *smtpServer) ids() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.received))
	for k, v := range s.received {
		out[k] = v
	}
	return out
}

// waitFor waits until cond holds over (distinct, total, holding), failing the test after timeout.
func (s *smtpServer) waitFor(what string, timeout time.Duration, cond func(distinct, total, holding int) bool) {
	s.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		d, n, h, ch := len(s.received), s.total, s.holding, s.changed
		s.mu.Unlock()
		if cond(d, n, h) {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			s.t.Fatalf("SMTP server: waited %s for %s; have %d distinct Message-IDs, %d messages, %d held", timeout, what, d, n, h)
		}
	}
}

// notify wakes waiters; s.mu is held.
func (s *smtpServer) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

type smtpSession struct {
	s *smtpServer
	c *smtp.Conn
}

func (x *smtpSession) Mail(string, *smtp.MailOptions) error { return nil }

func (x *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if x.s.rejected[strings.ToLower(to)] {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	}
	return nil
}

func (x *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Unparsable message"}
	}
	id := msg.Header.Get("Message-Id")
	s := x.s
	s.mu.Lock()
	if s.holdFrom >= 0 && s.total >= s.holdFrom {
		release, stopped := s.release, s.stopped
		s.holding++
		s.notify()
		s.mu.Unlock()
		select {
		case <-release:
		case <-stopped:
		}
		s.mu.Lock()
		s.holding--
		if isClosed(stopped) {
			s.notify()
			s.mu.Unlock()
			// A server going down drops the connection: the client sees no reply at all.
			_ = x.c.Conn().Close()
			return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Shutting down"}
		}
	}
	s.received[id]++
	s.total++
	s.notify()
	s.mu.Unlock()
	return nil
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (x *smtpSession) Reset()        {}
func (x *smtpSession) Logout() error { return nil }

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}
