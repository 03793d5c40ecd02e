package mail_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stackkit/stackkit/kit/mail"
	"github.com/stackkit/stackkit/kit/mail/mailtest"
	"github.com/stackkit/stackkit/kit/queue"
)

func openQueue(t testing.TB) *queue.Queue {
	t.Helper()
	q, err := queue.Open(context.Background(), "memory://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

// runWorker runs w until the test ends, and waits until it is consuming.
func runWorker(t testing.TB, w *mail.Worker) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Worker.Run = %v after cancel, want nil", err)
		}
	})
	select {
	case <-w.Ready():
	case err := <-done:
		t.Fatalf("Worker.Run returned before it was ready: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the worker did not become ready")
	}
}

func fastRetries() []queue.ConsumeOption {
	return []queue.ConsumeOption{queue.Backoff(10 * time.Millisecond), queue.MaxDeliveries(4), queue.AckWait(2 * time.Second),
		queue.ProbeBackoff(10*time.Millisecond, 50*time.Millisecond)}
}

func deadLetters(t testing.TB, q *queue.Queue, consumer string) []*queue.DeadLetter {
	t.Helper()
	var out []*queue.DeadLetter
	for dl, err := range q.DeadLetters(context.Background(), consumer) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, dl)
	}
	return out
}

func TestQueuedSending(t *testing.T) {
	q := openQueue(t)
	s := newTestServer(t, plainServer, nil)
	queued, err := mail.NewQueued(q, "", mail.WithDefaultFrom("Shop <shop@example.com>"))
	if err != nil {
		t.Fatal(err)
	}
	if !queued.Queued() || queued.Backend() != "queue" {
		t.Fatalf("NewQueued: Queued()=%v Backend()=%q", queued.Queued(), queued.Backend())
	}
	id := mailtest.UniqueID()
	msg := &mail.Message{To: []string{"a@example.com"}, Bcc: []string{"secret@example.com"}, Subject: "queued", Text: "hi", MessageID: id}
	if err := queued.Send(ctx10(t), msg); err != nil {
		t.Fatal(err)
	}
	// Published again within the de-duplication window (a retried enqueue): stored once.
	if err := queued.Send(ctx10(t), msg); err != nil {
		t.Fatal(err)
	}

	w := &mail.Worker{Queue: q, Mailer: openURL(t, "smtp://"+s.Addr+"?starttls=off"), Options: fastRetries()}
	if err := w.Ping(ctx10(t)); err != nil {
		t.Fatalf("Worker.Ping: %v", err)
	}
	runWorker(t, w)
	got := s.WaitReceived(t, 1)
	r := got[0]
	if r.MessageID() != id || r.From != "shop@example.com" || !sameAddrs(r.Recipients, "a@example.com", "secret@example.com") {
		t.Fatalf("received <%s> from %q to %v; want <%s> from shop@example.com to a@ and the Bcc secret@", r.MessageID(), r.From, r.Recipients, id)
	}
	if strings.Contains(string(r.Data), "secret@example.com") {
		t.Error("the Bcc recipient is in the sent message")
	}
	// A later, different message still flows, and the duplicate never did.
	if err := queued.Send(ctx10(t), testMsg("")); err != nil {
		t.Fatal(err)
	}
	if got := s.WaitReceived(t, 2); len(got) != 2 || got[1].MessageID() == id {
		t.Fatalf("received %d messages; the duplicate enqueue must not be sent", len(got))
	}
}

func sameAddrs(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !strings.EqualFold(got[i], want[i]) {
			return false
		}
	}
	return true
}

// 4xx replies and dropped connections are retried on the consumer's backoff until the message
// goes through.
func TestWorkerRetriesTemporaryFailures(t *testing.T) {
	var rcpts atomic.Int32
	s := newTestServer(t, plainServer, func(s *testServer) {
		s.OnRcpt = func(string) error {
			switch rcpts.Add(1) {
			case 1:
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
			case 2:
				return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too busy"}
			}
			return nil
		}
	})
	q := openQueue(t)
	queued, _ := mail.NewQueued(q, "")
	id := mailtest.UniqueID()
	if err := queued.Send(ctx10(t), testMsg(id)); err != nil {
		t.Fatal(err)
	}
	runWorker(t, &mail.Worker{Queue: q, Mailer: openURL(t, "smtp://"+s.Addr+"?starttls=off"), Options: fastRetries()})
	got := s.WaitReceived(t, 1)
	if got[0].MessageID() != id || rcpts.Load() != 3 {
		t.Fatalf("received <%s> after %d RCPTs; want <%s> on the third", got[0].MessageID(), rcpts.Load(), id)
	}
	if dl := deadLetters(t, q, mail.DefaultConsumer); len(dl) != 0 {
		t.Fatalf("%d dead letters, want none", len(dl))
	}
}

// A 5xx reply dead-letters the message at once, with the server's reply as the reason.
func TestWorkerDeadLettersPermanentFailures(t *testing.T) {
	var rcpts atomic.Int32
	s := newTestServer(t, plainServer, func(s *testServer) {
		s.OnRcpt = func(string) error {
			rcpts.Add(1)
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
		}
	})
	q := openQueue(t)
	queued, _ := mail.NewQueued(q, "")
	id := mailtest.UniqueID()
	if err := queued.Send(ctx10(t), testMsg(id)); err != nil {
		t.Fatal(err)
	}
	runWorker(t, &mail.Worker{Queue: q, Mailer: openURL(t, "smtp://"+s.Addr+"?starttls=off"), Options: fastRetries()})
	var dl []*queue.DeadLetter
	waitFor(t, func() bool { dl = deadLetters(t, q, mail.DefaultConsumer); return len(dl) == 1 })
	if !strings.Contains(dl[0].Reason, "550 5.1.1 No such user here") || dl[0].Deliveries != 1 {
		t.Errorf("dead letter reason %q after %d deliveries; want the server's reply after 1", dl[0].Reason, dl[0].Deliveries)
	}
	env, err := mail.QueuedEnvelope(dl[0].Message)
	if err != nil || env.MessageID != id || env.To[0] != "user@example.com" {
		t.Errorf("dead letter envelope = %+v (%v); want <%s> to user@example.com", env, err, id)
	}
	if rcpts.Load() != 1 || len(s.Received()) != 0 {
		t.Errorf("%d RCPTs, %d received; a permanent failure is tried once and delivers nothing", rcpts.Load(), len(s.Received()))
	}
}

// The connection drops after the server read the whole message, before its reply: the server
// may have stored it. The worker cannot know, so the message is delivered again (at least
// once), with the same Message-ID, which makes the duplicate recognisable.
func TestWorkerAtLeastOnce(t *testing.T) {
	var datas atomic.Int32
	var mu sync.Mutex
	var stored [][]byte
	s := newTestServer(t, plainServer, func(s *testServer) {
		s.OnData = func(c *smtp.Conn, data []byte) (bool, error) {
			if datas.Add(1) == 1 {
				mu.Lock()
				stored = append(stored, data) // stored, but the reply is lost
				mu.Unlock()
				_ = c.Conn().Close()
				return true, errDrop
			}
			return false, nil
		}
	})
	q := openQueue(t)
	queued, _ := mail.NewQueued(q, "")
	id := mailtest.UniqueID()
	if err := queued.Send(ctx10(t), testMsg(id)); err != nil {
		t.Fatal(err)
	}
	runWorker(t, &mail.Worker{Queue: q, Mailer: openURL(t, "smtp://"+s.Addr+"?starttls=off"), Options: fastRetries()})
	got := s.WaitReceived(t, 1)
	mu.Lock()
	first := mailtest.Received{Data: stored[0]}
	mu.Unlock()
	if first.MessageID() != id || got[0].MessageID() != id {
		t.Fatalf("Message-IDs %q and %q, want both <%s>", first.MessageID(), got[0].MessageID(), id)
	}
}

func TestWorkerDrainsOnCancel(t *testing.T) {
	release := make(chan struct{})
	inData := make(chan struct{})
	s := newTestServer(t, plainServer, func(s *testServer) {
		s.OnData = func(*smtp.Conn, []byte) (bool, error) {
			close(inData)
			<-release
			return false, nil
		}
	})
	q := openQueue(t)
	queued, _ := mail.NewQueued(q, "")
	if err := queued.Send(ctx10(t), testMsg("")); err != nil {
		t.Fatal(err)
	}
	w := &mail.Worker{Queue: q, Mailer: openURL(t, "smtp://"+s.Addr+"?starttls=off"), Options: fastRetries()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	<-inData
	cancel() // the send in flight finishes before Run returns
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) while a send was in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if len(s.Received()) != 1 {
		t.Fatalf("received %d, want the in-flight message", len(s.Received()))
	}
}

func TestWorkerRejectsBadSetup(t *testing.T) {
	q := openQueue(t)
	queued, _ := mail.NewQueued(q, "")
	for name, w := range map[string]*mail.Worker{
		"no queue":      {Mailer: openURL(t, "memory://")},
		"no mailer":     {Queue: q},
		"queued mailer": {Queue: q, Mailer: queued},
	} {
		if err := w.Run(context.Background()); !errors.Is(err, mail.ErrInvalidOption) {
			t.Errorf("%s: Run = %v, want ErrInvalidOption", name, err)
		}
	}
	// A message on the subject that kit/mail did not publish is dead-lettered, not retried.
	if err := q.Publish(ctx10(t), &queue.Message{Subject: mail.DefaultSubject, Data: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	runWorker(t, &mail.Worker{Queue: q, Mailer: openURL(t, "memory://"), Options: fastRetries()})
	var dl []*queue.DeadLetter
	waitFor(t, func() bool { dl = deadLetters(t, q, mail.DefaultConsumer); return len(dl) == 1 })
	if !strings.Contains(dl[0].Reason, "not queued by kit/mail") {
		t.Errorf("reason = %q", dl[0].Reason)
	}
}

// SendOnCommit renders at once (an invalid message fails the transaction) and sends only when
// the registrar runs its callback: kit/db's OnCommit after a commit, never after a rollback.
func TestSendOnCommit(t *testing.T) {
	q := openQueue(t)
	queued, _ := mail.NewQueued(q, "")
	type tx struct{ hooks []func(context.Context) error }
	register := func(t *tx) func(context.Context, func(context.Context) error) error {
		return func(_ context.Context, f func(context.Context) error) error { t.hooks = append(t.hooks, f); return nil }
	}
	committed, rolledBack := &tx{}, &tx{}
	idCommit, idRollback := mailtest.UniqueID(), mailtest.UniqueID()
	if err := queued.SendOnCommit(ctx10(t), register(committed), testMsg(idCommit)); err != nil {
		t.Fatal(err)
	}
	if err := queued.SendOnCommit(ctx10(t), register(rolledBack), testMsg(idRollback)); err != nil {
		t.Fatal(err)
	}
	bad := testMsg("")
	bad.Subject = "x\r\nBcc: victim@example.com"
	if err := queued.SendOnCommit(ctx10(t), register(committed), bad); !errors.Is(err, mail.ErrInvalidHeader) || len(committed.hooks) != 1 {
		t.Fatalf("SendOnCommit of an invalid message = %v (hooks %d); want ErrInvalidHeader and no hook", err, len(committed.hooks))
	}
	// Commit: run the hooks. Roll back: drop them.
	for _, h := range committed.hooks {
		if err := h(ctx10(t)); err != nil {
			t.Fatal(err)
		}
	}
	// A marker enqueued last: once it is sent, everything enqueued before it was too.
	marker := mailtest.UniqueID()
	if err := queued.Send(ctx10(t), testMsg(marker)); err != nil {
		t.Fatal(err)
	}
	out := openURL(t, "memory://")
	runWorker(t, &mail.Worker{Queue: q, Mailer: out, Options: fastRetries()})
	sent, err := out.Driver().(*mail.Memory).Wait(ctx10(t), 2)
	if err != nil || len(sent) != 2 || sent[0].MessageID != idCommit || sent[1].MessageID != marker {
		t.Fatalf("sent %d messages (%v); want the committed one, then the marker", len(sent), err)
	}
}

func TestQueuedURL(t *testing.T) {
	m := openURL(t, "queue+memory://?mail_subject=kit.mail.outbound&default_from=app@example.com")
	if !m.Queued() {
		t.Fatal("queue+memory:// is not queued")
	}
	d := m.Driver().(*mail.Queued)
	if d.Subject() != "kit.mail.outbound" {
		t.Fatalf("subject = %q", d.Subject())
	}
	if err := m.Send(ctx10(t), &mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Ping(ctx10(t)); err != nil {
		t.Fatal(err)
	}
	out := openURL(t, "memory://")
	runWorker(t, &mail.Worker{Queue: d.Queue(), Mailer: out, Subject: "kit.mail.outbound"})
	if _, err := out.Driver().(*mail.Memory).Wait(ctx10(t), 1); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"queue+memory://?mail_subject=a..b", "queue+memory://?bogus=1", "queue+nosuch://x"} {
		if _, err := mail.Open(context.Background(), bad); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}
