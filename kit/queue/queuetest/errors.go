package queuetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/queue"
)

func (s *suite) testBadOptions(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	ok := func(context.Context, *queue.Message) error { return nil }
	subject := space + ".opts"
	cases := []struct {
		option  string
		name    string
		subject string
		h       queue.Handler
		opts    []queue.ConsumeOption
	}{
		{"Concurrency", "c", subject, ok, []queue.ConsumeOption{queue.Concurrency(0)}},
		{"AckWait", "c", subject, ok, []queue.ConsumeOption{queue.AckWait(0)}},
		{"MaxDeliveries", "c", subject, ok, []queue.ConsumeOption{queue.MaxDeliveries(0)}},
		{"Backoff", "c", subject, ok, []queue.ConsumeOption{queue.Backoff()}},
		{"Backoff", "c", subject, ok, []queue.ConsumeOption{queue.Backoff(time.Second, -time.Second)}},
		{"DeadLetterSubject", "c", subject, ok, []queue.ConsumeOption{queue.DeadLetterSubject("dead.*")}},
		{"DeadLetterSubject", "c", space + ".>", ok, []queue.ConsumeOption{queue.DeadLetterSubject(space + ".dead")}},
		{"Timeout", "c", subject, ok, []queue.ConsumeOption{queue.Timeout(-time.Second)}},
		{"InactiveThreshold", "c", subject, ok, []queue.ConsumeOption{queue.InactiveThreshold(500 * time.Millisecond)}},
		{"name", "bad name", subject, ok, nil},
		{"name", "a.b", subject, ok, nil},
		{"name", "", subject, ok, nil},
		{"subject", "c", space + "..x", ok, nil},
		{"subject", "c", space + ".>.x", ok, nil},
		{"handler", "c", subject, nil, nil},
	}
	for _, c := range cases {
		err := q.Consume(ctx, c.name, c.subject, c.h, c.opts...)
		if !errors.Is(err, queue.ErrInvalidOption) || !strings.Contains(err.Error(), c.option) {
			t.Errorf("bad %s: Consume(%q, %q) = %v; want ErrInvalidOption naming %s", c.option, c.name, c.subject, err, c.option)
		}
	}

	bad := []*queue.Message{
		nil,
		{Subject: ""},
		{Subject: space + ".*"},
		{Subject: space + ".a b"},
		{Subject: subject, Header: queue.Header{"X-Bad": {"line\r\nbreak"}}},
		{Subject: subject, Header: queue.Header{"Bad Key": {"v"}}},
		{Subject: subject, Header: queue.Header{"Nats-Msg-Id": {"x"}}},
	}
	for _, m := range bad {
		if err := q.Publish(ctx, m); !errors.Is(err, queue.ErrInvalidMessage) {
			t.Errorf("Publish(%+v) = %v, want ErrInvalidMessage", m, err)
		}
	}
	// Nothing was published: a consumer of the whole space sees only the fence.
	rec := newRecorder()
	consume(t, q, "opts", space+".>", func(_ context.Context, m *queue.Message) error {
		rec.add(m)
		return nil
	})
	publish(t, q, subject, "", "fence")
	if m := receive(t, rec.ch, "the fence"); string(m.Data) != "fence" {
		t.Errorf("a rejected message was published: %q on %s", m.Data, m.Subject)
	}

	if _, err := q.Redrive(ctx, "bad name"); !errors.Is(err, queue.ErrInvalidOption) {
		t.Errorf("Redrive(bad name) = %v, want ErrInvalidOption", err)
	}
	if _, err := q.Purge(ctx, ""); !errors.Is(err, queue.ErrInvalidOption) {
		t.Errorf("Purge(\"\") = %v, want ErrInvalidOption", err)
	}
}

func (s *suite) testClosed(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t)
	subject := space + ".closed"
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	started := make(chan struct{})
	release := make(chan struct{})
	finished := make(chan struct{})
	r := consume(t, q, "closed", subject, func(context.Context, *queue.Message) error {
		close(started)
		<-release
		close(finished)
		return nil
	})
	publish(t, q, subject, "", "in flight")
	receive(t, started, "the handler")
	closed := make(chan error, 1)
	go func() { closed <- q.Close() }()
	close(release)
	if err := r.wait(t); !errors.Is(err, queue.ErrClosed) {
		t.Errorf("a running Consume returned %v on Close, want ErrClosed", err)
	}
	select {
	case <-finished:
	default:
		t.Errorf("Consume returned before its handler finished")
	}
	if err := receive(t, closed, "Close"); err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := q.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, queue.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", what, err)
		}
	}
	check("Publish", q.Publish(ctx, &queue.Message{Subject: subject}))
	check("Consume", q.Consume(ctx, "closed", subject, func(context.Context, *queue.Message) error { return nil }))
	check("Ping", q.Ping(ctx))
	_, err := q.Redrive(ctx, "closed")
	check("Redrive", err)
	_, err = q.PurgeDead(ctx, "closed")
	check("PurgeDead", err)
	_, err = q.Purge(ctx, subject)
	check("Purge", err)
	check("DeleteConsumer", q.DeleteConsumer(ctx, "closed"))
	for _, err := range q.DeadLetters(ctx, "closed") {
		check("DeadLetters", err)
	}
}
