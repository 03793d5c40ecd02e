package queuetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/queue"
)

func (s *suite) testDrain(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	subject := space + ".drain"
	const total, concurrency = 6, 2
	for i := range total {
		publish(t, q, subject, fmt.Sprint("m", i), fmt.Sprint(i))
	}
	started := make(chan string, total)
	release := make(chan struct{})
	var finished sync.Map
	r := consume(t, q, "drain", subject, func(_ context.Context, m *queue.Message) error {
		started <- string(m.Data)
		<-release
		finished.Store(string(m.Data), true)
		return nil
	}, queue.Concurrency(concurrency), queue.AckWait(time.Second))
	first := map[string]bool{}
	for range concurrency {
		first[receive(t, started, "a handler to start")] = true
	}
	r.cancel()
	select {
	case <-r.done:
		t.Fatalf("Consume returned %v while its handlers were running; want it to wait for them", r.err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := r.wait(t); err != nil {
		t.Errorf("Consume after cancel = %v, want nil", err)
	}
	for d := range first {
		if _, ok := finished.Load(d); !ok {
			t.Errorf("handler for %s did not finish before Consume returned", d)
		}
	}
	if extra := len(started); extra != 0 {
		t.Errorf("%d more handlers started after cancel", extra)
	}

	// The next consumer gets exactly the messages the first did not start, each on its first
	// delivery; the two it finished were acked and do not come back.
	rec := newRecorder()
	consume(t, q, "drain", subject, func(_ context.Context, m *queue.Message) error {
		rec.add(m)
		return nil
	})
	publish(t, q, subject, "", "fence")
	eventually(t, "the fence", func() bool { return rec.count("fence") == 1 })
	msgs, _ := rec.snapshot()
	got := map[string]bool{}
	for _, m := range msgs {
		if first[string(m.Data)] {
			t.Errorf("message %s, acked during the drain, was delivered again", m.Data)
		}
		if m.Delivery != 1 {
			t.Errorf("message %s: Delivery = %d, want 1 (the stopped consumer never took it)", m.Data, m.Delivery)
		}
		got[string(m.Data)] = true
	}
	for i := range total {
		if d := fmt.Sprint(i); !first[d] && !got[d] {
			t.Errorf("message %s, not started by the stopped consumer, was not delivered to the next", d)
		}
	}
}

func (s *suite) testAckWaitExtended(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	subject := space + ".slow"
	var slow, slowDone, fences atomic.Int32
	h := func(_ context.Context, m *queue.Message) error {
		if string(m.Data) == "slow" {
			slow.Add(1)
			time.Sleep(2 * time.Second) // the work: four times AckWait
			slowDone.Add(1)
			return nil
		}
		fences.Add(1)
		return nil
	}
	// Two subscriptions of one consumer: had the ack wait expired, the idle one would have got
	// the slow message while the first still worked on it.
	consume(t, q, "slow", subject, h, queue.AckWait(500*time.Millisecond))
	consume(t, q, "slow", subject, h, queue.AckWait(500*time.Millisecond))
	publish(t, q, subject, "", "slow")
	eventually(t, "the slow handler to finish", func() bool { return slowDone.Load() >= 1 })
	publish(t, q, subject, "", "fence")
	eventually(t, "the fence", func() bool { return fences.Load() == 1 })
	if n := slow.Load(); n != 1 {
		t.Errorf("a handler running past AckWait had its message delivered %d times; the consumer should extend the ack wait while it runs", n)
	}
}

func (s *suite) testAckWaitExpiry(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	subject := space + ".expiry"
	publish(t, q, subject, "e1", "abandoned")
	d := q.Driver()
	ctx := context.Background()
	cfg := queue.ConsumerConfig{Name: "expiry", Subject: subject, DeadLetter: d.DefaultDeadLetter("expiry"), AckWait: 300 * time.Millisecond}
	hung, err := d.Subscribe(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	took := time.Now() // before the fetch: the server's ack-wait clock starts after this
	first := fetch(t, hung, 1)[0]
	// A second subscription gets it again once the first has held it past AckWait.
	other, err := d.Subscribe(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	again := fetch(t, other, 1)[0]
	if gap := time.Since(took); gap < 300*time.Millisecond {
		t.Errorf("redelivered %s after the first delivery, before AckWait (300ms)", gap)
	}
	m := again.Message()
	if m.Delivery != 2 || m.ID != "e1" || string(m.Data) != "abandoned" {
		t.Errorf("redelivery: Delivery %d ID %q Data %q; want 2, e1, abandoned", m.Delivery, m.ID, m.Data)
	}
	// A stale delivery's Nak and InProgress change nothing; an Ack settles it.
	_ = first.Nak(ctx, 0)
	if err := again.Ack(ctx); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	publish(t, q, subject, "", "fence")
	if m := fetch(t, other, 1)[0].Message(); string(m.Data) != "fence" {
		t.Errorf("after Ack, got %q again, want the fence", m.Data)
	}
}

func (s *suite) testAtLeastOnce(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	subject := space + ".alo"
	const total = 60
	for i := range total {
		publish(t, q, subject, fmt.Sprint("alo-", i), fmt.Sprint(i))
	}
	var mu sync.Mutex
	handled := make(map[string]int)
	var count atomic.Int32
	h := func(_ context.Context, m *queue.Message) error {
		time.Sleep(time.Millisecond) // the work
		mu.Lock()
		handled[string(m.Data)]++
		mu.Unlock()
		count.Add(1)
		return nil
	}
	first := consume(t, q, "alo", subject, h, queue.Concurrency(4))
	eventually(t, "some messages handled", func() bool { return count.Load() >= total/3 })
	if err := first.stop(t); err != nil {
		t.Fatalf("Consume after cancel = %v", err)
	}
	stoppedAt := count.Load()
	if stoppedAt >= total {
		t.Logf("the first consumer handled everything before it was stopped; the test proves less")
	}
	consume(t, q, "alo", subject, h, queue.Concurrency(3))
	eventually(t, "every message handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == total
	})
	publish(t, q, subject, "", "fence")
	eventually(t, "the fence", func() bool { mu.Lock(); defer mu.Unlock(); return handled["fence"] == 1 })
	mu.Lock()
	defer mu.Unlock()
	for i := range total {
		if n := handled[fmt.Sprint(i)]; n != 1 {
			t.Errorf("message %d handled %d times across a graceful stop, want once", i, n)
		}
	}
}
