package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/mail"
	"github.com/stackkit/stackkit/kit/queue"
	_ "github.com/stackkit/stackkit/kit/queue/nats"
)

// The worker process, started by TestWorkerKilledMidSend: it consumes until killed.
func TestWorkerProcess(t *testing.T) {
	if os.Getenv("KIT_MAIL_WORKER_CHILD") != "1" {
		t.Skip("helper process for TestWorkerKilledMidSend")
	}
	ctx := context.Background()
	q, err := queue.Open(ctx, os.Getenv("KIT_MAIL_QUEUE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := mail.Open(ctx, os.Getenv("KIT_MAIL_SMTP_URL"))
	if err != nil {
		t.Fatal(err)
	}
	w := &mail.Worker{Queue: q, Mailer: m, Subject: os.Getenv("KIT_MAIL_SUBJECT"), Options: workerOptions()}
	go func() { <-w.Ready(); fmt.Println("WORKER READY") }()
	_ = w.Run(ctx) // until SIGKILL
}

func workerOptions() []queue.ConsumeOption {
	return []queue.ConsumeOption{queue.AckWait(time.Second), queue.Backoff(100 * time.Millisecond), queue.MaxDeliveries(5)}
}

// smtpSink is an SMTP server whose first DATA hangs (the worker sending it is killed), and which
// stores the rest.
type smtpSink struct {
	addr    string
	inData  chan struct{}
	release chan struct{}
	mu      sync.Mutex
	datas   int
	got     chan []byte
}

func startSink(t *testing.T) *smtpSink {
	s := &smtpSink{inData: make(chan struct{}), release: make(chan struct{}), got: make(chan []byte, 10)}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s}, nil }))
	srv.Domain = "sink.local"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { close(s.release); _ = srv.Close() })
	return s
}

type sinkSession struct{ s *smtpSink }

func (*sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (*sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (*sinkSession) Reset()                               {}
func (*sinkSession) Logout() error                        { return nil }
func (x *sinkSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	x.s.datas++
	first := x.s.datas == 1
	x.s.mu.Unlock()
	if first {
		close(x.s.inData)
		<-x.s.release // hangs: the worker is killed while waiting for this reply
		return nil
	}
	x.s.got <- data
	return nil
}

func randomSpace() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "mailkill" + hex.EncodeToString(b[:])
}

// A worker process is SIGKILLed while its SMTP transaction is under way. The message was never
// acknowledged, so NATS redelivers it after the ack wait and a second worker sends it: at least
// once, with the same Message-ID.
func TestWorkerKilledMidSend(t *testing.T) {
	natsURL := testenv.Get(t, "KIT_TEST_NATS_URL")
	space := randomSpace()
	stream := strings.ToUpper(space)
	u, err := url.Parse(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	qv := url.Values{"stream": {stream}, "subjects": {space + ".>"}}
	u.RawQuery = qv.Encode()
	queueURL := u.String()
	subject := space + ".mail"
	t.Cleanup(func() { deleteStreams(t, natsURL, stream) })

	sink := startSink(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	queued, err := mail.Open(ctx, "queue+"+queueURL+"&mail_subject="+subject)
	if err != nil {
		t.Fatal(err)
	}
	defer queued.Close()
	id := mail.StableMessageID("kill-test/"+space, "example.com")
	msg := &mail.Message{From: "app@example.com", To: []string{"user@example.com"}, Subject: "survives a crash", Text: "hello", MessageID: id}
	if err := queued.Send(ctx, msg); err != nil {
		t.Fatal(err)
	}

	child := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestWorkerProcess$", "-test.v")
	child.Env = append(os.Environ(), "KIT_MAIL_WORKER_CHILD=1", "KIT_MAIL_QUEUE_URL="+queueURL,
		"KIT_MAIL_SMTP_URL=smtp://"+sink.addr+"?starttls=off", "KIT_MAIL_SUBJECT="+subject)
	child.Stdout, child.Stderr = io.Discard, io.Discard
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sink.inData:
	case <-ctx.Done():
		_ = child.Process.Kill()
		t.Fatal("the worker process never reached DATA")
	}
	if err := child.Process.Kill(); err != nil { // SIGKILL: no drain, no ack, no nak
		t.Fatal(err)
	}
	_ = child.Wait()

	q := queued.Driver().(*mail.Queued).Queue()
	out, err := mail.Open(ctx, "smtp://"+sink.addr+"?starttls=off")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := &mail.Worker{Queue: q, Mailer: out, Subject: subject, Options: workerOptions()}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	var data []byte
	select {
	case data = <-sink.got:
	case <-ctx.Done():
		t.Fatal("the message was not redelivered after the worker was killed")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "Message-ID: "+id) {
		t.Fatalf("redelivered message does not carry Message-ID %s:\n%s", id, data)
	}
	for dl, err := range q.DeadLetters(ctx, mail.DefaultConsumer) {
		if err != nil {
			t.Fatal(err)
		}
		t.Errorf("dead letter: %+v", dl)
	}
}

// 5xx replies to every recipient dead-letter the message on NATS with the server's replies, and
// QueuedEnvelope reads the dead letter back as mail. (With one recipient accepted it would be a
// partial delivery, acknowledged.)
func TestDeadLetterOnNATS(t *testing.T) {
	natsURL := testenv.Get(t, "KIT_TEST_NATS_URL")
	space := randomSpace()
	stream := strings.ToUpper(space)
	t.Cleanup(func() { deleteStreams(t, natsURL, stream) })
	u, _ := url.Parse(natsURL)
	u.RawQuery = url.Values{"stream": {stream}, "subjects": {space + ".>"}}.Encode()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	q, err := queue.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	subject := space + ".mail"
	queued, err := mail.NewQueued(q, subject)
	if err != nil {
		t.Fatal(err)
	}
	id := mail.StableMessageID("dead/"+space, "example.com")
	if err := queued.Send(ctx, &mail.Message{From: "app@example.com", To: []string{"nobody@example.com"}, Bcc: []string{"gone@example.com"}, Subject: "s", Text: "t", MessageID: id}); err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return rejectSession{}, nil }))
	srv.Domain = "reject.local"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	out, err := mail.Open(ctx, "smtp://"+ln.Addr().String()+"?starttls=off")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := &mail.Worker{Queue: q, Mailer: out, Subject: subject, Options: workerOptions()}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	defer func() { stop(); <-done }()
	for {
		var found *queue.DeadLetter
		for dl, err := range q.DeadLetters(ctx, mail.DefaultConsumer) {
			if err != nil {
				t.Fatal(err)
			}
			found = dl
		}
		if found != nil {
			if !strings.Contains(found.Reason, "550 5.1.1 No such user") || !strings.Contains(found.Reason, "gone@example.com") || found.Deliveries != 1 {
				t.Errorf("dead letter reason %q after %d deliveries", found.Reason, found.Deliveries)
			}
			env, err := mail.QueuedEnvelope(found.Message)
			if err != nil || env.MessageID != strings.Trim(id, "<>") || len(env.To) != 2 {
				t.Errorf("dead letter envelope %+v (%v)", env, err)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("no dead letter")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type rejectSession struct{}

func (rejectSession) Mail(string, *smtp.MailOptions) error { return nil }
func (rejectSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "nobody@") || strings.HasPrefix(to, "gone@") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
	}
	return nil
}
func (rejectSession) Data(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err }
func (rejectSession) Reset()                 {}
func (rejectSession) Logout() error          { return nil }

// deleteStreams removes the test's work and dead-letter streams from the shared server.
func deleteStreams(t *testing.T, natsURL, stream string) {
	nc, err := natsgo.Connect(natsURL)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range []string{stream, stream + "_DEAD"} {
		if err := js.DeleteStream(ctx, s); err != nil && !strings.Contains(err.Error(), "not found") {
			t.Errorf("cleanup: delete stream %s: %v", s, err)
		}
	}
}
