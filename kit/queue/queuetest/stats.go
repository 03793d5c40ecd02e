package queuetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/queue"
)

// testStats drives a consumer into a known state — dead letters, a message held on its second
// delivery, messages held on their first, a backlog — and checks every count of Stats exactly,
// then that the backlog drains to zero. Unknown consumers are ErrNotFound, never an empty answer.
func (s *suite) testStats(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	ctx := context.Background()
	subject := space + ".stats"
	const name, dead, concurrency, backlog = "stats", 2, 3, 8

	st, err := q.Stats(ctx)
	if err != nil {
		t.Fatalf("Stats of an empty queue: %v", err)
	}
	if st.Messages != 0 || st.DeadLetters != 0 || len(st.Consumers) != 0 || st.Backend != q.Backend() {
		t.Errorf("Stats of an empty queue = %+v, want no messages, dead letters or consumers", st)
	}
	if _, err := q.ConsumerStats(ctx, name); !errors.Is(err, queue.ErrNotFound) || !strings.Contains(err.Error(), name) {
		t.Errorf("ConsumerStats of a consumer that does not exist = %v, want ErrNotFound naming it", err)
	}
	for _, err := range q.DeadLetters(ctx, name) {
		if !errors.Is(err, queue.ErrNotFound) || !strings.Contains(err.Error(), "consumer "+name+" does not exist") {
			t.Errorf("DeadLetters of a consumer that does not exist: %v, want ErrNotFound naming it", err)
		}
		break
	}
	if n, err := q.PurgeDead(ctx, name); n != 0 || !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("PurgeDead of a consumer that does not exist = %d, %v; want ErrNotFound", n, err)
	}

	held := make(chan *queue.Message, 1+backlog) // never blocks a handler
	release := make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	var mu sync.Mutex
	acked := 0
	consume(t, q, name, subject, func(_ context.Context, m *queue.Message) error {
		switch d := string(m.Data); {
		case strings.HasPrefix(d, "dead"):
			return queue.Permanent(errors.New("refused"))
		case d == "retry" && m.Delivery == 1:
			return fmt.Errorf("first delivery: %w", errBoom)
		}
		held <- m
		<-release
		mu.Lock()
		acked++
		mu.Unlock()
		return nil
	}, queue.Concurrency(concurrency), queue.Backoff(10*time.Millisecond))
	t.Cleanup(free) // before the consumer's own cleanup, which waits for its handlers

	for i := range dead {
		publish(t, q, subject, "", fmt.Sprint("dead", i))
	}
	waitDead(t, q, name, dead)
	// Alone on the subject, the retry comes back into a free handler and is held there.
	publish(t, q, subject, "", "retry")
	if m := receive(t, held, "the retried message"); string(m.Data) != "retry" || m.Delivery != 2 {
		t.Fatalf("held %q on delivery %d, want the retry on its second", m.Data, m.Delivery)
	}
	for i := range backlog {
		publish(t, q, subject, "", fmt.Sprint("hold", i))
	}
	for range concurrency - 1 {
		receive(t, held, "a held message")
	}

	want := queue.ConsumerStats{
		Name: name, Subject: subject, DeadLetterSubject: q.Driver().DefaultDeadLetter(name),
		Pending:     backlog - (concurrency - 1),
		AckPending:  concurrency,
		Redelivered: 1,
		DeadLetters: dead,
	}
	waitStats(t, q, "held", 1+backlog, dead, want)

	free()
	want.Pending, want.AckPending, want.Redelivered = 0, 0, 0
	waitStats(t, q, "drained", 0, dead, want)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("stats: %d published, %d dead-lettered, %d acked; counts matched while %d were held and after the drain",
		dead+1+backlog, dead, acked, concurrency)
	if acked != 1+backlog {
		t.Errorf("%d messages acked, want %d", acked, 1+backlog)
	}
}

// waitStats waits until Stats reports messages and deadLetters stored and the consumer exactly as
// want (counts settle once acknowledgements reach the backend), and fails with the last report.
func waitStats(t *testing.T, q *queue.Queue, state string, messages, deadLetters uint64, want queue.ConsumerStats) {
	t.Helper()
	var st *queue.Stats
	var got *queue.ConsumerStats
	var err error
	match := func() bool {
		if st, err = q.Stats(context.Background()); err != nil {
			return false
		}
		if got, err = q.ConsumerStats(context.Background(), want.Name); err != nil {
			return false
		}
		return st.Messages == messages && st.DeadLetters == deadLetters && *got == want
	}
	deadline := time.Now().Add(waitTimeout)
	for !match() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: Stats = %+v, %v; consumer %+v; want %d messages, %d dead letters, consumer %+v",
				state, st, err, got, messages, deadLetters, want)
		}
		time.Sleep(10 * time.Millisecond) // polling, as eventually does
	}
	if len(st.Consumers) != 1 || (st.Bytes == 0) != (messages == 0) || st.DeadBytes == 0 {
		t.Errorf("%s: Stats = %+v: want one consumer, and bytes counted (or -1) where messages are", state, st)
	}
}
