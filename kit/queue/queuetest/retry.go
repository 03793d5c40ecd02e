package queuetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/queue"
)

func (s *suite) testRetry(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	subject := space + ".retry"
	rec := newRecorder()
	backoff := []time.Duration{300 * time.Millisecond, 600 * time.Millisecond}
	consume(t, q, "retry", subject, func(_ context.Context, m *queue.Message) error {
		rec.add(m)
		if m.Delivery < 3 {
			return fmt.Errorf("attempt %d: %w", m.Delivery, errBoom)
		}
		return nil
	}, queue.Backoff(backoff...), queue.MaxDeliveries(3))
	publish(t, q, subject, "r1", "retry me")
	for i := range 3 {
		receive(t, rec.ch, fmt.Sprintf("delivery %d", i+1))
	}
	msgs, at := rec.snapshot()
	for i, m := range msgs {
		if m.Delivery != i+1 {
			t.Errorf("delivery %d has Delivery = %d", i+1, m.Delivery)
		}
		if m.ID != "r1" || string(m.Data) != "retry me" {
			t.Errorf("delivery %d: ID %q data %q, want the original", i+1, m.ID, m.Data)
		}
	}
	for i, want := range backoff {
		if gap := at[i+1].Sub(at[i]); gap < want {
			t.Errorf("delivery %d came %s after delivery %d, want at least the backoff %s", i+2, gap, i+1, want)
		}
	}
	// It succeeded on the last allowed delivery: no dead letter, no fourth delivery.
	publish(t, q, subject, "", "fence")
	eventually(t, "the fence", func() bool { return rec.count("fence") == 1 })
	if n := rec.count("retry me"); n != 3 {
		t.Errorf("delivered %d times, want 3", n)
	}
	if dls := deadLetters(t, q, "retry"); len(dls) != 0 {
		t.Errorf("%d dead letters for a message that succeeded", len(dls))
	}
}

func (s *suite) testRetryAfter(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	subject := space + ".retryafter"
	rec := newRecorder()
	consume(t, q, "retryafter", subject, func(_ context.Context, m *queue.Message) error {
		rec.add(m)
		if m.Delivery == 1 {
			return queue.RetryAfter(errors.New("rate limited"), 500*time.Millisecond)
		}
		return nil
	}, queue.Backoff(10*time.Millisecond))
	publish(t, q, subject, "", "later")
	receive(t, rec.ch, "delivery 1")
	receive(t, rec.ch, "delivery 2")
	_, at := rec.snapshot()
	if gap := at[1].Sub(at[0]); gap < 500*time.Millisecond {
		t.Errorf("RetryAfter(500ms) redelivered after %s", gap)
	}
}

func (s *suite) testPanic(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	subject := space + ".panic"
	rec := newRecorder()
	consume(t, q, "panic", subject, func(_ context.Context, m *queue.Message) error {
		rec.add(m)
		if m.Delivery == 1 {
			panic("handler bug")
		}
		return nil
	}, queue.Backoff(10*time.Millisecond))
	publish(t, q, subject, "", "p")
	receive(t, rec.ch, "delivery 1")
	if m := receive(t, rec.ch, "the retry after a panic"); m.Delivery != 2 {
		t.Errorf("Delivery = %d after a panic, want 2", m.Delivery)
	}
}

func (s *suite) testMaxDeliveries(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	subject := space + ".fail"
	var calls atomic.Int32
	consume(t, q, "failing", subject, func(_ context.Context, m *queue.Message) error {
		calls.Add(1)
		return fmt.Errorf("smtp 451 on delivery %d: %w", m.Delivery, errBoom)
	}, queue.MaxDeliveries(3), queue.Backoff(20*time.Millisecond))
	before := time.Now().Add(-time.Second)
	if err := q.Publish(context.Background(), &queue.Message{
		Subject: subject, ID: "mail-7", Data: []byte("hello"), Header: queue.Header{"X-Tenant": {"acme"}},
	}); err != nil {
		t.Fatal(err)
	}
	dl := waitDead(t, q, "failing", 1)[0]
	if n := calls.Load(); n != 3 {
		t.Errorf("handler called %d times, want MaxDeliveries (3)", n)
	}
	if dl.Deliveries != 3 {
		t.Errorf("Deliveries = %d, want 3", dl.Deliveries)
	}
	if !strings.Contains(dl.Reason, "smtp 451 on delivery 3") {
		t.Errorf("Reason = %q, want the last handler error", dl.Reason)
	}
	checkDead(t, dl, subject, "failing", "mail-7", "hello", before)
	if got := dl.Message.Header.Get("X-Tenant"); got != "acme" {
		t.Errorf("dead letter lost the header X-Tenant: %q", got)
	}
	if got := dl.Message.Header.Get(queue.HeaderDeadReason); got != "" {
		t.Errorf("DeadLetter.Message carries %s = %q; the dead-letter headers belong in the fields", queue.HeaderDeadReason, got)
	}
	// The message left the queue: a fence comes through and the dead one does not.
	var fenced atomic.Bool
	consume(t, q, "failing2", space+".fence", func(context.Context, *queue.Message) error { fenced.Store(true); return nil })
	publish(t, q, space+".fence", "", "fence")
	eventually(t, "the fence", fenced.Load)
}

// checkDead checks the fields every dead letter has.
func checkDead(t *testing.T, dl *queue.DeadLetter, subject, consumer, id, data string, before time.Time) {
	t.Helper()
	if dl.Seq == 0 {
		t.Errorf("dead letter Seq = 0")
	}
	if dl.Subject != subject || dl.Message.Subject != subject {
		t.Errorf("dead letter Subject = %q, Message.Subject = %q; want the original %q", dl.Subject, dl.Message.Subject, subject)
	}
	if dl.Consumer != consumer {
		t.Errorf("dead letter Consumer = %q, want %q", dl.Consumer, consumer)
	}
	if dl.Message.ID != id {
		t.Errorf("dead letter ID = %q, want the original %q", dl.Message.ID, id)
	}
	if string(dl.Message.Data) != data {
		t.Errorf("dead letter Data = %q, want %q", dl.Message.Data, data)
	}
	if dl.Time.Before(before) || dl.Time.After(time.Now().Add(time.Second)) {
		t.Errorf("dead letter Time = %v, not around now", dl.Time)
	}
}

func (s *suite) testPermanent(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	subject := space + ".perm"
	var calls atomic.Int32
	errBadAddress := errors.New("550 no such user")
	consume(t, q, "perm", subject, func(_ context.Context, m *queue.Message) error {
		calls.Add(1)
		return queue.Permanent(fmt.Errorf("send: %w", errBadAddress))
	}, queue.MaxDeliveries(5), queue.Backoff(time.Hour))
	before := time.Now().Add(-time.Second)
	publish(t, q, subject, "p-1", "to nobody")
	dl := waitDead(t, q, "perm", 1)[0]
	if n := calls.Load(); n != 1 {
		t.Errorf("handler called %d times for a permanent error, want 1", n)
	}
	if dl.Deliveries != 1 {
		t.Errorf("Deliveries = %d, want 1", dl.Deliveries)
	}
	if dl.Reason != "send: 550 no such user" {
		t.Errorf("Reason = %q, want the handler's error", dl.Reason)
	}
	checkDead(t, dl, subject, "perm", "p-1", "to nobody", before)
}

// deadOnes makes n dead letters for consumer name on subject (data "d0", "d1", ...) and returns
// them; the consumer is stopped.
func deadOnes(t *testing.T, q *queue.Queue, name, subject string, n int) []*queue.DeadLetter {
	t.Helper()
	// A short backoff: should storing a dead letter fail on a loaded machine (a backend timeout),
	// the message comes again at once rather than after DefaultBackoff's seconds.
	r := consume(t, q, name, subject, func(context.Context, *queue.Message) error {
		return queue.Permanent(errBoom)
	}, queue.Backoff(10*time.Millisecond))
	for i := range n {
		publish(t, q, subject, fmt.Sprint(name, "-", i), fmt.Sprint("d", i))
	}
	dls := waitDead(t, q, name, n)
	if err := r.stop(t); err != nil {
		t.Fatalf("Consume returned %v after cancel, want nil", err)
	}
	for i, dl := range dls {
		if string(dl.Message.Data) != fmt.Sprint("d", i) {
			t.Errorf("dead letter %d is %q; want oldest first", i, dl.Message.Data)
		}
	}
	return dls
}

func (s *suite) testRedrive(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	subject := space + ".redrive"
	dls := deadOnes(t, q, "redrive", subject, 3)

	// Unknown sequences are ErrNotFound; the known ones are still re-driven.
	n, err := q.Redrive(context.Background(), "redrive", dls[1].Seq, dls[2].Seq+1000)
	if !errors.Is(err, queue.ErrNotFound) || n != 1 {
		t.Errorf("Redrive(known, unknown) = %d, %v; want 1, ErrNotFound", n, err)
	}
	if left := deadLetters(t, q, "redrive"); len(left) != 2 || left[0].Seq != dls[0].Seq || left[1].Seq != dls[2].Seq {
		t.Errorf("after re-driving one, %d dead letters remain, want the other 2", len(left))
	}
	rec := newRecorder()
	consume(t, q, "redrive", subject, func(_ context.Context, m *queue.Message) error {
		rec.add(m)
		return nil
	})
	m := receive(t, rec.ch, "the re-driven message")
	if string(m.Data) != "d1" || m.Subject != subject {
		t.Errorf("re-driven message %q on %q, want d1 on %q", m.Data, m.Subject, subject)
	}
	if m.Header.Get(queue.HeaderRedrivenFrom) != "redrive-1" {
		t.Errorf("re-driven message %s = %q, want redrive-1", queue.HeaderRedrivenFrom, m.Header.Get(queue.HeaderRedrivenFrom))
	}
	if m.Header.Get(queue.HeaderDeadReason) != "" {
		t.Errorf("re-driven message still carries %s", queue.HeaderDeadReason)
	}
	if m.ID == "" || m.ID == "redrive-1" {
		t.Errorf("re-driven message ID = %q; want a new one derived from redrive-1 (the original is within the de-dup window)", m.ID)
	}
	n, err = q.Redrive(context.Background(), "redrive")
	if err != nil || n != 2 {
		t.Fatalf("Redrive(all) = %d, %v; want 2, nil", n, err)
	}
	receive(t, rec.ch, "re-driven message 2")
	receive(t, rec.ch, "re-driven message 3")
	if left := deadLetters(t, q, "redrive"); len(left) != 0 {
		t.Errorf("%d dead letters left after Redrive(all)", len(left))
	}
	if n, err := q.Redrive(context.Background(), "redrive"); n != 0 || err != nil {
		t.Errorf("Redrive with no dead letters = %d, %v; want 0, nil", n, err)
	}
}

func (s *suite) testPurgeDead(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	dls := deadOnes(t, q, "purgedead", space+".pd", 3)
	other := deadOnes(t, q, "otherdead", space+".other", 1)
	n, err := q.PurgeDead(context.Background(), "purgedead", dls[0].Seq)
	if err != nil || n != 1 {
		t.Fatalf("PurgeDead(seq) = %d, %v; want 1, nil", n, err)
	}
	if n, err := q.PurgeDead(context.Background(), "purgedead", dls[0].Seq); !errors.Is(err, queue.ErrNotFound) || n != 0 {
		t.Errorf("PurgeDead of a purged seq = %d, %v; want 0, ErrNotFound", n, err)
	}
	if n, err := q.PurgeDead(context.Background(), "purgedead", other[0].Seq); !errors.Is(err, queue.ErrNotFound) || n != 0 {
		t.Errorf("PurgeDead of another consumer's seq = %d, %v; want 0, ErrNotFound", n, err)
	}
	if left := deadLetters(t, q, "purgedead"); len(left) != 2 {
		t.Errorf("%d dead letters left, want 2", len(left))
	}
	if n, err := q.PurgeDead(context.Background(), "purgedead"); err != nil || n != 2 {
		t.Errorf("PurgeDead(all) = %d, %v; want 2, nil", n, err)
	}
	if left := deadLetters(t, q, "purgedead"); len(left) != 0 {
		t.Errorf("%d dead letters left after PurgeDead(all)", len(left))
	}
	if left := deadLetters(t, q, "otherdead"); len(left) != 1 {
		t.Errorf("another consumer has %d dead letters after PurgeDead, want its 1", len(left))
	}
}

func (s *suite) testCrashLoop(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	subject := space + ".crash"
	publish(t, q, subject, "c1", "crashes its handler")
	// Stand in for a process that dies while handling: take the message through the driver,
	// never settle it, and let the ack wait expire, twice.
	d := q.Driver()
	ctx := context.Background()
	sub, err := d.Subscribe(ctx, queue.ConsumerConfig{Name: "crash", Subject: subject,
		DeadLetter: d.DefaultDeadLetter("crash"), AckWait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for want := 1; want <= 2; want++ {
		ds := fetch(t, sub, 1)
		if got := ds[0].Message().Delivery; got != want {
			t.Fatalf("Delivery = %d, want %d", got, want)
		}
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	consume(t, q, "crash", subject, func(context.Context, *queue.Message) error {
		calls.Add(1)
		return nil
	}, queue.MaxDeliveries(2), queue.AckWait(200*time.Millisecond))
	dl := waitDead(t, q, "crash", 1)[0]
	if calls.Load() != 0 {
		t.Errorf("handler called for a message delivered more than MaxDeliveries times")
	}
	if dl.Deliveries != 3 || !strings.Contains(dl.Reason, "MaxDeliveries") {
		t.Errorf("dead letter Deliveries %d Reason %q; want 3 and a reason naming MaxDeliveries", dl.Deliveries, dl.Reason)
	}
}

// fetch fetches until it gets n deliveries.
func fetch(t *testing.T, sub queue.Subscription, n int) []queue.Delivery {
	t.Helper()
	var out []queue.Delivery
	deadline := time.Now().Add(waitTimeout)
	for len(out) < n {
		if time.Now().After(deadline) {
			t.Fatalf("fetched %d deliveries, want %d", len(out), n)
		}
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		ds, err := sub.Fetch(ctx, n-len(out))
		cancel()
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		out = append(out, ds...)
	}
	return out
}
