package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/mail"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stackkit/stackkit/internal/testenv"
	kitmail "github.com/stackkit/stackkit/kit/mail"
	"github.com/stackkit/stackkit/kit/mail/mailtest"
	"github.com/stackkit/stackkit/kit/queue"
	natsq "github.com/stackkit/stackkit/kit/queue/nats"
)

var sentID = regexp.MustCompile(`(sent|queued) test message <([^>]+)>`)

func TestMailSendTestToFiles(t *testing.T) {
	dir := t.TempDir()
	host, _ := os.Hostname()
	for _, tc := range []struct {
		name, url, from, wantFrom string
	}{
		{"django default from", "file://" + dir, "", "webmaster@localhost"},
		{"from flag", "file://" + dir, "Ops <ops@example.com>", "ops@example.com"},
		{"URL default_from", "file://" + dir + "?default_from=noreply@example.org", "", "noreply@example.org"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"mail", "send-test", "--mail-url", tc.url, "a@example.com", "Jörg <j@bücher.example>"}
			if tc.from != "" {
				args = append(args, "--from", tc.from)
			}
			r := kitctl(t, args)
			m := sentID.FindStringSubmatch(r.stdout)
			if r.code != 0 || m == nil || !strings.Contains(r.stdout, "to a@example.com, j@xn--bcher-kva.example via file://") {
				t.Fatalf("send-test: %+v", r)
			}
			got, err := mailtest.DirInbox(dir).Received(ctxTimeout(t, 5*time.Second), m[2])
			if err != nil || len(got) != 1 {
				t.Fatalf("message %s in %s: %d, %v", m[2], dir, len(got), err)
			}
			msg, err := mail.ReadMessage(strings.NewReader(string(got[0].Data)))
			if err != nil {
				t.Fatal(err)
			}
			if from, _ := mail.ParseAddress(msg.Header.Get("From")); from == nil || from.Address != tc.wantFrom {
				t.Errorf("From %q, want %s", msg.Header.Get("From"), tc.wantFrom)
			}
			if s := msg.Header.Get("Subject"); !strings.HasPrefix(s, "Test email from "+host+" on ") {
				t.Errorf("Subject %q", s)
			}
			if !strings.Contains(string(got[0].Data), "If you're reading this, it was successful.") {
				t.Errorf("body:\n%s", got[0].Data)
			}
		})
	}
}

func TestMailSendTestMailpit(t *testing.T) {
	addr := testenv.Get(t, "KIT_TEST_SMTP_ADDR")
	api := testenv.Get(t, "KIT_TEST_MAILPIT_API")
	t.Setenv("KIT_MAIL_URL", "smtp://"+addr+"?starttls=off")
	r := kitctl(t, []string{"mail", "send-test", "ops@example.com"})
	m := sentID.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("send-test: %+v", r)
	}
	got, err := mailtest.MailpitInbox(api).Received(ctxTimeout(t, 10*time.Second), m[2])
	if err != nil || len(got) != 1 {
		t.Fatalf("Mailpit has %d messages with Message-ID %s: %v", len(got), m[2], err)
	}
}

func TestMailUsageAndSecrets(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"mail", "send-test"}, 2, "needs at least one address"},
		{[]string{"mail", "send-test", "--mail-url", "memory://", "not-an-address"}, 2, "invalid address"},
		{[]string{"mail", "send"}, 2, "did you mean send-test"},
		{[]string{"mail", "dead", "retry"}, 2, "give the sequence numbers"},
		{[]string{"mail", "dead", "purge", "--all", "3"}, 2, "not both"},
		{[]string{"mail", "dead", "retry", "x1"}, 2, `"x1" is not a sequence number`},
		{[]string{"mail", "send-test", "--mail-url", "smtp://app:s3cret@127.0.0.1:1?starttls=off&dial_timeout=2s", "a@example.com"}, 1, "connection refused"},
		{[]string{"mail", "send-test", "--mail-url", "smtp://app:s3cret@127.0.0.1:1?max_con=2", "a@example.com"}, 1, `option "max_con": unknown option`},
		{[]string{"mail", "dead", "list", "--queue-url", "nats://app:s3cret@127.0.0.1:1"}, 1, "no servers available"},
		{[]string{"mail", "dead", "list", "--queue-url", "nats://s3cret@127.0.0.1:1"}, 1, "nats://xxxxx@127.0.0.1:1"},
	} {
		r := kitctl(t, tc.args)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("kitctl %q: exit %d, want %d with %q; stderr: %s", tc.args, r.code, tc.code, tc.want, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, "s3cret") {
			t.Errorf("kitctl %q printed the secret: %+v", tc.args, r)
		}
	}
	if r := kitctl(t, []string{"mail", "send-test", "--help"}); strings.Contains(r.stdout, "s3cret") {
		t.Error("--help shows the secret")
	}
}

// TestMailQueueAndDeadLetters queues a test message on NATS as the mail service would find it,
// dead-letters it the way the worker does on a 550, and works the dead letters with kitctl.
func TestMailQueueAndDeadLetters(t *testing.T) {
	ctx := context.Background()
	base := testenv.Get(t, "KIT_TEST_NATS_URL")
	stream := "KITCTL_MAIL_" + strings.ToUpper(uniquePrefix()[7:])
	subject := strings.ToLower(stream) + ".mail"
	qURL := base + "?stream=" + stream + "&subjects=" + strings.ToLower(stream) + ".>&storage=memory"
	t.Setenv("KIT_QUEUE_URL", qURL)
	t.Setenv("KIT_MAIL_SUBJECT", subject)
	q, err := queue.Open(ctx, qURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		js := q.Driver().(*natsq.Driver).JetStream()
		for _, s := range []string{stream, stream + "_DEAD"} {
			if err := js.DeleteStream(ctx, s); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				t.Errorf("delete stream %s: %v", s, err)
			}
		}
		_ = q.Close()
	})

	var ids []string
	for _, to := range []string{"nobody@example.com", "gone@example.com"} {
		r := kitctl(t, []string{"mail", "send-test", "--queue", to})
		m := sentID.FindStringSubmatch(r.stdout)
		if r.code != 0 || m == nil || m[1] != "queued" || !strings.Contains(r.stdout, "subject "+subject) {
			t.Fatalf("send-test --queue: %+v", r)
		}
		ids = append(ids, m[2])
	}
	// The worker's outcome for a refused recipient: a permanent failure with the reply.
	consume(t, q, subject, 2, func(m *queue.Message) error {
		env, err := kitmail.QueuedEnvelope(m)
		if err != nil {
			t.Errorf("queued message does not read back: %v", err)
			return err
		}
		return queue.Permanent(errors.New("mail: smtp RCPT <" + env.To[0] + ">: 550 5.1.1 No such user"))
	})

	r := kitctl(t, []string{"mail", "dead", "list"})
	if r.code != 0 || !strings.Contains(r.stdout, "2 dead letter(s) for consumer mailer") {
		t.Fatalf("dead list: %+v", r)
	}
	for i, to := range []string{"nobody@example.com", "gone@example.com"} {
		if !regexp.MustCompile(`(?m)^\d+ +\S+ +1 +<` + regexp.QuoteMeta(ids[i]) + `> +` + regexp.QuoteMeta(to) +
			` +Test email from .+ 550 5\.1\.1 No such user$`).MatchString(r.stdout) {
			t.Errorf("dead list lacks a row for %s:\n%s", to, r.stdout)
		}
	}
	r = kitctl(t, []string{"mail", "dead", "list", "--json"})
	var rows []struct {
		Seq        uint64   `json:"seq"`
		MessageID  string   `json:"message_id"`
		To         []string `json:"to"`
		Subject    string   `json:"subject"`
		Reason     string   `json:"reason"`
		Deliveries int      `json:"deliveries"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("dead list --json: %v\n%+v", err, r)
	}
	if rows[0].MessageID != "<"+ids[0]+">" || rows[0].To[0] != "nobody@example.com" || rows[0].Deliveries != 1 ||
		!strings.HasPrefix(rows[0].Subject, "Test email from ") || !strings.Contains(rows[0].Reason, "550") {
		t.Errorf("dead list --json row: %+v", rows[0])
	}

	// Retry the first: it is back on the subject, the same mail with the same Message-ID.
	r = kitctl(t, []string{"mail", "dead", "retry", itoa(rows[0].Seq)})
	if r.code != 0 || !strings.Contains(r.stdout, "re-queued 1 dead letter(s)") {
		t.Fatalf("dead retry: %+v", r)
	}
	consume(t, q, subject, 1, func(m *queue.Message) error {
		env, err := kitmail.QueuedEnvelope(m)
		if err != nil || env.MessageID != ids[0] {
			t.Errorf("re-queued message: %v, Message-ID %v, want %s", err, env, ids[0])
		}
		return nil
	})
	// Retrying it again finds nothing: exit 1, naming the sequence, and no count on stdout.
	if r := kitctl(t, []string{"mail", "dead", "retry", itoa(rows[0].Seq)}); r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "no dead letter with seq") {
		t.Errorf("second retry: %+v", r)
	}
	// A consumer that does not exist: one line naming it, the stream and the consumers there are.
	for _, args := range [][]string{
		{"mail", "dead", "list", "--consumer", "mailr"},
		{"mail", "dead", "retry", "--all", "--consumer", "mailr"},
		{"mail", "dead", "purge", "--all", "--consumer", "mailr"},
		{"queue", "stats", "mailr"},
	} {
		want := "kitctl: consumer mailr does not exist on stream " + stream + " (its consumers: mailer)"
		if r := kitctl(t, args); r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, want) ||
			strings.Count(r.stderr, "\n") != 1 || strings.Contains(r.stderr, "not found") {
			t.Errorf("kitctl %q: %+v; want exit 1, no output, one line %q", args, r, want)
		}
	}
	// Purging one that is there and one that is not: the error says what was done.
	r = kitctl(t, []string{"mail", "dead", "purge", itoa(rows[1].Seq), "999999999"})
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "purged 1 dead letter(s) of consumer mailer") ||
		!strings.Contains(r.stderr, "no dead letter with seq [999999999]") {
		t.Errorf("dead purge of one there and one not: %+v", r)
	}
	r = kitctl(t, []string{"mail", "dead", "purge", "--all"})
	if r.code != 0 || !strings.Contains(r.stdout, "purged 0 dead letter(s)") {
		t.Fatalf("dead purge --all: %+v", r)
	}
	if r := kitctl(t, []string{"mail", "dead", "list"}); r.code != 0 || !strings.Contains(r.stdout, "no dead letters for consumer mailer") {
		t.Errorf("dead list after purge: %+v", r)
	}
}

// consume runs the mail worker's consumer with h until it has handled n messages.
func consume(t *testing.T, q *queue.Queue, subject string, n int, h func(*queue.Message) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	seen := 0
	done := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- q.Consume(ctx, kitmail.DefaultConsumer, subject, func(_ context.Context, m *queue.Message) error {
			err := h(m)
			mu.Lock()
			seen++
			if seen == n {
				close(done)
			}
			mu.Unlock()
			return err
		})
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("consumed %d of %d messages in 30s", seen, n)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
