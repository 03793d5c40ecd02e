package nats

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stackkit/stackkit/kit/queue"
)

// subscription pulls from a durable consumer. It never leaves a pull request outstanding when
// Fetch returns, so messages it did not return stay on the server for any other subscription.
type subscription struct {
	d    *Driver
	cons jetstream.Consumer
}

// Fetch first takes what is waiting, up to max, without waiting (a no-wait pull); when nothing is,
// it waits up to FetchWait for one message. When ctx ends that wait, a message arriving for it
// later is released at once with a Nak.
func (s *subscription) Fetch(ctx context.Context, max int) ([]queue.Delivery, error) {
	if s.d.closed.Load() {
		return nil, queue.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := s.cons.FetchNoWait(max)
	if err != nil {
		return nil, s.d.mapErr(err, "")
	}
	var out []queue.Delivery
	for msg := range b.Messages() {
		out = append(out, s.delivery(msg))
	}
	if err := b.Error(); err != nil && len(out) == 0 {
		return nil, s.d.mapErr(err, "")
	}
	if len(out) > 0 {
		return out, nil
	}

	b, err = s.cons.Fetch(1, jetstream.FetchMaxWait(s.d.cfg.FetchWait))
	if err != nil {
		return nil, s.d.mapErr(err, "")
	}
	select {
	case msg, ok := <-b.Messages():
		if ok {
			return []queue.Delivery{s.delivery(msg)}, nil
		}
		if err := b.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, s.d.mapErr(err, "")
		}
		// A pull from a deleted consumer just expires on older servers (newer ones say 409
		// Consumer Deleted): after a wait that found nothing, make sure it is still there.
		ictx, cancel := s.d.apiContext(ctx)
		_, err := s.cons.Info(ictx)
		cancel()
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, s.d.mapErr(err, "")
		}
		return nil, nil
	case <-ctx.Done():
		s.d.releaseStrays(b)
		return nil, ctx.Err()
	case <-s.d.closing:
		return nil, queue.ErrClosed
	}
}

// releaseStrays Naks, in the background, whatever arrives on an abandoned fetch b, until b ends or
// the driver closes. Once Close has begun nothing is started: the connection is going away and the
// server redelivers after the ack wait.
func (d *Driver) releaseStrays(b jetstream.MessageBatch) {
	d.strayMu.Lock()
	defer d.strayMu.Unlock()
	if d.closed.Load() {
		return
	}
	d.strays.Go(func() {
		for {
			select {
			case msg, ok := <-b.Messages():
				if !ok {
					return
				}
				_ = msg.Nak()
			case <-d.closing:
				return
			}
		}
	})
}

// Close has nothing to release: no pull request outlives Fetch.
func (s *subscription) Close() error { return nil }

func (s *subscription) delivery(msg jetstream.Msg) *delivery {
	h := queue.Header(msg.Headers()).Canonical()
	id := h.Get(headerMsgID)
	h.Del(headerMsgID)
	m := &queue.Message{ID: id, Subject: msg.Subject(), Header: h, Data: msg.Data()}
	if md, err := msg.Metadata(); err == nil {
		m.Delivery = int(md.NumDelivered)
		m.Published = md.Timestamp
		m.Seq = md.Sequence.Stream
	}
	return &delivery{d: s.d, msg: msg, m: m}
}

type delivery struct {
	d   *Driver
	msg jetstream.Msg
	m   *queue.Message
}

func (x *delivery) Message() *queue.Message { return x.m }

// Ack waits for the server's confirmation (a double ack) unless the URL asked for ack_sync=false.
func (x *delivery) Ack(ctx context.Context) error {
	if x.d.cfg.AsyncAck {
		return x.d.mapErr(x.msg.Ack(), "")
	}
	// Bound the wait by the API timeout: a server restarted without the consumer's state may
	// never confirm an ack for a delivery it no longer knows (the message comes again).
	ctx, cancel := context.WithTimeout(ctx, x.d.js.Options().DefaultTimeout)
	defer cancel()
	return x.d.mapErr(x.msg.DoubleAck(ctx), "")
}

func (x *delivery) Nak(_ context.Context, delay time.Duration) error {
	if delay <= 0 {
		return x.d.mapErr(x.msg.Nak(), "")
	}
	return x.d.mapErr(x.msg.NakWithDelay(delay), "")
}

func (x *delivery) InProgress(context.Context) error { return x.d.mapErr(x.msg.InProgress(), "") }
