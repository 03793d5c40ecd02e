package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/queue"
)

// A probe that ignores its context (a client without deadlines) must not hold up the drain of a
// paused consumer: Consume returns once its context is done, abandoning the probe.
func TestPausedConsumerDrainsDespiteHungProbe(t *testing.T) {
	q, err := queue.Open(t.Context(), "memory://", queue.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Publish(t.Context(), &queue.Message{Subject: "hung.x", Data: []byte("m")}); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	defer close(release)
	probing := make(chan struct{}, 1)
	probe := func(context.Context) error {
		select {
		case probing <- struct{}{}:
		default:
		}
		<-release // ignores its context
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- q.Consume(ctx, "hung", "hung.x", func(context.Context, *queue.Message) error {
			return queue.Unavailable(errors.New("connection refused"))
		}, queue.Probe(probe), queue.ProbeBackoff(time.Millisecond, time.Millisecond))
	}()
	select {
	case <-probing:
	case <-time.After(30 * time.Second):
		t.Fatal("the paused consumer never probed")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Consume = %v, want nil after a drain", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Consume did not return within 10s of its context ending: the hung probe held the drain")
	}
}
