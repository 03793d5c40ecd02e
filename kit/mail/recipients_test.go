package mail_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/stackkit/stackkit/kit/mail"
	"github.com/stackkit/stackkit/kit/mail/mailtest"
	"github.com/stackkit/stackkit/kit/queue"
)

// refusingServer refuses RCPT for stale*@ (550) and greylist*@ (450), and counts the RCPTs
// for stale ones.
func refusingServer(t *testing.T) (*testServer, *atomic.Int32) {
	var stale atomic.Int32
	s := newTestServer(t, plainServer, func(s *testServer) {
		s.OnRcpt = func(to string) error {
			switch {
			case strings.HasPrefix(to, "stale"):
				stale.Add(1)
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
			case strings.HasPrefix(to, "greylist"):
				return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "Greylisted"}
			}
			return nil
		}
	})
	return s, &stale
}

// One stale Bcc must not keep the mail from everyone else: the accepted recipients get it, and
// the error lists the refused one without being temporary (a retry would duplicate) or
// permanent (the message went).
func TestRefusedRecipientsPartialDelivery(t *testing.T) {
	s, _ := refusingServer(t)
	m := openURL(t, "smtp://"+s.Addr+"?starttls=off")
	ctx := ctx10(t)

	msg := testMsg("")
	msg.To = []string{"a@example.com", "b@example.com"}
	msg.Bcc = []string{"stale@example.com"}
	err := m.Send(ctx, msg)
	var re *mail.RecipientsError
	if !errors.Is(err, mail.ErrRecipientsRefused) || !errors.As(err, &re) {
		t.Fatalf("Send = %v, want a *RecipientsError (ErrRecipientsRefused)", err)
	}
	if len(re.Refused) != 1 || re.Refused[0].Recipient != "stale@example.com" || re.Refused[0].Reply() != "550 5.1.1 No such user" ||
		re.Accepted != 2 || !sameAddrs(re.Recipients(), "stale@example.com") {
		t.Errorf("RecipientsError = %+v (refused %v), want stale@ refused with 550 5.1.1, 2 accepted", re, re.Recipients())
	}
	if mail.IsTemporary(err) || mail.IsPermanent(err) {
		t.Errorf("a partial delivery is neither temporary nor permanent: IsTemporary=%v IsPermanent=%v", mail.IsTemporary(err), mail.IsPermanent(err))
	}
	if !strings.Contains(err.Error(), "stale@example.com") || !strings.Contains(err.Error(), "550 5.1.1 No such user") {
		t.Errorf("error %q does not name the refused recipient and its reply", err)
	}
	got := s.Received()
	if len(got) != 1 || !sameAddrs(got[0].Recipients, "a@example.com", "b@example.com") {
		t.Fatalf("received %+v, want one message to a@ and b@", got)
	}

	// Every recipient refused for good: permanent, nothing delivered, as before.
	msg.To, msg.Bcc = []string{"stale1@example.com"}, []string{"stale2@example.com"}
	err = m.Send(ctx, msg)
	var se *mail.SMTPError
	if !errors.As(err, &se) || se.Code != 550 || !mail.IsPermanent(err) || mail.IsTemporary(err) || errors.Is(err, mail.ErrRecipientsRefused) {
		t.Fatalf("all refused: %v, want a permanent 550 SMTPError", err)
	}
	if !strings.Contains(err.Error(), "stale1@example.com") || !strings.Contains(err.Error(), "stale2@example.com") {
		t.Errorf("all refused: %q does not name both recipients", err)
	}

	// A temporary refusal holds the whole message (nothing delivered, temporary), so a retry
	// reaches everyone, the greylisted recipient included, without duplicating.
	msg.To, msg.Bcc = []string{"a@example.com", "stale@example.com"}, []string{"greylist@example.com"}
	err = m.Send(ctx, msg)
	if !errors.As(err, &se) || se.Code != 450 || se.Recipient != "greylist@example.com" || !mail.IsTemporary(err) || errors.Is(err, mail.ErrRecipientsRefused) {
		t.Fatalf("one greylisted: %v, want a temporary 450 naming greylist@", err)
	}
	if got := s.Received(); len(got) != 1 {
		t.Fatalf("received %d messages, want still 1: refused transactions deliver nothing", len(got))
	}
	if sessions, _, _ := s.Stats(); sessions != 1 {
		t.Errorf("%d sessions, want 1: refusals must not cost the connection", sessions)
	}
}

// lockedBuffer is a bytes.Buffer for a slog handler written from the worker's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The Worker acknowledges a partial delivery (redelivering would duplicate the mail to the
// accepted recipients) and logs the refused ones at warn level.
func TestWorkerAcksPartialDelivery(t *testing.T) {
	s, stale := refusingServer(t)
	q := openQueue(t)
	queued, _ := mail.NewQueued(q, "")
	smtpMailer := openURL(t, "smtp://"+s.Addr+"?starttls=off")
	var logs lockedBuffer
	w := &mail.Worker{Queue: q, Mailer: smtpMailer, Options: fastRetries(),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}

	// Handle itself returns nil (ack) for a partial delivery.
	msg := testMsg(mailtest.UniqueID())
	msg.Bcc = []string{"stale@example.com"}
	env, err := smtpMailer.Render(msg)
	if err != nil {
		t.Fatal(err)
	}
	h := queue.Header{}
	h.Set(mail.HeaderQueueFormat, "rfc5322")
	h.Set(mail.HeaderQueueFrom, env.From)
	for _, to := range env.To {
		h.Add(mail.HeaderQueueTo, to)
	}
	if err := w.Handle(ctx10(t), &queue.Message{ID: env.MessageID, Subject: mail.DefaultSubject, Header: h, Data: env.Data, Delivery: 1}); err != nil {
		t.Fatalf("Handle = %v, want nil (ack) for a partial delivery", err)
	}

	// End to end on memory://: delivered once to the accepted recipient, no retry, no dead letter.
	id := mailtest.UniqueID()
	msg = testMsg(id)
	msg.Bcc = []string{"stale@example.com"}
	if err := queued.Send(ctx10(t), msg); err != nil {
		t.Fatal(err)
	}
	runWorker(t, w)
	waitFor(t, func() bool { return strings.Contains(logs.String(), id) })
	if err := queued.Send(ctx10(t), testMsg("")); err != nil { // a later message flows
		t.Fatal(err)
	}
	got := s.WaitReceived(t, 3)
	if got[1].MessageID() != id || !sameAddrs(got[1].Recipients, "user@example.com") || len(got) != 3 {
		t.Fatalf("received %d messages, the queued one <%s> to %v; want it once, to user@", len(got), got[1].MessageID(), got[1].Recipients)
	}
	if n := stale.Load(); n != 2 {
		t.Errorf("stale@ was tried %d times, want once per message (2): a partial delivery is not retried", n)
	}
	if dl := deadLetters(t, q, mail.DefaultConsumer); len(dl) != 0 {
		t.Errorf("%d dead letters, want none", len(dl))
	}
	out := logs.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "550 5.1.1 No such user") || strings.Contains(out, "redelivered") {
		t.Errorf("worker log:\n%s\nwant a warning naming the refused recipient and its reply, and no redelivery", out)
	}
}
