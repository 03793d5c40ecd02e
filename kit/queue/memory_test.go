package queue_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/queue/queuetest"
)

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelError + 1}))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestMemoryConformance(t *testing.T) {
	queuetest.Run(t, func(t *testing.T, _ string, opts ...queue.Option) *queue.Queue {
		q, err := queue.Open(t.Context(), "memory://", append([]queue.Option{queue.WithLogger(quietLogger())}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = q.Close() })
		return q
	})
}

func TestMemoryOptions(t *testing.T) {
	ctx := context.Background()
	for _, url := range []string{"memory://?dedup_windw=1s", "memory://?dedup_window=5", "memory://host/path"} {
		if _, err := queue.Open(ctx, url); err == nil {
			t.Errorf("Open(%q) succeeded", url)
		}
	}
	_, err := queue.Open(ctx, "memory://?dedup_windw=1s")
	if !errors.Is(err, queue.ErrInvalidOption) {
		t.Errorf("unknown option: %v, want ErrInvalidOption", err)
	}
}

// clock is a test clock moved on by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestMemoryDedupWindowExpires(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	q := queue.New(queue.NewMemoryClock(time.Minute, clk.Now))
	defer q.Close()
	pub := func(data string) {
		t.Helper()
		if err := q.Publish(context.Background(), &queue.Message{Subject: "a", ID: "same", Data: []byte(data)}); err != nil {
			t.Fatal(err)
		}
	}
	pub("1")
	clk.Add(time.Minute) // at the window's edge: still a duplicate
	pub("2")
	clk.Add(time.Nanosecond) // past it: kept
	pub("3")
	pub("4") // within the new window of "3": dropped
	n, err := q.Purge(context.Background(), "a")
	if err != nil || n != 2 {
		t.Errorf("stored %d, %v; want 2 (the duplicates within the window dropped, the one after kept)", n, err)
	}
}

// TestMemoryInactiveThreshold, on the driver with a hand-moved clock: a consumer is removed only
// after it has had no subscription for longer than its threshold, and the messages it held are
// free again; one without a threshold stays.
func TestMemoryInactiveThreshold(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	d := queue.NewMemoryClock(time.Minute, clk.Now)
	defer d.Close()
	sub := func(name, subject string, inactive time.Duration) (queue.Subscription, error) {
		return d.Subscribe(ctx, queue.ConsumerConfig{Name: name, Subject: subject, AckWait: time.Hour, InactiveThreshold: inactive})
	}
	exists := func(name, subject string) bool {
		t.Helper()
		s, err := sub("probe", subject, 0)
		if err == nil {
			s.Close()
			if err := d.DeleteConsumer(ctx, "probe"); err != nil {
				t.Fatal(err)
			}
			return false
		}
		if !errors.Is(err, queue.ErrConflict) {
			t.Fatal(err)
		}
		return true
	}
	if err := d.Publish(ctx, &queue.Message{Subject: "a.x", Data: []byte("held")}); err != nil {
		t.Fatal(err)
	}
	a1, err := sub("pod", "a.>", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := sub("pod", "a.>", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got, err := a1.Fetch(ctx, 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("fetch: %v %v", got, err)
	}
	k, err := sub("kept", "b.>", 0)
	if err != nil {
		t.Fatal(err)
	}
	k.Close()

	a1.Close()
	clk.Add(time.Hour)
	if !exists("pod", "a.x") {
		t.Fatal("removed while one of its two subscriptions was still open")
	}
	a2.Close()
	clk.Add(10 * time.Second)
	if !exists("pod", "a.x") {
		t.Fatal("removed at its threshold, not after it")
	}
	clk.Add(time.Nanosecond)
	// Every operation sees it gone, not only the next Subscribe.
	if err := d.DeleteConsumer(ctx, "pod"); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("DeleteConsumer past the threshold: %v, want ErrNotFound", err)
	}
	if exists("pod", "a.x") {
		t.Fatal("still there past its threshold with no subscription")
	}
	if !exists("kept", "b.x") {
		t.Fatal("a consumer without InactiveThreshold was removed")
	}
	// A subscription that outlived its consumer does not read from one created again under the
	// same name (it is not counted there, so it must not keep it alive).
	old, err := sub("again", "c.>", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteConsumer(ctx, "again"); err != nil {
		t.Fatal(err)
	}
	renewed, err := sub("again", "c.>", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer renewed.Close()
	if _, err := old.Fetch(ctx, 1); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("Fetch on a subscription to a deleted consumer re-created since: %v, want ErrNotFound", err)
	}
	// The message the removed consumer held goes to the next one at once, not after its AckWait.
	n, _ := sub("next", "a.>", 0)
	defer n.Close()
	got, err = n.Fetch(ctx, 1)
	if err != nil || len(got) != 1 || string(got[0].Message().Data) != "held" {
		t.Fatalf("the held message after the removal: %v %v", got, err)
	}
}

// TestMemoryPublishDeadDedupsBySeq: the same work message dead-lettered twice (its ack failed after
// the dead letter was stored) is stored once within the window, as on NATS; another message with
// the same ID is its own dead letter.
func TestMemoryPublishDeadDedupsBySeq(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	d := queue.NewMemoryClock(time.Minute, clk.Now)
	defer d.Close()
	dead := func(seq uint64) {
		t.Helper()
		if err := d.PublishDead(ctx, "dead.c", &queue.Message{ID: "same", Subject: "a", Seq: seq, Data: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	dead(7)
	dead(7)
	dead(8)
	clk.Add(time.Minute + 1)
	dead(7) // past the window, as NATS forgets its Msg-Id
	var seqs []uint64
	for m, err := range d.DeadLetters(ctx, "c") {
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, m.Seq)
	}
	if len(seqs) != 3 {
		t.Errorf("%d dead letters (seqs %v), want 3: the repeat within the window dropped", len(seqs), seqs)
	}
}

// failing wraps the memory driver with faults: the first Ack of each message, or the first
// DeleteDead, fails, as a lost connection would make them.
type failing struct {
	queue.Driver
	mu         sync.Mutex
	acked      map[uint64]bool
	deleteFail int
}

var errInjected = errors.New("injected failure")

func (f *failing) Subscribe(ctx context.Context, c queue.ConsumerConfig) (queue.Subscription, error) {
	s, err := f.Driver.Subscribe(ctx, c)
	if err != nil {
		return nil, err
	}
	return failingSub{s, f}, nil
}

func (f *failing) DeleteDead(ctx context.Context, seq uint64) (bool, error) {
	f.mu.Lock()
	fail := f.deleteFail > 0
	f.deleteFail--
	f.mu.Unlock()
	if fail {
		return false, errInjected
	}
	return f.Driver.DeleteDead(ctx, seq)
}

type failingSub struct {
	queue.Subscription
	f *failing
}

func (s failingSub) Fetch(ctx context.Context, max int) ([]queue.Delivery, error) {
	ds, err := s.Subscription.Fetch(ctx, max)
	for i, d := range ds {
		ds[i] = failingDelivery{d, s.f}
	}
	return ds, err
}

type failingDelivery struct {
	queue.Delivery
	f *failing
}

func (d failingDelivery) Ack(ctx context.Context) error {
	d.f.mu.Lock()
	seq := d.Message().Seq
	first := d.f.acked != nil && !d.f.acked[seq]
	if d.f.acked != nil {
		d.f.acked[seq] = true
	}
	d.f.mu.Unlock()
	if first {
		return errInjected
	}
	return d.Delivery.Ack(ctx)
}

// TestMemoryDeadLetterAckFails: a message whose dead letter was stored but whose ack failed comes
// again and is dead-lettered again; memory:// keeps one dead letter.
func TestMemoryDeadLetterAckFails(t *testing.T) {
	f := &failing{Driver: queue.NewMemory(0), acked: map[uint64]bool{}}
	q := queue.New(f, queue.WithLogger(quietLogger()))
	defer q.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := q.Publish(ctx, &queue.Message{Subject: "jobs.a", Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	deliveries := make(chan int, 10)
	done := make(chan error, 1)
	go func() {
		done <- q.Consume(ctx, "c", "jobs.>", func(_ context.Context, m *queue.Message) error {
			deliveries <- m.Delivery
			return queue.Permanent(errors.New("bad"))
		}, queue.AckWait(50*time.Millisecond))
	}()
	for want := 1; want <= 2; want++ {
		select {
		case got := <-deliveries:
			if got != want {
				t.Fatalf("delivery %d, want %d", got, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("timed out waiting for delivery %d", want)
		}
	}
	// Consume drains on cancel: the second dead-lettering is recorded and acked before it returns.
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Consume: %v", err)
	}
	if n, err := q.Purge(context.Background(), "jobs.>"); err != nil || n != 0 {
		t.Errorf("Purge after the second dead-lettering = %d, %v; want 0 (acked), nil", n, err)
	}
	var dls []*queue.DeadLetter
	for dl, err := range q.DeadLetters(context.Background(), "c") {
		if err != nil {
			t.Fatal(err)
		}
		dls = append(dls, dl)
	}
	if len(dls) != 1 {
		t.Errorf("%d dead letters, want 1 (the repeat de-duplicated by the message's Seq)", len(dls))
	}
}

// TestMemoryRedriveWithoutIDRetried: a message published without an ID, re-driven by a Redrive
// whose DeleteDead failed, is not stored twice when Redrive is retried.
func TestMemoryRedriveWithoutIDRetried(t *testing.T) {
	ctx := context.Background()
	f := &failing{Driver: queue.NewMemory(0), deleteFail: 1}
	q := queue.New(f, queue.WithLogger(quietLogger()))
	defer q.Close()
	if err := f.PublishDead(ctx, "dead.c", &queue.Message{Subject: "jobs.a", Seq: 1, Data: []byte("x"),
		Header: queue.Header{queue.HeaderDeadConsumer: {"c"}, queue.HeaderDeadSubject: {"jobs.a"}}}); err != nil {
		t.Fatal(err)
	}
	var dls []*queue.DeadLetter
	for dl, err := range q.DeadLetters(ctx, "c") {
		if err != nil {
			t.Fatal(err)
		}
		dls = append(dls, dl)
	}
	if len(dls) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dls))
	}
	if n, err := q.Redrive(ctx, "c"); !errors.Is(err, errInjected) || n != 0 {
		t.Fatalf("Redrive with DeleteDead failing = %d, %v; want 0, the injected error", n, err)
	}
	if n, err := q.Redrive(ctx, "c"); err != nil || n != 1 {
		t.Fatalf("Redrive retried = %d, %v; want 1, nil", n, err)
	}
	var ids []string
	sub, err := f.Subscribe(ctx, queue.ConsumerConfig{Name: "w", Subject: "jobs.>", AckWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for {
		ds, err := sub.Fetch(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			break
		}
		for _, d := range ds {
			ids = append(ids, d.Message().ID)
			if err := d.Ack(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if len(ids) >= 1 {
			break
		}
	}
	want := fmt.Sprintf("kit-redrive.c.%d", dls[0].Seq)
	if len(ids) != 1 || ids[0] != want {
		t.Errorf("re-driven messages %q, want one with ID %q", ids, want)
	}
	if n, err := q.Purge(ctx, "jobs.>"); err != nil || n != 0 {
		t.Errorf("Purge = %d, %v; want 0: the retried Redrive's copy was a duplicate", n, err)
	}
}

// TestConsumeCloseRace hammers Consume against Close: every Consume returns ErrClosed, whether
// it started before Close or after, and none is left running (run under -race).
func TestConsumeCloseRace(t *testing.T) {
	for range 200 {
		q := queue.New(queue.NewMemory(0), queue.WithLogger(quietLogger()))
		const n = 4
		errs := make(chan error, n)
		start := make(chan struct{})
		for i := range n {
			go func() {
				<-start
				errs <- q.Consume(context.Background(), fmt.Sprint("c", i), fmt.Sprint("jobs.", i),
					func(context.Context, *queue.Message) error { return nil })
			}()
		}
		close(start)
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		for range n {
			select {
			case err := <-errs:
				if !errors.Is(err, queue.ErrClosed) {
					t.Fatalf("Consume racing Close returned %v, want ErrClosed", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Consume still running 20s after Close")
			}
		}
	}
}
