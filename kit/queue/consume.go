package queue

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
)

// Defaults of the consume options.
const (
	DefaultConcurrency   = 1
	DefaultAckWait       = 30 * time.Second
	DefaultMaxDeliveries = 5
)

// DefaultBackoff is the retry schedule: the delay after the first failed delivery, the second,
// and so on; the last one repeats.
var DefaultBackoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute}

// ConsumeOption configures one Consume call.
type ConsumeOption func(*consumeConfig)

type consumeConfig struct {
	concurrency   int
	ackWait       time.Duration
	maxDeliveries int
	backoff       []time.Duration
	deadLetter    string
	timeout       time.Duration
	inactive      time.Duration
	ready         func()
	probe         func(context.Context) error
	probeFirst    time.Duration
	probeMax      time.Duration
	onPause       []func(error)
	errs          []error
}

func (c *consumeConfig) fail(option, reason string) {
	c.errs = append(c.errs, fmt.Errorf("%w: %s: %s", ErrInvalidOption, option, reason))
}

// Concurrency sets how many handlers run at once (default 1). The consumer fetches only as many
// messages as it has free handlers, so no message waits in this process while another could
// take it.
func Concurrency(n int) ConsumeOption {
	return func(c *consumeConfig) {
		if n < 1 || n > 100000 {
			c.fail("Concurrency", fmt.Sprintf("must be between 1 and 100000, got %d", n))
			return
		}
		c.concurrency = n
	}
}

// AckWait sets how long the backend waits for a delivered message's outcome before delivering it
// again (default 30s). While a handler runs, the consumer tells the backend it is still working
// every third of AckWait, so AckWait bounds how long a crashed process holds messages, not how
// long a handler may take; bound that with [Timeout].
func AckWait(d time.Duration) ConsumeOption {
	return func(c *consumeConfig) {
		if d < 10*time.Millisecond {
			c.fail("AckWait", fmt.Sprintf("must be at least 10ms, got %s", d))
			return
		}
		c.ackWait = d
	}
}

// MaxDeliveries sets how many times a message is delivered before a failing one goes to the dead
// letters (default 5). A message found delivered more often than that (its handler's process died
// each time) is dead-lettered without calling the handler again.
func MaxDeliveries(n int) ConsumeOption {
	return func(c *consumeConfig) {
		if n < 1 {
			c.fail("MaxDeliveries", fmt.Sprintf("must be at least 1, got %d", n))
			return
		}
		c.maxDeliveries = n
	}
}

// Backoff sets the retry schedule: the delay before the second delivery, the third, and so on;
// the last delay repeats (default [DefaultBackoff]). A handler's [RetryAfter] overrides it for
// one retry.
func Backoff(delays ...time.Duration) ConsumeOption {
	return func(c *consumeConfig) {
		if len(delays) == 0 {
			c.fail("Backoff", "needs at least one delay")
			return
		}
		for _, d := range delays {
			if d < 0 {
				c.fail("Backoff", fmt.Sprintf("delay %s is negative", d))
				return
			}
		}
		c.backoff = append([]time.Duration(nil), delays...)
	}
}

// DeadLetterSubject sets the subject a consumer's dead letters go to (default: the backend's, which is
// "dead.<name>" on memory:// and "dead.<STREAM>.<name>" on NATS). It must not be a subject
// the consumer or another consumer reads.
func DeadLetterSubject(subject string) ConsumeOption {
	return func(c *consumeConfig) {
		if err := ValidateSubject(subject, false); err != nil {
			c.fail("DeadLetterSubject", err.Error())
			return
		}
		c.deadLetter = subject
	}
}

// Timeout bounds each handler call: its context is cancelled after d, and the message is retried
// as after any error (default: no limit).
func Timeout(d time.Duration) ConsumeOption {
	return func(c *consumeConfig) {
		if d < 0 {
			c.fail("Timeout", fmt.Sprintf("must not be negative, got %s", d))
			return
		}
		c.timeout = d
	}
}

// InactiveThreshold has the backend remove the consumer, with its position and the messages it
// was holding, once no process has consumed from it for d (default: it stays until
// [Queue.DeleteConsumer]). Give it to consumers named after something short-lived, such as one
// per pod reading announcements from a fan-out stream: without it every pod that ever ran leaves a
// consumer behind, and on a NATS stream with interest retention each one keeps messages stored.
// Leave it off a work queue's consumer: its messages stay in the stream when it is removed, but
// their delivery counts go with it. d is at least one second; make it well above the longest
// handler run, since a consumer whose handlers are all busy asks the backend for nothing. Once
// removed, a consumer's custom [DeadLetterSubject] is forgotten: DeadLetters by its name looks
// at the default subject.
func InactiveThreshold(d time.Duration) ConsumeOption {
	return func(c *consumeConfig) {
		if d < time.Second {
			c.fail("InactiveThreshold", fmt.Sprintf("must be at least 1s, got %s", d))
			return
		}
		c.inactive = d
	}
}

// Ready sets a function called once, when the consumer is subscribed and about to fetch.
func Ready(f func()) ConsumeOption { return func(c *consumeConfig) { c.ready = f } }

// backoffFor returns the delay before redelivering a message that failed on delivery n.
func (c *consumeConfig) backoffFor(n int) time.Duration {
	i := min(max(n-1, 0), len(c.backoff)-1)
	return c.backoff[i]
}

// ValidateName checks a consumer name: 1 to 64 letters, digits, '-' or '_'. Names become subject
// tokens and JetStream durable names, which allow nothing else portable.
func ValidateName(name string) error {
	if name == "" {
		return errors.New("empty consumer name")
	}
	if len(name) > 64 {
		return fmt.Errorf("consumer name %q is longer than 64 bytes", name)
	}
	for _, r := range name {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("consumer name %q has %q (want letters, digits, '-' and '_')", name, r)
		}
	}
	return nil
}

// Consume runs the durable consumer name on subject (which may hold wildcards), calling h for each
// message, until ctx is done or the queue is closed. Consumers with the same name share the work,
// in this process or others; each message goes to one of them.
//
// When ctx is done, Consume drains: it stops fetching, lets running handlers finish and records
// their outcome (ack, retry or dead letter), and returns nil. Messages it had not started stay for
// the next consumer. After Close it drains the same way and returns ErrClosed.
//
// Backend errors while fetching (a lost connection) are logged and retried with a capped backoff;
// Consume returns an error only for bad arguments or when the consumer cannot be created.
func (q *Queue) Consume(ctx context.Context, name, subject string, h Handler, opts ...ConsumeOption) error {
	if q.closed.Load() {
		return ErrClosed
	}
	cfg := consumeConfig{
		concurrency: DefaultConcurrency, ackWait: DefaultAckWait,
		maxDeliveries: DefaultMaxDeliveries, backoff: DefaultBackoff,
		probeFirst: DefaultProbeDelay, probeMax: DefaultMaxProbeDelay,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if err := ValidateName(name); err != nil {
		cfg.errs = append(cfg.errs, fmt.Errorf("%w: name: %w", ErrInvalidOption, err))
	}
	if err := ValidateSubject(subject, true); err != nil {
		cfg.errs = append(cfg.errs, fmt.Errorf("%w: subject: %w", ErrInvalidOption, err))
	}
	if h == nil {
		cfg.errs = append(cfg.errs, fmt.Errorf("%w: handler: nil", ErrInvalidOption))
	}
	if cfg.deadLetter == "" && len(cfg.errs) == 0 {
		cfg.deadLetter = q.d.DefaultDeadLetter(name)
	}
	if cfg.deadLetter != "" && subjectsOverlap(cfg.deadLetter, subject) {
		cfg.fail("DeadLetterSubject", fmt.Sprintf("subject %q is one the consumer reads (%q)", cfg.deadLetter, subject))
	}
	if err := errors.Join(cfg.errs...); err != nil {
		return fmt.Errorf("queue: consume %q: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	// Check and register under runMu: a Close that set closed first makes this return ErrClosed,
	// and one that comes later waits for this call.
	q.runMu.Lock()
	if q.closed.Load() {
		q.runMu.Unlock()
		return ErrClosed
	}
	q.running.Add(1)
	q.runMu.Unlock()
	defer q.running.Done()
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-q.closing:
			cancel()
		case <-stop.Done():
		}
	}()

	cc := ConsumerConfig{
		Name: name, Subject: subject, DeadLetter: cfg.deadLetter, AckWait: cfg.ackWait,
		MaxAckPending: max(cfg.concurrency*2, 1000), InactiveThreshold: cfg.inactive,
	}
	sub, err := q.d.Subscribe(stop, cc)
	if err != nil {
		if stop.Err() != nil && ctx.Err() == nil {
			return ErrClosed
		}
		return q.wrap(fmt.Sprintf("consume %q: subscribe", name), err)
	}
	c := &consumer{q: q, name: name, subject: subject, cfg: &cfg, cc: cc, h: h, parent: ctx}
	c.gate = newGate(c)
	c.run(stop, sub)
	if q.closed.Load() && ctx.Err() == nil {
		return ErrClosed
	}
	return nil
}

// consumer is one running Consume call.
type consumer struct {
	q       *Queue
	name    string
	subject string
	cfg     *consumeConfig
	cc      ConsumerConfig
	h       Handler
	parent  context.Context // the caller's: its values reach handlers, its cancellation does not
	gate    *gate
}

func (c *consumer) run(stop context.Context, sub Subscription) {
	slots := make(chan struct{}, c.cfg.concurrency)
	var workers sync.WaitGroup
	defer func() {
		workers.Wait()
		c.gate.close()
		if sub == nil {
			return
		}
		if err := sub.Close(); err != nil {
			c.q.logger.Warn("queue: closing subscription", "consumer", c.name, "error", err)
		}
	}()
	if c.cfg.ready != nil {
		c.cfg.ready()
	}
	var failures int
	for {
		// Wait for a free handler before fetching, then take every free one.
		select {
		case slots <- struct{}{}:
		case <-stop.Done():
			return
		}
		// A paused consumer fetches nothing until a probe passes; then it tries one message
		// (a trial), and takes its full concurrency once that one did not fail Unavailable.
		mode, gen := c.gate.current()
		if mode == modePaused {
			<-slots
			if !c.gate.wait(stop) {
				return
			}
			continue
		}
		free := 1
	take:
		for mode == modeRunning && free < c.cfg.concurrency {
			select {
			case slots <- struct{}{}:
				free++
			default:
				break take
			}
		}
		var ds []Delivery
		var err error
		if sub == nil {
			// The consumer vanished (deleted, or the server lost its state): create it again.
			sub, err = c.q.d.Subscribe(stop, c.cc)
		}
		if err == nil {
			ds, err = sub.Fetch(stop, free)
			if errors.Is(err, ErrNotFound) {
				_ = sub.Close()
				sub = nil
			}
		}
		for range free - len(ds) {
			<-slots
		}
		if err != nil {
			if stop.Err() != nil {
				return
			}
			failures++
			wait := fetchBackoff(failures)
			c.q.logger.Warn("queue: fetch failed; retrying", "consumer", c.name, "backend", c.q.caps.Name,
				"error", err, "retry_in", wait.String())
			select {
			case <-time.After(wait):
			case <-stop.Done():
				return
			}
			continue
		}
		failures = 0
		fetched := time.Now()
		// Take the trial's channel before its delivery runs: a delivery that ends undecided (its
		// handler never ran) replaces the channel, and a loop that read it afterwards would wait
		// on the new one, which nothing closes.
		var trialDone <-chan struct{}
		if mode == modeTrial && len(ds) > 0 {
			trialDone = c.gate.trialDone()
		}
		for _, d := range ds {
			workers.Add(1)
			go func() {
				defer func() { <-slots; workers.Done() }()
				c.process(d, fetched, gen)
			}()
		}
		if mode == modeTrial && len(ds) == 0 && c.cfg.probe != nil {
			// The probe passed and there is nothing to try: resume rather than stay paused while
			// idle (the message handed back may have gone to another process, or been purged).
			// One still waiting out its hand-back delay comes at full concurrency; should the
			// downstream still fail, the first Unavailable pauses again, its delivery excused.
			c.gate.idle(gen)
		}
		if mode == modeTrial && len(ds) > 0 {
			// Wait for the trial's outcome: fetching more before it is known could spend the
			// backlog on a downstream that answers probes but still fails. (Without a probe, a
			// trial that found nothing fetches again: only a handled message decides.)
			select {
			case <-trialDone:
			case <-stop.Done():
				return
			}
		}
	}
}

// fetchBackoff is the wait after n consecutive fetch failures: 100ms doubling to 5s.
func fetchBackoff(n int) time.Duration {
	d := 100 * time.Millisecond << min(n-1, 6)
	return min(d, 5*time.Second)
}

// settleTimeout bounds acks, naks and dead-lettering, which run after the consume context may be
// done.
const settleTimeout = 10 * time.Second

// process runs the handler for one delivery and settles it: ack, nak after a backoff, or dead
// letter; or, when the handler's downstream is unavailable, hand it back and pause the consumer.
// gen is the pause generation the delivery was fetched in.
func (c *consumer) process(d Delivery, fetched time.Time, gen uint64) {
	m := d.Message()
	m.Header = m.Header.Canonical()
	base := context.WithoutCancel(c.parent)
	hctx, op := c.q.tel.startProcess(c.q.extract(base, m.Header), c.name, m)

	if mode, _ := c.gate.current(); mode == modePaused {
		// Fetched just as another handler paused the consumer: hand it back unhandled.
		delay := c.gate.unavailable(gen, m.Seq, nil)
		c.handBack(base, hctx, op, d, m, delay, 0, nil)
		return
	}
	// Deliveries an outage cost the message (see Unavailable) do not count.
	deliveries := c.gate.deliveries(m)
	if deliveries > c.cfg.maxDeliveries {
		c.gate.undecided(gen) // the handler did not run: a trial needs another message
		reason := fmt.Sprintf("delivered %d times, more than MaxDeliveries (%d): earlier attempts did not finish within AckWait", m.Delivery, c.cfg.maxDeliveries)
		err := c.deadLetter(base, d, m, reason)
		if err == nil {
			c.gate.forget(m.Seq)
		}
		c.q.tel.endProcess(hctx, op, outcomeDead, 0, nil, err)
		return
	}

	elapsed, herr := c.call(hctx, d, m, fetched)
	if herr != nil && errors.Is(herr, ErrUnavailable) {
		delay := c.gate.unavailable(gen, m.Seq, herr)
		c.handBack(base, hctx, op, d, m, delay, elapsed, herr)
		return
	}
	c.gate.handled(gen)
	var outcome outcomeKind
	var settleErr error
	sctx, cancel := context.WithTimeout(base, settleTimeout)
	defer cancel()
	switch {
	case herr == nil:
		outcome = outcomeAcked
		settleErr = d.Ack(sctx)
	case errors.Is(herr, ErrPermanent):
		outcome = outcomeDead
		settleErr = c.deadLetter(base, d, m, herr.Error())
	case deliveries >= c.cfg.maxDeliveries:
		outcome = outcomeDead
		settleErr = c.deadLetter(base, d, m, herr.Error())
	default:
		outcome = outcomeRetried
		delay, ok := retryDelay(herr)
		if !ok {
			delay = c.cfg.backoffFor(deliveries)
		}
		settleErr = d.Nak(sctx, delay)
		c.q.logger.Debug("queue: handler failed; retrying", "consumer", c.name, "subject", m.Subject,
			"delivery", m.Delivery, "retry_in", delay.String(), "error", herr)
	}
	if outcome != outcomeRetried && settleErr == nil {
		c.gate.forget(m.Seq)
	}
	if settleErr != nil {
		c.q.logger.Warn("queue: could not settle message; it will be delivered again after AckWait",
			"consumer", c.name, "subject", m.Subject, "seq", m.Seq, "outcome", outcome.String(), "error", settleErr)
	}
	c.q.tel.endProcess(hctx, op, outcome, elapsed, herr, settleErr)
}

// handBack releases a delivery the consumer's pause cost, to come again after delay; the
// delivery is excused from MaxDeliveries.
func (c *consumer) handBack(base, hctx context.Context, op processOp, d Delivery, m *Message, delay, elapsed time.Duration, herr error) {
	sctx, cancel := context.WithTimeout(base, settleTimeout)
	defer cancel()
	err := d.Nak(sctx, delay)
	if err != nil {
		c.q.logger.Warn("queue: could not hand back a message while paused; it will be delivered again after AckWait",
			"consumer", c.name, "subject", m.Subject, "seq", m.Seq, "error", err)
	}
	c.q.tel.endProcess(hctx, op, outcomePaused, elapsed, herr, err)
}

// call runs the handler, extending the ack wait while it runs, and recovers a panic into an error.
func (c *consumer) call(ctx context.Context, d Delivery, m *Message, fetched time.Time) (elapsed time.Duration, err error) {
	if c.cfg.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.timeout)
		defer cancel()
	}
	// Extend the ack wait every third of it while the handler runs: a timer that re-arms itself,
	// rather than a goroutine per message. The backend's clock started when it delivered the
	// message, so the first extension counts from the fetch, not from the handler's start.
	interval := c.cfg.ackWait / 3
	var mu sync.Mutex
	finished := false
	var timer *time.Timer
	mu.Lock() // the callback reads timer under mu
	timer = time.AfterFunc(max(interval-time.Since(fetched), 0), func() {
		ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), interval)
		if err := d.InProgress(ictx); err != nil {
			c.q.logger.Warn("queue: could not extend ack wait", "consumer", c.name, "seq", m.Seq, "error", err)
		}
		cancel()
		mu.Lock()
		if !finished {
			timer.Reset(interval)
		}
		mu.Unlock()
	})
	mu.Unlock()
	defer func() {
		mu.Lock()
		finished = true
		timer.Stop()
		mu.Unlock()
	}()
	start := time.Now()
	defer func() {
		elapsed = time.Since(start)
		if r := recover(); r != nil {
			c.q.logger.Error("queue: handler panicked", "consumer", c.name, "subject", m.Subject,
				"panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return 0, c.h(ctx, m)
}

// deadLetter stores m as a dead letter and removes it from the queue. When storing fails the
// message is released for another attempt after the backoff, never dropped.
func (c *consumer) deadLetter(base context.Context, d Delivery, m *Message, reason string) error {
	ctx, cancel := context.WithTimeout(base, settleTimeout)
	defer cancel()
	dead := &Message{ID: m.ID, Subject: m.Subject, Data: m.Data, Header: m.Header.Clone(), Seq: m.Seq, Delivery: m.Delivery}
	if dead.Header == nil {
		dead.Header = Header{}
	}
	dead.Header.Set(HeaderDeadReason, truncate(reason, 1024))
	dead.Header.Set(HeaderDeadDeliveries, strconv.Itoa(m.Delivery))
	dead.Header.Set(HeaderDeadSubject, m.Subject)
	dead.Header.Set(HeaderDeadTime, time.Now().UTC().Format(time.RFC3339Nano))
	dead.Header.Set(HeaderDeadConsumer, c.name)
	if err := c.q.d.PublishDead(ctx, c.cfg.deadLetter, dead); err != nil {
		nerr := d.Nak(ctx, c.cfg.backoffFor(m.Delivery))
		return errors.Join(fmt.Errorf("store dead letter on %s: %w", c.cfg.deadLetter, err), nerr)
	}
	c.q.logger.Warn("queue: message dead-lettered", "consumer", c.name, "subject", m.Subject, "id", m.ID,
		"deliveries", m.Delivery, "dead_letter", c.cfg.deadLetter, "reason", reason)
	return d.Ack(ctx)
}

// truncate shortens s to at most n bytes on a rune boundary, so a huge error does not make a
// header the backend refuses.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "..."
}

// DeleteConsumer removes the durable consumer name and its delivery state; its messages stay.
// ErrNotFound if there is none.
func (q *Queue) DeleteConsumer(ctx context.Context, name string) error {
	if q.closed.Load() {
		return ErrClosed
	}
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("queue: delete consumer: %w: %w", ErrInvalidOption, err)
	}
	if err := q.d.DeleteConsumer(ctx, name); err != nil {
		return q.wrap(fmt.Sprintf("delete consumer %q", name), err)
	}
	return nil
}

// Purge removes the waiting messages whose subject matches subject (wildcards allowed) and returns
// how many. Messages being handled are removed too; their acks then find nothing to do.
func (q *Queue) Purge(ctx context.Context, subject string) (int, error) {
	if q.closed.Load() {
		return 0, ErrClosed
	}
	if err := ValidateSubject(subject, true); err != nil {
		return 0, fmt.Errorf("queue: purge: %w: %w", ErrInvalidOption, err)
	}
	n, err := q.d.Purge(ctx, subject)
	if err != nil {
		return n, q.wrap("purge "+subject, err)
	}
	return n, nil
}
