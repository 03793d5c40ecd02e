package transifex

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

var contextDeadlineExceeded = context.DeadlineExceeded

// Clock is the time source of the client's waits: rate limiting, backoff between retries, polling
// of jobs and the operation timeout all read Now and wait with Sleep. Tests pass a virtual clock
// (txtest.Clock) whose Sleep returns at once, so they never wait real seconds.
type Clock interface {
	Now() time.Time
	// Sleep waits d, or until ctx is done (returning ctx's error).
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Backoff is a capped, jittered exponential backoff: the n-th wait (from 0) is a random duration
// in [d/2, d] with d = min(Max, Initial·Multiplier^n).
type Backoff struct {
	Initial    time.Duration
	Max        time.Duration
	Multiplier float64
}

// Delay returns the n-th wait.
func (b Backoff) Delay(n int) time.Duration {
	d := float64(b.Initial)
	for range n {
		d *= b.Multiplier
		if d >= float64(b.Max) {
			break
		}
	}
	if d > float64(b.Max) {
		d = float64(b.Max)
	}
	half := d / 2
	return time.Duration(half + rand.Float64()*half)
}

// deadlineKey carries an operation's deadline on the client's clock, which may be virtual.
type deadlineKey struct{}

type opDeadline struct {
	at   time.Time
	what string
	d    time.Duration
}

// withOperation bounds one operation: a real-time context deadline, and the same deadline on the
// client's clock, which sleep enforces (so a virtual clock in tests times out too).
func (c *Client) withOperation(ctx context.Context, what string) (context.Context, context.CancelFunc) {
	if c.opTimeout <= 0 {
		return context.WithCancel(ctx)
	}
	if _, ok := ctx.Value(deadlineKey{}).(*opDeadline); ok {
		// Nested: the outer operation's deadline stands.
		return context.WithCancel(ctx)
	}
	ctx = context.WithValue(ctx, deadlineKey{}, &opDeadline{at: c.clock.Now().Add(c.opTimeout), what: what, d: c.opTimeout})
	return context.WithTimeout(ctx, c.opTimeout)
}

// sleep waits d on the client's clock, failing with ErrTimeout at once when the wait would pass
// the operation's deadline: waiting and then failing helps nobody.
func (c *Client) sleep(ctx context.Context, d time.Duration, why string) error {
	if dl, ok := ctx.Value(deadlineKey{}).(*opDeadline); ok {
		if c.clock.Now().Add(d).After(dl.at) {
			return &timeoutError{msg: fmt.Sprintf("transifex: %s did not finish within %s (%s)", dl.what, dl.d, why)}
		}
	}
	// The caller's own deadline, in real time: a wait that would outlive it fails now, not when
	// the context ends.
	if dl, ok := ctx.Deadline(); ok && d > 0 {
		if left := time.Until(dl); d > left {
			return &timeoutError{msg: fmt.Sprintf("transifex: the context's deadline is %s away, and %s", left.Round(time.Millisecond), why)}
		}
	}
	if err := c.clock.Sleep(ctx, d); err != nil {
		return ctxError(ctx, err)
	}
	return nil
}

// ctxError turns a context deadline of an operation into ErrTimeout.
func ctxError(ctx context.Context, err error) error {
	if dl, ok := ctx.Value(deadlineKey{}).(*opDeadline); ok && ctx.Err() == context.DeadlineExceeded {
		return &timeoutError{msg: fmt.Sprintf("transifex: %s did not finish within %s", dl.what, dl.d)}
	}
	return err
}
