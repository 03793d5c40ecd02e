package redis

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stackkit/stackkit/kit/cache"
)

// The tiered cache keeps a local copy of hot keys in each process and tells the others, over
// Redis pub/sub, which keys a write made stale. One message is
//
//	0x01 | uvarint(len(origin)) origin | { uvarint(len(key)) key }...
//
// length-prefixed, so neither the origin nor a key needs escaping, and compact: a single-key
// message is the key, the origin and three or four bytes. A message without keys means "drop
// everything" (the sender cleared the cache); so does a message this version cannot read, since
// ignoring it could leave stale entries behind.
const invalidationV1 = 0x01

const (
	// healthInterval is how long a subscriber waits for a message before it PINGs, and then for
	// the PONG before it gives the connection up for dead and subscribes again: a connection that
	// died without a reset (a crashed host, a dropped NAT entry) is found within two intervals.
	healthInterval = 10 * time.Second
	// subscribeTimeout bounds the wait for Redis to confirm a subscription when ctx has no
	// earlier deadline.
	subscribeTimeout = 10 * time.Second
	// Resubscription after a lost connection retries with a doubling delay in this range.
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// PublishInvalidation PUBLISHes on channel that keys changed. With no keys it tells subscribers
// to drop everything. Subscribers see their own messages too; origin lets them skip those.
func (d *Driver) PublishInvalidation(ctx context.Context, channel, origin string, keys ...string) error {
	if err := d.client.Publish(ctx, channel, encodeInvalidation(origin, keys)).Err(); err != nil {
		return wrap("publish invalidation", err)
	}
	return nil
}

// SubscribeInvalidations SUBSCRIBEs to channel and returns once Redis has confirmed the
// subscription, so an invalidation published after it returns is delivered. fn then runs for each
// message, one at a time, on a goroutine of its own, until ctx is done or the driver is closed.
//
// When the subscription's connection fails, fn is called with all=true at once (messages may be
// lost from then on), the driver subscribes again with backoff, and calls fn with all=true once
// more when the new subscription is confirmed (messages published in between were lost).
func (d *Driver) SubscribeInvalidations(ctx context.Context, channel string, fn func(origin string, keys []string, all bool)) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return fmt.Errorf("redis: subscribe invalidations: %w", cache.ErrClosed)
	}
	d.subs.Add(1)
	d.mu.Unlock()

	sctx, cancel := context.WithCancel(ctx)
	s := &subscriber{d: d, channel: channel, fn: fn, ctx: sctx}
	stopOnClose := context.AfterFunc(d.ctx, cancel)
	// Closing the PubSub is what interrupts a blocked read; the context alone does not.
	stopOnDone := context.AfterFunc(sctx, s.closePubSub)
	stop := func() {
		stopOnClose()
		stopOnDone()
		cancel()
		s.closePubSub()
		d.subs.Done()
	}
	if err := s.subscribe(); err != nil {
		stop()
		return wrap("subscribe invalidations", err)
	}
	go func() {
		defer stop()
		s.run()
	}()
	return nil
}

// subscriber is one running SubscribeInvalidations.
type subscriber struct {
	d       *Driver
	channel string
	fn      func(origin string, keys []string, all bool)
	ctx     context.Context

	mu sync.Mutex
	ps *goredis.PubSub
}

// run delivers messages, and subscribes again whenever the connection fails, until ctx is done.
func (s *subscriber) run() {
	for {
		s.receive()
		s.closePubSub()
		if s.ctx.Err() != nil {
			return
		}
		s.fn("", nil, true) // from here on messages may be lost
		if !s.resubscribe() {
			return
		}
		s.fn("", nil, true) // and some were, while no connection was subscribed
	}
}

// receive delivers messages until the connection fails or ctx is done.
func (s *subscriber) receive() {
	s.mu.Lock()
	ps := s.ps
	s.mu.Unlock()
	if ps == nil {
		return
	}
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(s.ctx, healthInterval)
		if err != nil {
			var ne net.Error
			if !pinged && errors.As(err, &ne) && ne.Timeout() && s.ctx.Err() == nil {
				// Quiet channel or dead connection: a PONG tells which.
				if ps.Ping(s.ctx) == nil {
					pinged = true
					continue
				}
			}
			return
		}
		pinged = false
		switch m := msg.(type) {
		case *goredis.Message:
			origin, keys, ok := decodeInvalidation(m.Payload)
			s.fn(origin, keys, !ok || len(keys) == 0)
		case *goredis.Subscription:
			// go-redis reconnected and subscribed again on its own; messages may have been lost.
			if m.Kind == "subscribe" {
				s.fn("", nil, true)
			}
		}
	}
}

// resubscribe subscribes again, retrying with backoff, until it succeeds (true) or ctx is done.
func (s *subscriber) resubscribe() bool {
	backoff := minBackoff
	for {
		if s.subscribe() == nil {
			return true
		}
		t := time.NewTimer(backoff)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// subscribe opens a PubSub on the channel and waits for Redis to confirm the subscription.
func (s *subscriber) subscribe() error {
	ps := s.d.client.Subscribe(s.ctx, s.channel) // sends SUBSCRIBE; errors surface on receive
	s.mu.Lock()
	if err := s.ctx.Err(); err != nil {
		s.mu.Unlock()
		_ = ps.Close()
		return err
	}
	s.ps = ps
	s.mu.Unlock()
	for {
		msg, err := ps.ReceiveTimeout(s.ctx, subscribeTimeout)
		if err != nil {
			s.closePubSub()
			return err
		}
		if sub, ok := msg.(*goredis.Subscription); ok && sub.Kind == "subscribe" && sub.Channel == s.channel {
			return nil
		}
	}
}

func (s *subscriber) closePubSub() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ps != nil {
		_ = s.ps.Close()
		s.ps = nil
	}
}

func encodeInvalidation(origin string, keys []string) []byte {
	n := 1 + binary.MaxVarintLen64 + len(origin)
	for _, k := range keys {
		n += binary.MaxVarintLen64 + len(k)
	}
	b := make([]byte, 0, n)
	b = append(b, invalidationV1)
	b = binary.AppendUvarint(b, uint64(len(origin)))
	b = append(b, origin...)
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	return b
}

// decodeInvalidation reads a message; ok is false for one it cannot read.
func decodeInvalidation(msg string) (origin string, keys []string, ok bool) {
	if len(msg) == 0 || msg[0] != invalidationV1 {
		return "", nil, false
	}
	rest := msg[1:]
	next := func() (string, bool) {
		n, w := binary.Uvarint([]byte(rest[:min(len(rest), binary.MaxVarintLen64)]))
		if w <= 0 || n > uint64(len(rest)-w) {
			return "", false
		}
		s := rest[w : w+int(n)]
		rest = rest[w+int(n):]
		return s, true
	}
	if origin, ok = next(); !ok {
		return "", nil, false
	}
	for len(rest) > 0 {
		k, ok := next()
		if !ok {
			return "", nil, false
		}
		keys = append(keys, k)
	}
	return origin, keys, true
}
