package queuetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/queue"
)

func (s *suite) testRoundTrip(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	subject := space + ".orders.created"
	rec := newRecorder()
	consume(t, q, "roundtrip", space+".orders.>", func(_ context.Context, m *queue.Message) error {
		rec.add(m)
		return nil
	})

	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10/16) // 64 KiB
	sent := []*queue.Message{
		{Subject: subject, ID: "order-1", Data: []byte(`{"id":1}`), Header: queue.Header{
			"Content-Type": {"application/json"}, "X-Multi": {"a", "b"}, "x-lower": {"v"},
		}},
		{Subject: subject, Data: nil},
		{Subject: subject, Data: big},
		{Subject: subject, Data: []byte{0, 1, 2, 0xff, '\r', '\n'}},
	}
	before := time.Now().Add(-time.Second)
	for _, m := range sent {
		if err := q.Publish(context.Background(), m); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	for i, want := range sent {
		got := receive(t, rec.ch, fmt.Sprintf("message %d", i))
		if got.Subject != subject {
			t.Errorf("message %d: Subject = %q, want %q", i, got.Subject, subject)
		}
		if !bytes.Equal(got.Data, want.Data) {
			t.Errorf("message %d: Data = %d bytes, want %d (in publish order)", i, len(got.Data), len(want.Data))
		}
		if got.ID != want.ID {
			t.Errorf("message %d: ID = %q, want %q", i, got.ID, want.ID)
		}
		if got.Delivery != 1 {
			t.Errorf("message %d: Delivery = %d, want 1", i, got.Delivery)
		}
		if got.Published.Before(before) || got.Published.After(time.Now().Add(time.Second)) {
			t.Errorf("message %d: Published = %v, not around now", i, got.Published)
		}
		if got.Seq == 0 {
			t.Errorf("message %d: Seq = 0", i)
		}
	}
	first, _ := rec.snapshot()
	h := first[0].Header
	if got := h.Get("content-type"); got != "application/json" {
		t.Errorf(`Header.Get("content-type") = %q`, got)
	}
	if got := h.Values("X-Multi"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("X-Multi = %q, want [a b]", got)
	}
	if got := h.Get("X-Lower"); got != "v" {
		t.Errorf("a header published as x-lower reads back as %q, want v", got)
	}
}

func (s *suite) testDedup(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	subject := space + ".dedup"
	if w := q.Driver().Capabilities().DedupWindow; w < 10*time.Second {
		t.Errorf("DedupWindow = %s; the suite needs at least 10s to test within it", w)
	}
	publish(t, q, subject, "a", "first a")
	publish(t, q, subject, "a", "second a")
	publish(t, q, subject, "b", "b")
	publish(t, q, subject, "a", "third a")
	publish(t, q, subject, "", "no id 1")
	publish(t, q, subject, "", "no id 2")
	publish(t, q, subject, "fence", "fence")
	rec := newRecorder()
	consume(t, q, "dedup", subject, func(_ context.Context, m *queue.Message) error {
		rec.add(m)
		return nil
	})
	eventually(t, "the fence message", func() bool { return rec.count("fence") == 1 })
	msgs, _ := rec.snapshot()
	var got []string
	for _, m := range msgs {
		got = append(got, string(m.Data))
	}
	want := []string{"first a", "b", "no id 1", "no id 2", "fence"}
	if !slices.Equal(got, want) {
		t.Errorf("delivered %q, want %q (duplicates of an ID dropped, the first kept)", got, want)
	}
}

func (s *suite) testConcurrency(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	subject := space + ".work"
	const limit, total = 4, 24
	for i := range total {
		publish(t, q, subject, "", fmt.Sprint(i))
	}
	var inFlight, maxInFlight, done atomic.Int32
	reached := make(chan struct{})
	var once sync.Once
	consume(t, q, "concurrency", subject, func(_ context.Context, m *queue.Message) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			old := maxInFlight.Load()
			if n <= old || maxInFlight.CompareAndSwap(old, n) {
				break
			}
		}
		if n >= limit {
			once.Do(func() { close(reached) })
		}
		// Hold the handler until the limit was reached once (or a while has passed), so that
		// the consumer has every chance to exceed it.
		select {
		case <-reached:
			time.Sleep(5 * time.Millisecond)
		case <-time.After(2 * time.Second):
		}
		done.Add(1)
		return nil
	}, queue.Concurrency(limit))
	eventually(t, "every message", func() bool { return done.Load() == total })
	if got := maxInFlight.Load(); got != limit {
		t.Errorf("at most %d handlers ran at once, want exactly Concurrency(%d)", got, limit)
	}
}

func (s *suite) testCompeting(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	subject := space + ".shared"
	const total = 40
	seen := make(map[string]int)
	var mu sync.Mutex
	var n atomic.Int32
	h := func(_ context.Context, m *queue.Message) error {
		mu.Lock()
		seen[string(m.Data)]++
		mu.Unlock()
		n.Add(1)
		return nil
	}
	consume(t, q, "shared", subject, h, queue.Concurrency(2))
	consume(t, q, "shared", subject, h, queue.Concurrency(2))
	for i := range total {
		publish(t, q, subject, "", fmt.Sprint(i))
	}
	eventually(t, "every message", func() bool { return n.Load() >= total })
	publish(t, q, subject, "", "fence")
	eventually(t, "the fence", func() bool { mu.Lock(); defer mu.Unlock(); return seen["fence"] == 1 })
	mu.Lock()
	defer mu.Unlock()
	for i := range total {
		if c := seen[fmt.Sprint(i)]; c != 1 {
			t.Errorf("message %d handled %d times by two subscriptions of one consumer, want once", i, c)
		}
	}
}

func (s *suite) testConflict(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	consume(t, q, "first", space+".a.*", func(context.Context, *queue.Message) error { return nil })
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	err := q.Consume(ctx, "second", space+".a.b", func(context.Context, *queue.Message) error { return nil })
	if !errors.Is(err, queue.ErrConflict) {
		t.Errorf("a second consumer on an overlapping subject: err = %v, want ErrConflict", err)
	}
	// Disjoint subjects are fine.
	consume(t, q, "third", space+".b.>", func(context.Context, *queue.Message) error { return nil })
}

// testInactive: a consumer with InactiveThreshold is removed by the backend once nothing consumes
// from it; the overlap conflict shows whether a consumer still exists.
func (s *suite) testInactive(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	nop := func(context.Context, *queue.Message) error { return nil }
	pod := consume(t, q, "pod-a", space+".announce.x", nop, queue.InactiveThreshold(time.Second))
	kept := consume(t, q, "kept", space+".work.x", nop)
	if err := subscribeOnce(q, "pod-b", space+".announce.x"); !errors.Is(err, queue.ErrConflict) {
		t.Fatalf("while pod-a runs, an overlapping consumer: %v, want ErrConflict", err)
	}
	stopped := time.Now() // before pod-a stops, so the wait measured below is never too long
	if err := pod.stop(t); err != nil {
		t.Fatalf("pod-a: %v", err)
	}
	if err := kept.stop(t); err != nil {
		t.Fatalf("kept: %v", err)
	}
	eventually(t, "the removal of pod-a, inactive for 1s", func() bool {
		return subscribeOnce(q, "pod-b", space+".announce.x") == nil
	})
	if waited := time.Since(stopped); waited < time.Second {
		t.Errorf("pod-a was removed %s after it stopped, before its InactiveThreshold of 1s", waited)
	}
	if err := subscribeOnce(q, "other", space+".work.x"); !errors.Is(err, queue.ErrConflict) {
		t.Errorf("the consumer without InactiveThreshold is gone: an overlapping consumer got %v, want ErrConflict", err)
	}
}

// subscribeOnce runs Consume until it is subscribed, then stops it, and returns its error.
func subscribeOnce(q *queue.Queue, name, subject string) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	return q.Consume(ctx, name, subject, func(context.Context, *queue.Message) error { return nil }, queue.Ready(cancel))
}

func (s *suite) testPurge(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	for i := range 3 {
		publish(t, q, space+".purge.x", "", fmt.Sprint("x", i))
	}
	for i := range 2 {
		publish(t, q, space+".purge.y", "", fmt.Sprint("y", i))
	}
	n, err := q.Purge(context.Background(), space+".purge.x")
	if err != nil || n != 3 {
		t.Fatalf("Purge(x) = %d, %v; want 3, nil", n, err)
	}
	publish(t, q, space+".purge.y", "", "fence")
	rec := newRecorder()
	r := consume(t, q, "purge", space+".purge.*", func(_ context.Context, m *queue.Message) error {
		rec.add(m)
		return nil
	})
	eventually(t, "the fence", func() bool { return rec.count("fence") == 1 })
	if err := r.stop(t); err != nil { // its acks are done once it returns
		t.Fatal(err)
	}
	msgs, _ := rec.snapshot()
	for _, m := range msgs {
		if strings.HasPrefix(string(m.Data), "x") {
			t.Errorf("purged message %q was delivered", m.Data)
		}
	}
	if len(msgs) != 3 {
		t.Errorf("delivered %d messages, want the 2 unpurged and the fence", len(msgs))
	}
	if n, err := q.Purge(context.Background(), space+".purge.>"); err != nil || n != 0 {
		t.Errorf("Purge of an empty subject = %d, %v; want 0, nil", n, err)
	}
}

func (s *suite) testConsumerDeleted(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	subject := space + ".recreated"
	rec := newRecorder()
	consume(t, q, "recreated", subject, func(_ context.Context, m *queue.Message) error {
		rec.add(m)
		return nil
	})
	publish(t, q, subject, "", "before")
	receive(t, rec.ch, "the first message")
	if err := q.DeleteConsumer(context.Background(), "recreated"); err != nil {
		t.Fatalf("DeleteConsumer: %v", err)
	}
	// The running Consume finds its consumer gone and creates it again. ("before" may come
	// again: its ack may have reached the server after the consumer was deleted.)
	publish(t, q, subject, "", "after")
	eventually(t, "a message after the consumer was deleted", func() bool { return rec.count("after") == 1 })
	if err := q.DeleteConsumer(context.Background(), "never-was"); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("DeleteConsumer of an unknown consumer = %v, want ErrNotFound", err)
	}
}
