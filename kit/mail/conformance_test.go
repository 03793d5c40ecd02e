package mail_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/mail"
	"github.com/stackkit/stackkit/kit/mail/mailtest"
)

func openURL(t testing.TB, rawURL string, opts ...mail.Option) *mail.Mailer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := mail.Open(ctx, rawURL, opts...)
	if err != nil {
		t.Fatalf("Open(%q): %v", rawURL, err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func TestConformanceMemory(t *testing.T) {
	mailtest.Run(t, func(t *testing.T) (*mail.Mailer, mailtest.Inbox) {
		m := openURL(t, "memory://")
		return m, mailtest.MemoryInbox(m.Driver().(*mail.Memory))
	})
}

func TestConformanceFile(t *testing.T) {
	mailtest.Run(t, func(t *testing.T) (*mail.Mailer, mailtest.Inbox) {
		dir := t.TempDir()
		return openURL(t, "file://"+dir), mailtest.DirInbox(dir)
	})
}

// The in-process server: STARTTLS with a self-signed certificate trusted through tls_ca, and
// AUTH, so the suite runs over the full production path.
func TestConformanceSMTP(t *testing.T) {
	s := newTestServer(t, startTLSServer, func(s *testServer) { s.Users = map[string]string{"app": "s3cret"} })
	mailtest.Run(t, func(t *testing.T) (*mail.Mailer, mailtest.Inbox) {
		return openURL(t, "smtp://app:s3cret@"+s.Addr+"?tls_ca="+url.QueryEscape(s.CAFile)), s.Inbox()
	})
	if sessions, _, _ := s.Stats(); sessions == 0 {
		t.Fatal("the server saw no session")
	}
}

func TestConformanceSMTPS(t *testing.T) {
	s := newTestServer(t, implicitTLS, nil)
	mailtest.Run(t, func(t *testing.T) (*mail.Mailer, mailtest.Inbox) {
		return openURL(t, "smtps://"+s.Addr+"?tls_ca="+url.QueryEscape(s.CAFile)), s.Inbox()
	})
}

// Mailpit: a real SMTP server, read back through its API.
func TestConformanceMailpit(t *testing.T) {
	addr := testenv.Get(t, "KIT_TEST_SMTP_ADDR")
	api := testenv.Get(t, "KIT_TEST_MAILPIT_API")
	mailtest.Run(t, func(t *testing.T) (*mail.Mailer, mailtest.Inbox) {
		return openURL(t, "smtp://"+addr+"?starttls=off"), mailtest.MailpitInbox(api)
	})
}
