package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stackkit/stackkit/internal/testenv"
	kitmail "github.com/stackkit/stackkit/kit/mail"
	"github.com/stackkit/stackkit/kit/queue"
)

// natsStreams connects to the shared NATS server, and returns a function listing its streams and
// one listing the consumers of a stream; the streams named are deleted when the test ends.
func natsStreams(t *testing.T, base string, cleanup ...string) (streams func() []string, consumers func(stream string) []string) {
	t.Helper()
	nc, err := natsgo.Connect(base)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, s := range cleanup {
			if err := js.DeleteStream(context.Background(), s); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				t.Errorf("delete stream %s: %v", s, err)
			}
		}
		nc.Close()
	})
	streams = func() []string {
		var names []string
		l := js.StreamNames(ctxTimeout(t, 10*time.Second))
		for n := range l.Name() {
			names = append(names, n)
		}
		if err := l.Err(); err != nil {
			t.Fatalf("list streams: %v", err)
		}
		slices.Sort(names)
		return names
	}
	consumers = func(stream string) []string {
		s, err := js.Stream(ctxTimeout(t, 10*time.Second), stream)
		if err != nil {
			t.Fatalf("stream %s: %v", stream, err)
		}
		var names []string
		l := s.ConsumerNames(ctxTimeout(t, 10*time.Second))
		for n := range l.Name() {
			names = append(names, n)
		}
		if err := l.Err(); err != nil {
			t.Fatalf("list consumers: %v", err)
		}
		return names
	}
	return streams, consumers
}

// uniqueStream returns a stream name of the test's own and its subject space.
func uniqueStream(what string) (stream, space string) {
	stream = "KITCTL_" + what + "_" + strings.ToUpper(uniquePrefix()[7:])
	return stream, strings.ToLower(stream)
}

// TestQueueReadOnlyCreatesNothing runs every read-only command (and the dead-letter removals) on
// a stream that does not exist, then on one without its consumer or its dead-letter stream: each
// fails with exit 1 naming what is missing, and the server's streams and consumers are the same
// before and after.
func TestQueueReadOnlyCreatesNothing(t *testing.T) {
	base := testenv.Get(t, "KIT_TEST_NATS_URL")
	stream, space := uniqueStream("RO")
	streams, consumers := natsStreams(t, base, stream, stream+"_DEAD")
	qURL := base + "?stream=" + stream + "&subjects=" + space + ".>&storage=memory"
	t.Setenv("KIT_QUEUE_URL", qURL)
	t.Setenv("KIT_MAIL_SUBJECT", space+".mail")

	commands := [][]string{
		{"queue", "stats"},
		{"queue", "stats", "--json"},
		{"queue", "stats", "mailer"},
		{"queue", "ls"},
		{"queue", "ls", "--json"},
		{"mail", "dead", "list"},
		{"mail", "dead", "list", "--json"},
		{"mail", "dead", "purge", "--all"},
		{"mail", "dead", "retry", "--all"},
	}
	// Only this test's streams: other tests create and delete theirs on the shared server meanwhile.
	mine := func() []string {
		return slices.DeleteFunc(streams(), func(s string) bool { return !strings.HasPrefix(s, stream) })
	}
	run := func(want string, commands [][]string) {
		t.Helper()
		before := mine()
		for _, args := range commands {
			r := kitctl(t, args)
			if r.code != 1 || !strings.Contains(r.stderr, want) || strings.Contains(r.stdout, "[]") {
				t.Errorf("kitctl %q: exit %d, want 1 with %q; stdout %q, stderr %q", args, r.code, want, r.stdout, r.stderr)
			}
		}
		if after := mine(); !slices.Equal(before, after) {
			t.Errorf("streams before %v, after %v: a read-only command created one", before, after)
		}
	}
	run("stream "+stream+" does not exist", commands)
	// The error names the URL as given, not the one the read-only open rewrote with create=false.
	if r := kitctl(t, []string{"queue", "stats"}); !strings.Contains(r.stderr, `open "`+qURL+`": `) {
		t.Errorf("queue stats: stderr %q, want it to name the URL as given, %q", r.stderr, qURL)
	}

	// The streams exist (as the mail service makes them), its consumer does not.
	q, err := queue.Open(context.Background(), qURL)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	// Only the commands that name a consumer fail: the whole queue is there, without consumers.
	run("consumer mailer does not exist on stream "+stream, slices.DeleteFunc(slices.Clone(commands), func(args []string) bool {
		return args[0] == "queue" && !slices.Contains(args, "mailer")
	}))
	if cs := consumers(stream); len(cs) != 0 {
		t.Errorf("consumers %v on stream %s: a read-only command created one", cs, stream)
	}

	// A dead-letter stream deleted by hand is not made again behind the operator's back.
	nc, err := natsgo.Connect(base)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if err := js.DeleteStream(context.Background(), stream+"_DEAD"); err != nil {
		t.Fatal(err)
	}
	run("stream "+stream+"_DEAD does not exist", commands)
}

// TestQueueReadOnlyEmbeddedCreatesNoDirectory points the read-only commands at an embedded
// server's directory that does not exist: they fail and the directory is still not there.
func TestQueueReadOnlyEmbeddedCreatesNoDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nats")
	t.Setenv("KIT_QUEUE_URL", "nats+embedded://"+filepath.ToSlash(dir))
	for _, args := range [][]string{{"queue", "stats"}, {"queue", "ls"}, {"mail", "dead", "list"}, {"mail", "dead", "purge", "--all"}} {
		r := kitctl(t, args)
		if r.code != 1 || !strings.Contains(r.stderr, "holds no JetStream store") {
			t.Errorf("kitctl %q: exit %d, want 1 naming the directory; stderr %q", args, r.code, r.stderr)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("kitctl %q: directory %s: %v; want it not created", args, dir, err)
		}
	}
}

// TestMailDeadListUnknownConsumer: listing the dead letters of a consumer that does not exist is
// an error, not an empty list; every command naming a consumer says so in the same one line, and
// retry and purge print no count of what they did not do.
func TestMailDeadListUnknownConsumer(t *testing.T) {
	for _, args := range [][]string{
		{"mail", "dead", "list", "--json", "--queue-url", "memory://"},
		{"mail", "dead", "list", "--consumer", "mailr", "--queue-url", "memory://"},
		{"mail", "dead", "retry", "--all", "--consumer", "mailr", "--queue-url", "memory://"},
		{"mail", "dead", "purge", "--all", "--consumer", "mailr", "--queue-url", "memory://"},
		{"mail", "dead", "purge", "7", "--consumer", "mailr", "--queue-url", "memory://"},
		{"queue", "stats", "mailr", "--queue-url", "memory://"},
	} {
		consumer := "mailr"
		if !slices.Contains(args, consumer) {
			consumer = kitmail.DefaultConsumer
		}
		want := "kitctl: consumer " + consumer + " does not exist on memory:// (it has no consumers)"
		r := kitctl(t, args)
		if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 ||
			strings.Contains(r.stderr, "not found") || strings.Contains(r.stderr, "queue:") {
			t.Errorf("kitctl %q: exit %d, stdout %q, stderr %q; want exit 1, no output, one line %q", args, r.code, r.stdout, r.stderr, want)
		}
	}
}

func TestQueueUsageAndSecrets(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"queue", "stats", "--queue-url", "memory://"}, 0, "messages 0 (0 B), dead letters 0 (0 B)"},
		{[]string{"queue", "ls", "--queue-url", "memory://"}, 0, "no consumers on memory://"},
		{[]string{"queue", "stats", "--queue-url", "memory://?bogus=1"}, 2, `open "memory://?bogus=1": option "bogus": unknown option`},
		{[]string{"queue", "stats", "--queue-url", "nope://x"}, 2, "unknown scheme"},
		{[]string{"queue", "stats", "a", "b"}, 2, "at most one CONSUMER"},
		{[]string{"queue", "stat"}, 2, "did you mean stats"},
		{[]string{"queue", "stats", "--queue-url", "nats://app:s3cret@127.0.0.1:1"}, 1, "nats://app:xxxxx@127.0.0.1:1"},
		{[]string{"queue", "ls", "--queue-url", "nats://s3cret@127.0.0.1:1"}, 1, "nats://xxxxx@127.0.0.1:1"},
		{[]string{"mail", "send-test", "--count", "3", "a@example.com"}, 2, "--count 3 needs --queue"},
		{[]string{"mail", "send-test", "--queue", "--count", "0", "a@example.com"}, 2, "want at least 1"},
	} {
		r := kitctl(t, tc.args)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
			t.Errorf("kitctl %q: exit %d, want %d with %q; stdout %q stderr %q", tc.args, r.code, tc.code, tc.want, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, "s3cret") {
			t.Errorf("kitctl %q printed the secret: %+v", tc.args, r)
		}
	}
}

// TestQueueStatsDrill queues a bulk test send, has the mail worker's consumer dead-letter one
// message and hold two, and reads the counts back with queue stats and ls; then drains.
func TestQueueStatsDrill(t *testing.T) {
	base := testenv.Get(t, "KIT_TEST_NATS_URL")
	stream, space := uniqueStream("STATS")
	streams, _ := natsStreams(t, base, stream, stream+"_DEAD")
	qURL := base + "?stream=" + stream + "&subjects=" + space + ".>&storage=memory"
	subject := space + ".mail"
	t.Setenv("KIT_QUEUE_URL", qURL)
	t.Setenv("KIT_MAIL_SUBJECT", subject)
	const total, held = 20, 2

	start := time.Now()
	r := kitctl(t, []string{"mail", "send-test", "--queue", "--count", itoa(total), "drill@example.com"})
	if r.code != 0 || !regexp.MustCompile(`^queued 20 test messages to drill@example.com on nats://\S+ subject `+subject+` in \S+ \(\d+/s\), Message-IDs <\S+> … <\S+>\n$`).MatchString(r.stdout) {
		t.Fatalf("send-test --queue --count: %+v", r)
	}
	t.Logf("drill: %s", strings.TrimSpace(r.stdout))
	if !slices.Contains(streams(), stream) {
		t.Fatalf("send-test --queue did not create stream %s", stream)
	}

	q, err := queue.Open(context.Background(), qURL)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := make(chan *kitmail.Envelope, total)
	release := make(chan struct{})
	var once bool
	free := func() {
		if !once {
			once = true
			close(release)
		}
	}
	defer free()
	done := make(chan error, 1)
	go func() {
		done <- q.Consume(ctx, kitmail.DefaultConsumer, subject, func(_ context.Context, m *queue.Message) error {
			env, err := kitmail.QueuedEnvelope(m)
			if err != nil {
				return queue.Permanent(err)
			}
			seen <- env
			h, _ := env.Header()
			if strings.HasPrefix(h.Get("Subject"), "Test email 1/20 ") {
				return queue.Permanent(errors.New("550 drill"))
			}
			<-release
			return nil
		}, queue.Concurrency(held))
	}()
	ids := map[string]bool{}
	for range held + 1 {
		select {
		case env := <-seen:
			ids[env.MessageID] = true
		case <-time.After(30 * time.Second):
			t.Fatal("the consumer did not take the first messages")
		}
	}

	type consumerRow struct {
		Name        string `json:"name"`
		Subject     string `json:"subject"`
		Pending     uint64 `json:"pending"`
		AckPending  uint64 `json:"ack_pending"`
		Redelivered uint64 `json:"redelivered"`
		DeadLetters uint64 `json:"dead_letters"`
	}
	type stats struct {
		Messages    uint64        `json:"messages"`
		DeadLetters uint64        `json:"dead_letters"`
		Consumers   []consumerRow `json:"consumers"`
	}
	waitFor := func(what string, want stats) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			r := kitctl(t, []string{"queue", "stats", "--json"})
			var got stats
			if r.code == 0 && json.Unmarshal([]byte(r.stdout), &got) == nil && len(got.Consumers) == 1 &&
				got.Messages == want.Messages && got.DeadLetters == want.DeadLetters && got.Consumers[0] == want.Consumers[0] {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: queue stats --json: exit %d\n%s%s\nwant %+v", what, r.code, r.stdout, r.stderr, want)
			}
			time.Sleep(20 * time.Millisecond) // polling: the ack of the dead letter reaches the server
		}
	}
	want := stats{Messages: total - 1, DeadLetters: 1, Consumers: []consumerRow{
		{kitmail.DefaultConsumer, subject, total - 1 - held, held, 0, 1},
	}}
	waitFor("2 held, 1 dead", want)

	r = kitctl(t, []string{"queue", "stats"})
	if r.code != 0 || !strings.Contains(r.stdout, "messages 19 (") || !strings.Contains(r.stdout, "dead letters 1 (") ||
		!regexp.MustCompile(`(?m)^mailer +`+regexp.QuoteMeta(subject)+` +17 +2 +0 +1$`).MatchString(r.stdout) {
		t.Errorf("queue stats:\n%s%s", r.stdout, r.stderr)
	}
	r = kitctl(t, []string{"queue", "ls"})
	if r.code != 0 || !regexp.MustCompile(`(?m)^mailer +`+regexp.QuoteMeta(subject)+` +17 +2 +0 +1 +dead\.`+stream+`\.mailer$`).MatchString(r.stdout) {
		t.Errorf("queue ls:\n%s%s", r.stdout, r.stderr)
	}
	if r := kitctl(t, []string{"queue", "stats", "mailer", "--json"}); r.code != 0 || !strings.Contains(r.stdout, `"pending": 17`) {
		t.Errorf("queue stats mailer --json:\n%s%s", r.stdout, r.stderr)
	}
	if r := kitctl(t, []string{"mail", "dead", "list"}); r.code != 0 || !strings.Contains(r.stdout, "550 drill") {
		t.Errorf("mail dead list:\n%s%s", r.stdout, r.stderr)
	}

	free()
	for len(ids) < total {
		select {
		case env := <-seen:
			if ids[env.MessageID] {
				t.Errorf("Message-ID %s seen twice", env.MessageID)
			}
			ids[env.MessageID] = true
		case <-time.After(30 * time.Second):
			t.Fatalf("drained %d of %d messages", len(ids), total)
		}
	}
	want.Messages = 0
	want.Consumers[0].Pending, want.Consumers[0].AckPending = 0, 0
	waitFor("drained", want)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("drill: %d queued in %s of test, 1 dead-lettered, %d held then drained; %d distinct Message-IDs delivered",
		total, time.Since(start).Round(time.Millisecond), held, len(ids))

	// A failure names how many were queued before it: here the subject is outside the stream.
	r = kitctl(t, []string{"mail", "send-test", "--queue", "--count", "5", "--mail-subject", "elsewhere.mail", "drill@example.com"})
	if r.code != 1 || !strings.Contains(r.stderr, "queued 0 of 5 test messages") || !strings.Contains(r.stderr, "then message 1 <") {
		t.Errorf("send-test --count to a subject no stream stores: %+v", r)
	}
}
