// Package queuetest is kit/queue's conformance suite: every queue backend runs [Run] in its own
// tests, against a real server for network backends, and a third-party backend can too.
//
//	func TestConformance(t *testing.T) {
//		url := testenv.Get(t, "KIT_TEST_NATS_URL")
//		queuetest.Run(t, func(t *testing.T, space string, opts ...queue.Option) *queue.Queue {
//			q, err := queue.Open(t.Context(), url+"?stream="+strings.ToUpper(space)+"&subjects="+space+".>", opts...)
//			... // close q and delete the stream when t ends
//		})
//	}
//
// The [Opener] gets a subject space unique to the test: the queue it returns must accept subjects
// under space+"." and share no messages, consumers or dead letters with any other queue it
// returned. It is called from parallel subtests, must apply opts, and must close the queue and
// remove what it created on the server when the test ends.
//
// What a backend must do to pass, beyond the obvious:
//
//   - Publish stores the message with its data and headers byte for byte; a second message with
//     the same ID within the de-duplication window is dropped, with Publish returning nil.
//   - Each message goes to one durable consumer, whose subscriptions compete for it; consumer
//     subjects that overlap are ErrConflict. First deliveries come in publish order.
//   - A delivery not acked, nak'd or extended within AckWait is delivered again with its delivery
//     count incremented; Nak(delay) delivers again no sooner than delay; Ack returns once the
//     backend will not deliver the message again.
//   - A consumer given InactiveThreshold is removed once it has had no subscription for that
//     long; one without it stays.
//   - Fetch takes only as many messages as asked for, so a stopped consumer leaves the messages it
//     did not start to the next one, undelivered.
//   - Dead letters keep the original ID, data and headers, are listed oldest first, and can be
//     removed one by one.
//
// Waits poll with a deadline or use channels; none sleeps to synchronise. Timing assertions are
// lower bounds only.
package queuetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/queue"
)

// Opener opens a queue whose backend accepts subjects under space+"." (the suite publishes to
// subjects such as space+".orders"), with opts applied. It closes the queue and removes what it
// created when t ends.
type Opener func(t *testing.T, space string, opts ...queue.Option) *queue.Queue

// Run runs the conformance suite against the queues open returns.
func Run(t *testing.T, open Opener) {
	s := &suite{open: open}
	t.Run("RoundTrip", s.testRoundTrip)
	t.Run("Dedup", s.testDedup)
	t.Run("Concurrency", s.testConcurrency)
	t.Run("CompetingConsumers", s.testCompeting)
	t.Run("Conflict", s.testConflict)
	t.Run("InactiveThreshold", s.testInactive)
	t.Run("ConsumerDeleted", s.testConsumerDeleted)
	t.Run("Retry", s.testRetry)
	t.Run("RetryAfter", s.testRetryAfter)
	t.Run("Panic", s.testPanic)
	t.Run("MaxDeliveries", s.testMaxDeliveries)
	t.Run("Permanent", s.testPermanent)
	t.Run("Pause", s.testPause)
	t.Run("Redrive", s.testRedrive)
	t.Run("PurgeDead", s.testPurgeDead)
	t.Run("Purge", s.testPurge)
	t.Run("Drain", s.testDrain)
	t.Run("AckWaitExtended", s.testAckWaitExtended)
	t.Run("AckWaitExpiry", s.testAckWaitExpiry)
	t.Run("CrashLoopDeadLetter", s.testCrashLoop)
	t.Run("AtLeastOnce", s.testAtLeastOnce)
	t.Run("Trace", s.testTrace)
	t.Run("BadOptions", s.testBadOptions)
	t.Run("Stats", s.testStats)
	t.Run("Closed", s.testClosed)
}

type suite struct{ open Opener }

// Space returns a fresh subject space token: lower-case letters and digits, starting with a
// letter, usable as a subject token and, upper-cased, as a JetStream stream name.
func Space() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "qt" + hex.EncodeToString(b)
}

// queue opens a queue on a fresh space and returns it with the space.
func (s *suite) queue(t *testing.T, opts ...queue.Option) (*queue.Queue, string) {
	t.Helper()
	space := Space()
	return s.open(t, space, opts...), space
}

// waitTimeout bounds every wait in the suite. Every wait ends as soon as what it waits for
// happens, so the bound costs a passing run nothing; it is wide because the suite runs its tests
// in parallel, against a server sharing a small, loaded machine (20s once ran out at load ~10).
const waitTimeout = 60 * time.Second

// eventually polls cond until it holds or waitTimeout passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// receive waits for a value on ch.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// running is a Consume call running in the background.
type running struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Consume returned
	err    error         // what it returned, once done is closed
}

// wait waits for Consume to return and returns its error.
func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(waitTimeout):
		t.Fatalf("Consume did not return")
		return nil
	}
}

// stop cancels the consumer and returns what Consume returned.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	return r.wait(t)
}

// consume starts Consume in the background and waits until it is subscribed; the consumer is
// stopped when the test ends if not before.
func consume(t *testing.T, q *queue.Queue, name, subject string, h queue.Handler, opts ...queue.ConsumeOption) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	r := &running{cancel: cancel, done: make(chan struct{})}
	opts = append(opts, queue.Ready(func() { close(ready) }))
	go func() {
		r.err = q.Consume(ctx, name, subject, h, opts...)
		close(r.done)
	}()
	select {
	case <-ready:
	case <-r.done:
		cancel()
		t.Fatalf("Consume(%q, %q) returned before it was ready: %v", name, subject, r.err)
	case <-time.After(waitTimeout):
		cancel()
		t.Fatalf("Consume(%q, %q) not ready", name, subject)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(waitTimeout):
			t.Errorf("Consume(%q) did not return after cancel", name)
		}
	})
	return r
}

// publish publishes a message with data and an optional ID, failing the test on error.
func publish(t *testing.T, q *queue.Queue, subject, id, data string) {
	t.Helper()
	if err := q.Publish(context.Background(), &queue.Message{Subject: subject, ID: id, Data: []byte(data)}); err != nil {
		t.Fatalf("Publish(%s, id %q): %v", subject, id, err)
	}
}

// recorder collects what handlers saw.
type recorder struct {
	mu   sync.Mutex
	msgs []*queue.Message
	at   []time.Time
	ch   chan *queue.Message
}

func newRecorder() *recorder { return &recorder{ch: make(chan *queue.Message, 1000)} }

func (r *recorder) add(m *queue.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.at = append(r.at, time.Now())
	r.mu.Unlock()
	select {
	case r.ch <- m:
	default:
	}
}

func (r *recorder) snapshot() ([]*queue.Message, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*queue.Message(nil), r.msgs...), append([]time.Time(nil), r.at...)
}

// count returns how many deliveries carried data.
func (r *recorder) count(data string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if string(m.Data) == data {
			n++
		}
	}
	return n
}

// deadLetters lists the consumer's dead letters, failing the test on error.
func deadLetters(t *testing.T, q *queue.Queue, name string) []*queue.DeadLetter {
	t.Helper()
	var out []*queue.DeadLetter
	for dl, err := range q.DeadLetters(context.Background(), name) {
		if err != nil {
			t.Fatalf("DeadLetters(%q): %v", name, err)
		}
		out = append(out, dl)
	}
	return out
}

// waitDead waits until the consumer has n dead letters and returns them.
func waitDead(t *testing.T, q *queue.Queue, name string, n int) []*queue.DeadLetter {
	t.Helper()
	var dls []*queue.DeadLetter
	eventually(t, "dead letters", func() bool {
		dls = deadLetters(t, q, name)
		return len(dls) >= n
	})
	if len(dls) != n {
		t.Fatalf("got %d dead letters, want %d", len(dls), n)
	}
	return dls
}

var errBoom = errors.New("boom")
