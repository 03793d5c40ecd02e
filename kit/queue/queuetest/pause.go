package queuetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/queue"
)

// outage is a handler's downstream that can be down: the handler returns queue.Unavailable
// while it is, and the probe fails.
type outage struct {
	down   atomic.Bool
	probes atomic.Int32

	mu      sync.Mutex
	calls   []time.Time // handler calls while down
	handled map[string]int
	failed  map[string]bool // messages failed once (an ordinary error) after the recovery
	pauses  []error         // OnPause calls, in order
	changed chan struct{}
}

var errDown = errors.New("connection refused")

func newOutage() *outage {
	o := &outage{handled: map[string]int{}, failed: map[string]bool{}, changed: make(chan struct{})}
	o.down.Store(true)
	return o
}

func (o *outage) notify() {
	close(o.changed)
	o.changed = make(chan struct{})
}

// handle is the handler: Unavailable while down; after the recovery, a message that was
// delivered during the outage fails once with an ordinary error, so that, with MaxDeliveries(2),
// it is dead-lettered unless the outage's deliveries are excused.
func (o *outage) handle(_ context.Context, m *queue.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	defer o.notify()
	if o.down.Load() {
		o.calls = append(o.calls, time.Now())
		return queue.Unavailable(fmt.Errorf("dial: %w", errDown))
	}
	data := string(m.Data)
	if m.Delivery >= 2 && !o.failed[data] && len(o.failed) == 0 {
		o.failed[data] = true
		return fmt.Errorf("451 try again: %w", errBoom)
	}
	o.handled[data]++
	return nil
}

func (o *outage) probe(context.Context) error {
	o.probes.Add(1)
	if o.down.Load() {
		return errDown
	}
	return nil
}

func (o *outage) onPause(reason error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pauses = append(o.pauses, reason)
	o.notify()
}

// waitFor waits until cond holds under o.mu.
func (o *outage) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		ok, ch := cond(), o.changed
		o.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (o *outage) callCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.calls)
}

// testPause: a handler whose downstream is down pauses the consumer: no message is fetched while
// a probe fails, none is dead-lettered however long the outage lasts (MaxDeliveries 2, many
// probes), the deliveries it cost do not count, and everything is handled after the recovery.
func (s *suite) testPause(t *testing.T) {
	t.Parallel()
	t.Run("Probe", s.testPauseProbe)
	t.Run("HalfOpen", s.testPauseHalfOpen)
	t.Run("IdleResumes", s.testPauseIdleResumes)
	t.Run("BadOption", func(t *testing.T) {
		t.Parallel()
		q, space := s.queue(t)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		for _, o := range []queue.ConsumeOption{queue.ProbeBackoff(0, time.Second), queue.ProbeBackoff(time.Second, time.Millisecond)} {
			err := q.Consume(ctx, "c", space+".x", func(context.Context, *queue.Message) error { return nil }, o)
			if !errors.Is(err, queue.ErrInvalidOption) || !strings.Contains(err.Error(), "ProbeBackoff") {
				t.Errorf("bad ProbeBackoff: Consume = %v; want ErrInvalidOption naming ProbeBackoff", err)
			}
		}
	})
}

func (s *suite) testPauseProbe(t *testing.T) {
	t.Parallel()
	const n, concurrency = 6, 2
	q, space := s.queue(t)
	subject := space + ".pause"
	for i := range n {
		publish(t, q, subject, "", fmt.Sprint("m", i))
	}
	o := newOutage()
	consume(t, q, "pause", subject, o.handle, queue.Concurrency(concurrency), queue.MaxDeliveries(2),
		queue.Backoff(10*time.Millisecond), queue.Probe(o.probe), queue.ProbeBackoff(20*time.Millisecond, 40*time.Millisecond),
		queue.OnPause(o.onPause))

	o.waitFor(t, "the pause", func() bool { return len(o.pauses) > 0 })
	// The handlers running when the outage hit finish; then the consumer fetches nothing while
	// the probe fails, however many probes it takes.
	eventually(t, "3 probes", func() bool { return o.probes.Load() >= 3 })
	atPause := o.callCount()
	if atPause > concurrency {
		t.Errorf("handler called %d times by the time of the third probe, want at most the %d running when the outage hit", atPause, concurrency)
	}
	eventually(t, "20 probes", func() bool { return o.probes.Load() >= 20 })
	if calls := o.callCount(); calls != atPause {
		t.Errorf("handler called %d times while paused (probes failing), want 0", calls-atPause)
	}
	if dls := deadLetters(t, q, "pause"); len(dls) != 0 {
		t.Errorf("%d dead letters during an outage, want none; first: %s", len(dls), dls[0].Reason)
	}

	o.down.Store(false)
	o.waitFor(t, "every message handled after the recovery", func() bool { return len(o.handled) == n })
	o.waitFor(t, "the resume", func() bool { return len(o.pauses) >= 2 })
	o.mu.Lock()
	pauses, failed := append([]error(nil), o.pauses...), len(o.failed)
	o.mu.Unlock()
	if !errors.Is(pauses[0], queue.ErrUnavailable) || !errors.Is(pauses[0], errDown) {
		t.Errorf("OnPause got %v, want the handler's Unavailable error", pauses[0])
	}
	if pauses[1] != nil {
		t.Errorf("second OnPause call = %v, want nil (resumed)", pauses[1])
	}
	if len(pauses) != 2 {
		t.Errorf("OnPause called %d times (%v), want 2: one pause, one resume", len(pauses), pauses)
	}
	if failed != 1 {
		t.Errorf("no message delivered during the outage failed after it; the test did not check the excused count")
	}
	// The message that failed once after the recovery had 2 deliveries counted by the backend
	// at its failure: with MaxDeliveries(2) it is dead-lettered unless the outage's is excused.
	publish(t, q, subject, "", "fence")
	o.waitFor(t, "the fence", func() bool { return o.handled["fence"] == 1 })
	if dls := deadLetters(t, q, "pause"); len(dls) != 0 {
		t.Errorf("%d dead letters, want none: an outage's deliveries count toward MaxDeliveries; first: %s", len(dls), dls[0].Reason)
	}
}

func (s *suite) testPauseHalfOpen(t *testing.T) {
	t.Parallel()
	const n, concurrency = 3, 2
	const probeDelay = 100 * time.Millisecond
	q, space := s.queue(t)
	subject := space + ".halfopen"
	for i := range n {
		publish(t, q, subject, "", fmt.Sprint("m", i))
	}
	o := newOutage()
	// No probe: the consumer tries one message per probe delay.
	consume(t, q, "halfopen", subject, o.handle, queue.Concurrency(concurrency), queue.MaxDeliveries(2),
		queue.Backoff(10*time.Millisecond), queue.ProbeBackoff(probeDelay, probeDelay), queue.OnPause(o.onPause))
	// 10 calls over 3 messages: some message was delivered more than MaxDeliveries times.
	o.waitFor(t, "10 trial deliveries", func() bool { return len(o.calls) >= 10 })
	if dls := deadLetters(t, q, "halfopen"); len(dls) != 0 {
		t.Errorf("%d dead letters during an outage, want none; first: %s", len(dls), dls[0].Reason)
	}
	o.down.Store(false)
	o.waitFor(t, "every message handled after the recovery", func() bool { return len(o.handled) == n })
	o.mu.Lock()
	calls := append([]time.Time(nil), o.calls...)
	o.mu.Unlock()
	// After the calls running when the outage hit, one trial at a time, a probe delay apart.
	for i := concurrency; i+1 < len(calls); i++ {
		if gap := calls[i+1].Sub(calls[i]); gap < probeDelay*9/10 {
			t.Errorf("trial %d came %s after the one before, want at least the probe delay %s", i+1, gap, probeDelay)
		}
	}
	publish(t, q, subject, "", "fence")
	o.waitFor(t, "the fence", func() bool { return o.handled["fence"] == 1 })
	if dls := deadLetters(t, q, "halfopen"); len(dls) != 0 {
		t.Errorf("%d dead letters, want none; first: %s", len(dls), dls[0].Reason)
	}
}

// testPauseIdleResumes: with a probe, a consumer whose queue emptied during the outage (the
// message it handed back was taken by another process, or purged) resumes once the probe passes
// and a trial finds nothing to try: an idle worker must not report itself paused for ever.
func (s *suite) testPauseIdleResumes(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	subject := space + ".idle"
	publish(t, q, subject, "", "only")
	o := newOutage()
	consume(t, q, "idle", subject, o.handle, queue.Probe(o.probe),
		queue.ProbeBackoff(20*time.Millisecond, 40*time.Millisecond), queue.OnPause(o.onPause))
	o.waitFor(t, "the pause", func() bool { return len(o.pauses) > 0 })
	if _, err := q.Purge(context.Background(), subject); err != nil {
		t.Fatal(err)
	}
	o.down.Store(false)
	o.waitFor(t, "the resume of an idle consumer", func() bool { return len(o.pauses) >= 2 })
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pauses[1] != nil {
		t.Errorf("second OnPause call = %v, want nil (resumed)", o.pauses[1])
	}
}
