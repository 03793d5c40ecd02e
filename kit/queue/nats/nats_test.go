package nats_test

import (
	"context"
	"errors"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/queue/queuetest"
)

// TestCustomDeadLetterSubject checks that a dead-letter subject outside the default prefix is
// added to the dead-letter stream, and that DeadLetters finds it from the consumer's name alone,
// in another process's queue (here: another connection).
func TestCustomDeadLetterSubject(t *testing.T) {
	base := serverURL(t)
	space := queuetest.Space()
	deleteStreams(t, func() (*natsgo.Conn, error) { return natsgo.Connect(base) }, space)
	url := spaceURL(base, space)
	q := openURL(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	custom := "graveyard." + space + ".mail"
	if err := q.Publish(ctx, &queue.Message{Subject: space + ".mail", ID: "m1", Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	cctx, stop := context.WithCancel(ctx)
	err := q.Consume(cctx, "mailer", space+".mail", func(context.Context, *queue.Message) error {
		stop()
		return queue.Permanent(errors.New("no such user"))
	}, queue.DeadLetterSubject(custom))
	if err != nil {
		t.Fatal(err)
	}
	other := openURL(t, url)
	var found []*queue.DeadLetter
	for dl, err := range other.DeadLetters(ctx, "mailer") {
		if err != nil {
			t.Fatal(err)
		}
		found = append(found, dl)
	}
	if len(found) != 1 || found[0].Message.ID != "m1" || found[0].Reason != "no such user" {
		t.Fatalf("dead letters on %s: %+v", custom, found)
	}
	if n, err := other.Redrive(ctx, "mailer"); n != 1 || err != nil {
		t.Errorf("Redrive = %d, %v", n, err)
	}
	// A dead-letter subject inside the work stream is refused, naming the option.
	err = q.Consume(ctx, "bad", space+".a", func(context.Context, *queue.Message) error { return nil },
		queue.DeadLetterSubject(space+".b"))
	if !errors.Is(err, queue.ErrInvalidOption) {
		t.Errorf("dead letters inside the work stream: %v, want ErrInvalidOption", err)
	}
}

// TestDedupWindowExpires checks that an ID is accepted again once the window has passed.
func TestDedupWindowExpires(t *testing.T) {
	base := serverURL(t)
	space := queuetest.Space()
	deleteStreams(t, func() (*natsgo.Conn, error) { return natsgo.Connect(base) }, space)
	q := openURL(t, spaceURL(base, space, "dedup_window", "500ms"))
	ctx := context.Background()
	d := driverOf(t, q)
	stored := func() uint64 {
		s, err := d.JetStream().Stream(ctx, d.Config().Stream)
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().State.Msgs
	}
	start := time.Now()
	for stored() < 2 {
		if err := q.Publish(ctx, &queue.Message{Subject: space + ".x", ID: "same"}); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("the ID was never accepted again")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if took := time.Since(start); took < 500*time.Millisecond {
		t.Errorf("the ID was accepted again after %s, within the 500ms window", took)
	}
	// Both messages with the ID are dead-lettered, and both are kept: the dead-letter stream
	// de-duplicates by the work stream's sequence, not by the message ID.
	cctx, stop := context.WithTimeout(ctx, 20*time.Second)
	defer stop()
	seen := 0
	err := q.Consume(cctx, "dup", space+".x", func(context.Context, *queue.Message) error {
		if seen++; seen == 2 {
			stop()
		}
		return queue.Permanent(errors.New("no"))
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for dl, err := range q.DeadLetters(ctx, "dup") {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, dl.Message.ID)
	}
	if len(ids) != 2 || ids[0] != "same" || ids[1] != "same" {
		t.Errorf("dead letters %q, want both messages with ID same", ids)
	}
}
