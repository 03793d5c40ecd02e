package queue

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Defaults of the pause options.
const (
	DefaultProbeDelay    = time.Second
	DefaultMaxProbeDelay = 30 * time.Second
	// maxProbeTimeout bounds one probe call.
	maxProbeTimeout = 10 * time.Second
	// maxExcused bounds the excused deliveries a consumer remembers; past it the oldest are
	// forgotten (they then count toward MaxDeliveries again).
	maxExcused = 100000
)

// Probe sets the function a paused consumer calls to learn whether its handler's downstream is
// back (a mail server's NOOP, an API's health endpoint); nil means it answers. Without one the
// consumer probes by handling a single message ("half-open"), which costs that message a
// delivery (excused, like every delivery an outage costs). See [Unavailable].
func Probe(f func(ctx context.Context) error) ConsumeOption {
	return func(c *consumeConfig) { c.probe = f }
}

// ProbeBackoff sets the delays between probes while the consumer is paused: first, doubling up
// to maxDelay (default 1s doubling to 30s). maxDelay bounds how long a consumer stays paused
// after its downstream came back.
func ProbeBackoff(first, maxDelay time.Duration) ConsumeOption {
	return func(c *consumeConfig) {
		if first < time.Millisecond || maxDelay < first {
			c.fail("ProbeBackoff", fmt.Sprintf("want 1ms <= first <= max, got %s and %s", first, maxDelay))
			return
		}
		c.probeFirst, c.probeMax = first, maxDelay
	}
}

// OnPause adds a function called when the consumer pauses, with the handler's [Unavailable]
// error, and when it resumes, with nil: a service's readiness check can say it is paused, and
// why. It is called from the consumer's goroutines, one call at a time, and must not block. A
// Consume that returns while paused makes no last call with nil.
func OnPause(f func(reason error)) ConsumeOption {
	return func(c *consumeConfig) {
		if f != nil {
			c.onPause = append(c.onPause, f)
		}
	}
}

// pauseMode is the state of a consumer's circuit.
type pauseMode int

const (
	modeRunning pauseMode = iota // fetching with full concurrency
	modePaused                   // fetching nothing; probing the downstream
	modeTrial                    // fetching one message; full concurrency once it succeeds
)

// gate is a consumer's pause state: the circuit breaker that the handlers' Unavailable errors
// open, and the deliveries an outage excused.
type gate struct {
	c *consumer

	mu      sync.Mutex
	mode    pauseMode
	gen     uint64 // incremented when a trial starts: outcomes of older deliveries do not decide it
	reason  error
	since   time.Time
	probes  int           // consecutive probes that failed, for the backoff
	trialed chan struct{} // closed when the trial's outcome is known
	excused map[uint64]excuse
	order   []excused // oldest first, to forget the oldest past maxExcused
	added   uint64    // excuses recorded so far: tells a message's entry in order from a newer one
}

// excuse is what the gate remembers of a message: its deliveries the outages cost.
type excuse struct {
	n     int
	added uint64
}

type excused struct {
	seq   uint64
	added uint64
}

func newGate(c *consumer) *gate { return &gate{c: c, excused: map[uint64]excuse{}} }

// current returns the mode and generation deliveries fetched now belong to.
func (g *gate) current() (pauseMode, uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mode, g.gen
}

// delay returns the wait before the next probe; g.mu is held.
func (g *gate) delay() time.Duration {
	d := g.c.cfg.probeFirst << min(g.probes, 20)
	if d <= 0 || d > g.c.cfg.probeMax {
		d = g.c.cfg.probeMax
	}
	return d
}

// unavailable records that a delivery of generation gen failed with err, an Unavailable error:
// the consumer pauses (or stays paused), and the delay before the message should come back is
// returned.
func (g *gate) unavailable(gen uint64, seq uint64, err error) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.excuse(seq)
	if err == nil || gen != g.gen || g.mode == modePaused {
		// A delivery started before the current trial, or while already paused: it does not
		// change the state.
		return g.delay()
	}
	wasTrial := g.mode == modeTrial
	g.mode, g.reason = modePaused, err
	if wasTrial {
		// The probe passed but the handler still fails: back off further.
		g.probes++
		close(g.trialed)
		g.trialed = nil
		g.c.q.logger.Info("queue: consumer still paused: the trial message failed", "consumer", g.c.name,
			"reason", err.Error(), "retry_in", g.delay().String())
		return g.delay()
	}
	g.since = time.Now()
	g.c.q.logger.Warn("queue: consumer paused", "consumer", g.c.name, "reason", err.Error(),
		"retry_in", g.delay().String())
	g.c.q.tel.pauseChanged(g.c.name, true)
	g.notify(err)
	return g.delay()
}

// handled records that a delivery of generation gen ended other than Unavailable: a trial of that
// generation succeeds and the consumer resumes.
func (g *gate) handled(gen uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if gen != g.gen || g.mode != modeTrial {
		return
	}
	g.resume()
}

// idle records that a trial of generation gen found no message to try after its probe passed:
// the consumer resumes.
func (g *gate) idle(gen uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if gen != g.gen || g.mode != modeTrial {
		return
	}
	g.resume()
}

// undecided records that a delivery of generation gen ended without telling whether the
// downstream is back (its handler did not run): a trial of that generation takes another message.
func (g *gate) undecided(gen uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if gen != g.gen || g.mode != modeTrial {
		return
	}
	close(g.trialed)
	g.trialed = make(chan struct{})
}

// resume returns to full concurrency; g.mu is held.
func (g *gate) resume() {
	if g.trialed != nil {
		close(g.trialed)
		g.trialed = nil
	}
	g.mode, g.reason, g.probes = modeRunning, nil, 0
	g.c.q.logger.Info("queue: consumer resumed", "consumer", g.c.name, "paused_for", time.Since(g.since).Round(time.Millisecond).String())
	g.c.q.tel.pauseChanged(g.c.name, false)
	g.notify(nil)
}

func (g *gate) notify(reason error) {
	for _, f := range g.c.cfg.onPause {
		f(reason)
	}
}

// wait blocks a paused consumer until a probe passes (or, without a probe, until the next
// attempt is due), then moves it to the trial mode. It returns false when stop is done.
func (g *gate) wait(stop context.Context) bool {
	for {
		g.mu.Lock()
		if g.mode != modePaused {
			g.mu.Unlock()
			return true
		}
		d := g.delay()
		g.mu.Unlock()
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-stop.Done():
			t.Stop()
			return false
		}
		if probe := g.c.cfg.probe; probe != nil {
			// The probe runs beside the wait for stop: one that ignores its context must not hold
			// up the consumer's drain (it is abandoned, and ends on its own).
			pctx, cancel := context.WithTimeout(stop, min(max(d, time.Second), maxProbeTimeout))
			res := make(chan error, 1)
			go func() { res <- probe(pctx) }()
			var err error
			select {
			case err = <-res:
			case <-stop.Done():
			}
			cancel()
			if stop.Err() != nil {
				return false
			}
			if err != nil {
				g.mu.Lock()
				g.probes++
				g.c.q.logger.Debug("queue: consumer still paused: probe failed", "consumer", g.c.name,
					"error", err.Error(), "retry_in", g.delay().String())
				g.mu.Unlock()
				continue
			}
		}
		g.mu.Lock()
		g.mode = modeTrial
		g.gen++
		g.trialed = make(chan struct{})
		g.mu.Unlock()
		return true
	}
}

// trialDone returns a channel closed when the current trial is decided (already closed when
// none runs).
func (g *gate) trialDone() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.trialed == nil {
		return closedChan
	}
	return g.trialed
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// excuse remembers that the delivery of message seq was an outage's; g.mu is held.
func (g *gate) excuse(seq uint64) {
	if seq == 0 {
		return
	}
	e, ok := g.excused[seq]
	if !ok {
		g.added++
		e.added = g.added
		g.order = append(g.order, excused{seq: seq, added: e.added})
		for len(g.order) > maxExcused {
			old := g.order[0]
			g.order = g.order[1:]
			if g.excused[old.seq].added == old.added {
				delete(g.excused, old.seq)
			}
		}
	}
	e.n++
	g.excused[seq] = e
}

// deliveries returns how many of the message's deliveries count toward MaxDeliveries: those
// an outage did not excuse.
func (g *gate) deliveries(m *Message) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return max(m.Delivery-g.excused[m.Seq].n, 1)
}

// forget drops what is remembered of a message that left the queue.
func (g *gate) forget(seq uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.excused, seq) // its entry in order goes when it reaches the front, or is compacted
}

// close counts a consumer that stops while paused as no longer paused in the metric.
func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mode != modeRunning {
		g.c.q.tel.pauseChanged(g.c.name, false)
	}
}
