package nats_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/queue/queuetest"
)

// TestConsumeCloseRace closes queues while consumers are starting and while they wait in a fetch
// (which Close abandons, starting the goroutine that releases late arrivals): every Consume
// returns ErrClosed and Close returns. Run under -race.
func TestConsumeCloseRace(t *testing.T) {
	base := serverURL(t)
	space := queuetest.Space()
	for round := range 10 {
		q, err := queue.Open(context.Background(), spaceURL(base, space), quiet())
		if err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			deleteStreams(t, func() (*natsgo.Conn, error) { return natsgo.Connect(base) }, space)
		}
		const n = 4
		errs := make(chan error, n)
		ready := make(chan struct{}, n)
		for i := range n {
			opts := []queue.ConsumeOption{queue.Ready(func() { ready <- struct{}{} })}
			go func() {
				errs <- q.Consume(context.Background(), fmt.Sprint("c", i), fmt.Sprint(space, ".", i),
					func(context.Context, *queue.Message) error { return nil }, opts...)
			}()
		}
		if round%2 == 0 { // half the rounds close with every consumer fetching
			for range n {
				select {
				case <-ready:
				case err := <-errs:
					t.Fatalf("Consume returned before it was ready: %v", err)
				case <-time.After(60 * time.Second):
					t.Fatal("consumers not ready")
				}
			}
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		for range n {
			select {
			case err := <-errs:
				if !errors.Is(err, queue.ErrClosed) {
					t.Fatalf("round %d: Consume racing Close returned %v, want ErrClosed", round, err)
				}
			case <-time.After(60 * time.Second):
				t.Fatalf("round %d: Consume still running 60s after Close", round)
			}
		}
	}
}
