package nats_test

import (
	"context"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stackkit/stackkit/kit/queue"
	kitnats "github.com/stackkit/stackkit/kit/queue/nats"
	"github.com/stackkit/stackkit/kit/queue/queuetest"
)

// TestSubscribeBoundedByAPITimeout: creating a consumer is one JetStream API request, bounded by
// the API timeout even when the context has a distant deadline. Consume passes the context it
// runs under, which lives as long as the consumer; a request that is never answered (here: held
// in the client's reconnect buffer while the server is down; in a cluster: lost while the meta
// leader is being elected) used to block the consumer until that context ended — a mail.Worker
// stopped delivering after a stream leader was killed.
func TestSubscribeBoundedByAPITimeout(t *testing.T) {
	s := startServer(t)
	space := queuetest.Space()
	subject := space + ".jobs"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A connection of the caller's own, with nats.go's default reconnect buffer: requests made
	// while it reconnects wait in the buffer.
	nc, err := natsgo.Connect("nats://"+s.addr(), natsgo.MaxReconnects(-1), natsgo.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	d, err := kitnats.NewDriver(ctx, nc, kitnats.Config{Stream: "APITIMEOUT", Subjects: []string{space + ".>"}}, jetstream.WithDefaultTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	cc := queue.ConsumerConfig{Name: "worker", Subject: subject, DeadLetter: d.DefaultDeadLetter("worker"), AckWait: time.Second, MaxAckPending: 10}
	if _, err := d.Subscribe(ctx, cc); err != nil {
		t.Fatal(err)
	}

	s.kill()
	deadline := time.Now().Add(5 * time.Second)
	for nc.Status() == natsgo.CONNECTED && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	_, err = d.Subscribe(ctx, cc) // ctx ends in ~30s; the API timeout is 1s
	took := time.Since(start)
	t.Logf("Subscribe with the server down: %v after %s", err, took.Round(time.Millisecond))
	if err == nil {
		t.Fatal("Subscribe succeeded with the server down")
	}
	if took > 3*time.Second {
		t.Errorf("Subscribe took %s; want it bounded by the 1s API timeout", took)
	}
}
