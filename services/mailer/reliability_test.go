package mailer_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/mail"
)

// TestKilledTwiceLosesNothing queues 1,000 messages and SIGKILLs the worker twice while it sends
// them: every message must reach the SMTP server at least once. Duplicates are allowed (a send
// the server accepted whose ack died with the process is sent again) and reported.
func TestKilledTwiceLosesNothing(t *testing.T) {
	const n = 1000
	tq := newTestQueue(t)
	s := newSMTPServer(t)
	ids := tq.publish(t, n, nil)
	env := tq.env(s, map[string]string{
		"KIT_MAIL_CONCURRENCY": "8",
		// A killed worker's unacknowledged messages come back after the ack wait.
		"KIT_MAIL_ACK_WAIT": "1s",
		"KIT_MAIL_BACKOFF":  "100ms",
	})

	for round, killAt := range []int{n * 3 / 10, n * 6 / 10} {
		p := startMailer(t, env)
		s.waitFor("deliveries before kill "+strconv.Itoa(round+1), time.Minute, func(d, _, _ int) bool { return d >= killAt })
		p.kill()
		d, total, _ := s.counts()
		t.Logf("kill %d: SIGKILL after %d distinct messages (%d with duplicates)", round+1, d, total)
		if d >= n {
			t.Fatalf("kill %d came after the last message: the test did not kill mid-stream", round+1)
		}
	}
	p := startMailer(t, env)
	s.waitFor("all messages", 2*time.Minute, func(d, _, _ int) bool { return d >= n })

	got := s.ids()
	dups := 0
	for _, id := range ids {
		switch c := got[id]; {
		case c == 0:
			t.Errorf("message %s lost", id)
		case c > 1:
			dups += c - 1
		}
	}
	if len(got) != n {
		t.Errorf("server got %d distinct Message-IDs, want %d", len(got), n)
	}
	t.Logf("%d messages, 2 SIGKILLs: %d distinct delivered, %d duplicates", n, len(got), dups)

	// Every message acknowledged: the work stream empties, nothing was dead-lettered.
	waitUntil(t, "the stream to empty", 30*time.Second, func() bool {
		msgs, pending := tq.streamState(t, mail.DefaultConsumer)
		return msgs == 0 && pending == 0
	})
	if dl := tq.deadLetters(t); len(dl) != 0 {
		t.Errorf("%d dead letters, want none; first: %s", len(dl), dl[0].Reason)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM %d, want 0", code)
	}
}

// TestSMTPOutage stops the SMTP server for 10 s in the middle of a stream: the sends that fail
// are retried, readiness reports the outage, and everything is delivered once it is back.
func TestSMTPOutage(t *testing.T) {
	const n, before = 200, 50
	const outage = 10 * time.Second
	tq := newTestQueue(t)
	s := newSMTPServer(t)
	ids := tq.publish(t, n, nil)
	// Hold DATA after the 50th message, so the outage starts with sends in flight and most of
	// the stream still queued, whatever the speed of the machine.
	s.holdAfter(before)
	p := startMailer(t, tq.env(s, map[string]string{
		"KIT_MAIL_CONCURRENCY":    "4",
		"KIT_MAIL_BACKOFF":        "200ms,500ms,1s",
		"KIT_MAIL_MAX_DELIVERIES": "100",
		"KIT_MAIL_CHECK_TIMEOUT":  "500ms",
	}))
	s.waitFor("sends held in flight", time.Minute, func(d, _, h int) bool { return d >= before && h > 0 })
	s.stop()
	down := time.Now()
	t.Logf("SMTP server down after %d messages", before)

	// Readiness turns 503 while the mail server is unreachable (the pooled connections were
	// dropped, so the check's NOOP dials and is refused).
	body := p.waitStatus("/readyz", 503, 10*time.Second)
	if !strings.Contains(body, `"mail":{"status":"failed"`) {
		t.Errorf("/readyz during the outage does not name the mail check: %s", body)
	}
	if d, _, _ := s.counts(); d >= n {
		t.Fatalf("all %d messages delivered before the outage", n)
	}
	// The outage lasts 10 s: this wait is the outage itself, not a synchronisation.
	time.Sleep(time.Until(down.Add(outage)))
	s.releaseAll() // no more holding: the server comes back healthy
	s.start()
	t.Logf("SMTP server back after %s", time.Since(down).Round(time.Millisecond))

	s.waitFor("all messages after the outage", time.Minute, func(d, _, _ int) bool { return d >= n })
	got := s.ids()
	dups := 0
	for _, id := range ids {
		if got[id] == 0 {
			t.Errorf("message %s lost", id)
		}
		dups += max(got[id]-1, 0)
	}
	t.Logf("%d messages, 10 s outage: %d distinct delivered, %d duplicates", n, len(got), dups)
	p.waitStatus("/readyz", 200, 10*time.Second)
	if dl := tq.deadLetters(t); len(dl) != 0 {
		t.Errorf("%d dead letters, want none; first: %s", len(dl), dl[0].Reason)
	}
}

// TestOutageLongerThanRetriesDeadLettersNothing keeps the SMTP server down (listener closed:
// connection refused) for 20 s, twice the whole retry schedule (200ms, 500ms, then 1s: 10
// deliveries in about 9 s), with a few hundred messages queued, and SIGKILLs the worker twice:
// once during the outage, once while it drains the backlog after it. The worker pauses instead
// of spending deliveries: nothing is dead-lettered, every message arrives at least once.
func TestOutageLongerThanRetriesDeadLettersNothing(t *testing.T) {
	const n, before = 300, 40
	const outage = 20 * time.Second
	tq := newTestQueue(t)
	s := newSMTPServer(t)
	ids := tq.publish(t, n, nil)
	env := tq.env(s, map[string]string{
		"KIT_MAIL_CONCURRENCY":    "4",
		"KIT_MAIL_BACKOFF":        "200ms,500ms,1s",
		"KIT_MAIL_MAX_DELIVERIES": "10",
		// A killed worker's unacknowledged messages come back after the ack wait.
		"KIT_MAIL_ACK_WAIT":      "1s",
		"KIT_MAIL_CHECK_TIMEOUT": "500ms",
	})
	// Hold DATA after the 40th message, so the outage starts with sends in flight and most of
	// the stream still queued, whatever the speed of the machine.
	s.holdAfter(before)
	p := startMailer(t, env)
	s.waitFor("sends held in flight", time.Minute, func(d, _, h int) bool { return d >= before && h > 0 })
	s.stop()
	down := time.Now()
	first := p

	// /readyz fails the worker check once it paused (the mail check fails at once).
	var body string
	for deadline := time.Now().Add(10 * time.Second); ; {
		var code int
		code, body, _ = p.get("/readyz")
		if code == 503 && strings.Contains(body, `"worker":{"status":"failed"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("/readyz during the outage does not fail the worker check: %s", body)
			break
		}
		time.Sleep(50 * time.Millisecond) // polling an HTTP endpoint: nothing to wait on
	}

	// Kill 1, in the middle of the outage: the new process forgets which deliveries the outage
	// excused, takes messages again, and pauses again.
	time.Sleep(time.Until(down.Add(outage / 2))) // the outage's length, not a synchronisation
	p.kill()
	kills := 1
	p = startMailer(t, env)
	second := p
	time.Sleep(time.Until(down.Add(outage))) // the outage's length, not a synchronisation
	atOutage, _, _ := s.counts()
	deadAtOutage := len(tq.deadLetters(t))
	s.releaseAll()
	s.start()
	up := time.Now()
	if deadAtOutage != 0 {
		t.Errorf("%d dead letters during a %s outage, want none", deadAtOutage, outage)
	}

	// settled waits until cond holds over (distinct delivered, dead-lettered), or every
	// message is delivered or dead-lettered.
	settled := func(what string, cond func(d, dead int) bool) {
		t.Helper()
		waitUntil(t, what, time.Minute, func() bool {
			d, _, _ := s.counts()
			dead := len(tq.deadLetters(t))
			return cond(d, dead) || d+dead >= n
		})
	}
	settled("a first delivery after the recovery", func(d, _ int) bool { return d > atOutage })
	firstAfter := time.Since(up)
	// The process running at the recovery logged its resume, and exports the pause metrics.
	if l, ok := second.findLog(func(l logLine) bool { return l.msg() == "queue: consumer resumed" }); !ok {
		t.Errorf("no %q log line after the recovery", "queue: consumer resumed")
	} else if pf, _ := l["paused_for"].(string); pf == "" {
		t.Errorf("resume log without paused_for: %v", l)
	}
	if _, metrics, err := second.get("/metrics"); err != nil {
		t.Error(err)
	} else {
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`(?m)^queue_consumer_paused\{[^}]*messaging_consumer_group_name="mailer"[^}]*\} 0$`),
			regexp.MustCompile(`(?m)^queue_consumer_pauses_total\{[^}]*\} [1-9]`),
		} {
			if !want.MatchString(metrics) {
				t.Errorf("/metrics has no line matching %s:\n%s", want, grepLines(metrics, "queue_"))
			}
		}
	}
	// Kill 2, while the backlog drains after the recovery.
	killAt := atOutage + (n-atOutage)/4
	settled("deliveries after the recovery", func(d, _ int) bool { return d >= killAt })
	p.kill()
	kills++
	if d, _, _ := s.counts(); d >= n {
		t.Errorf("kill 2 came after the last message: the test did not kill mid-stream")
	}
	p = startMailer(t, env)
	settled("all messages after the outage", func(d, _ int) bool { return d >= n })
	drained := time.Since(up)

	got := s.ids()
	dups := 0
	for _, id := range ids {
		dups += max(got[id]-1, 0)
	}
	dead := tq.deadLetters(t)
	t.Logf("%d messages queued, SMTP down %s (connection refused) after %d sent, %d SIGKILLs (one during the outage, one during the drain): %d distinct delivered, %d duplicates, %d dead-lettered (%d during the outage); first sent %s after the recovery, all %s after it",
		n, outage, before, kills, len(got), dups, len(dead), deadAtOutage, firstAfter.Round(time.Millisecond), drained.Round(time.Millisecond))
	if len(got) != n {
		t.Errorf("%d of %d messages delivered", len(got), n)
	}
	if len(dead) != 0 {
		t.Fatalf("%d dead letters, want none; first: %s", len(dead), dead[0].Reason)
	}
	waitUntil(t, "the stream to empty", 30*time.Second, func() bool {
		msgs, pending := tq.streamState(t, mail.DefaultConsumer)
		return msgs == 0 && pending == 0
	})
	p.waitStatus("/readyz", 200, 10*time.Second)

	// The first process logged the pause: why, and when it would probe, as a duration string.
	l, _ := first.findLog(func(l logLine) bool { return l.msg() == "queue: consumer paused" })
	if reason, _ := l["reason"].(string); !strings.Contains(reason, "connection") || l["consumer"] != mail.DefaultConsumer {
		t.Errorf("pause log reason %q consumer %v, want the connection failure and %s", reason, l["consumer"], mail.DefaultConsumer)
	}
	if retry, _ := l["retry_in"].(string); retry != "1s" {
		t.Errorf("pause log retry_in %q, want the first probe delay as a duration string, 1s", retry)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM %d, want 0", code)
	}
}

// TestPermanentFailureDeadLettersAndRedrives has the server refuse one recipient with 550: that
// message is dead-lettered at once with the reply as its reason, the others are delivered, and
// once the mailbox exists a re-drive from the dead letters delivers it, with its Message-ID.
func TestPermanentFailureDeadLettersAndRedrives(t *testing.T) {
	tq := newTestQueue(t)
	s := newSMTPServer(t)
	s.reject("nobody@example.com", true)
	ids := tq.publish(t, 3, func(i int) string {
		if i == 1 {
			return "nobody@example.com"
		}
		return "user" + strconv.Itoa(i) + "@example.com"
	})
	p := startMailer(t, tq.env(s, nil))
	s.waitFor("the two good messages", time.Minute, func(d, _, _ int) bool { return d >= 2 })

	var dead []*deadLetter
	waitUntil(t, "the dead letter", 30*time.Second, func() bool {
		dead = nil
		for _, dl := range tq.deadLetters(t) {
			dead = append(dead, &deadLetter{seq: dl.Seq, reason: dl.Reason, deliveries: dl.Deliveries, data: string(dl.Message.Data)})
		}
		return len(dead) > 0
	})
	if len(dead) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dead))
	}
	dl := dead[0]
	if !regexp.MustCompile(`550 5\.1\.1 No such user here`).MatchString(dl.reason) || !strings.Contains(dl.reason, "nobody@example.com") {
		t.Errorf("dead letter reason %q: want the server's 550 reply naming the recipient", dl.reason)
	}
	if dl.deliveries != 1 {
		t.Errorf("dead-lettered after %d deliveries; a 5xx is permanent: want 1", dl.deliveries)
	}
	if !strings.Contains(dl.data, "Message-Id: "+ids[1]) && !strings.Contains(dl.data, "Message-ID: "+ids[1]) {
		t.Errorf("dead letter is not the message %s:\n%s", ids[1], dl.data)
	}
	if got := s.ids()[ids[1]]; got != 0 {
		t.Errorf("refused message delivered %d times", got)
	}

	// The mailbox now exists: re-drive the dead letter (what kitctl mail dead retry does).
	s.reject("nobody@example.com", false)
	n, err := tq.q.Redrive(context.Background(), mail.DefaultConsumer, dl.seq)
	if err != nil || n != 1 {
		t.Fatalf("Redrive: %d, %v", n, err)
	}
	s.waitFor("the re-driven message", time.Minute, func(d, _, _ int) bool { return d >= 3 })
	if got := s.ids()[ids[1]]; got != 1 {
		t.Errorf("re-driven message %s delivered %d times, want once", ids[1], got)
	}
	if left := tq.deadLetters(t); len(left) != 0 {
		t.Errorf("%d dead letters left after the re-drive", len(left))
	}

	// The sends show in the Prometheus metrics, from kit/mail's instruments through the SDK.
	_, metrics, err := p.get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^mail_messages_sent_total\{[^}]*mail_backend="smtp"[^}]*\} 3$`),
		regexp.MustCompile(`(?m)^mail_messages_failed_total\{[^}]*\} 1$`),
		regexp.MustCompile(`(?m)^go_goroutines `),
	} {
		if !want.MatchString(metrics) {
			t.Errorf("/metrics has no line matching %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", grepLines(metrics, "mail_"))
	}
}

type deadLetter struct {
	seq        uint64
	reason     string
	deliveries int
	data       string
}

// TestSIGTERMDrainsInFlight sends SIGTERM while four sends are in flight (the server holds their
// DATA): the worker takes no new message, the four complete once the server answers and are
// acknowledged, and the process exits 0 well within the drain timeout. A second run sends the
// rest, and nothing twice.
func TestSIGTERMDrainsInFlight(t *testing.T) {
	const n, concurrency = 12, 4
	const drainTimeout = 20 * time.Second
	tq := newTestQueue(t)
	s := newSMTPServer(t)
	ids := tq.publish(t, n, nil)
	s.holdAfter(0)
	env := tq.env(s, map[string]string{
		"KIT_MAIL_CONCURRENCY":   strconv.Itoa(concurrency),
		"KIT_MAIL_DRAIN_TIMEOUT": drainTimeout.String(),
		"KIT_MAIL_SEND_TIMEOUT":  "10s",
	})
	p := startMailer(t, env)
	s.waitFor("sends in flight", time.Minute, func(_, _, h int) bool { return h == concurrency })

	p.signal(syscall.SIGTERM)
	sent := time.Now()
	p.waitLog("the drain", 10*time.Second, func(l logLine) bool { return strings.HasPrefix(l.msg(), "mailer: draining") })
	p.waitStatus("/readyz", 503, 5*time.Second) // unready while draining; metrics still served
	if code, _, err := p.get("/metrics"); err != nil || code != 200 {
		t.Errorf("/metrics while draining: %d %v", code, err)
	}
	if !p.running() {
		t.Fatal("the process exited with sends in flight")
	}
	s.releaseAll()
	code := p.wait(drainTimeout)
	t.Logf("exit %d, %s after SIGTERM", code, time.Since(sent).Round(time.Millisecond))
	if code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	d, total, _ := s.counts()
	if d != concurrency || total != concurrency {
		t.Errorf("server got %d messages (%d distinct) from the drained worker, want the %d in flight", total, d, concurrency)
	}
	msgs, pending := tq.streamState(t, mail.DefaultConsumer)
	if msgs != n-concurrency || pending != 0 {
		t.Errorf("after the drain the stream holds %d messages with %d unacknowledged; want %d and 0", msgs, pending, n-concurrency)
	}

	p = startMailer(t, env)
	s.waitFor("the rest", time.Minute, func(d, _, _ int) bool { return d >= n })
	got := s.ids()
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("message %s delivered %d times, want once", id, got[id])
		}
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(drainTimeout); code != 0 {
		t.Errorf("second run: exit code %d, want 0", code)
	}
}

// waitUntil polls cond until it holds, failing after timeout.
func waitUntil(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond) // polling the server's state: nothing to wait on
	}
}

func grepLines(s, substr string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// findLog returns the first log line matching match, if the process logged one.
func (p *proc) findLog(match func(logLine) bool) (logLine, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines {
		if match(l) {
			return l, true
		}
	}
	return nil, false
}
