package txsync

import (
	"context"
	"sync"
)

// A flight is one sync (pull, build, publish) and the requests it answers.
type flight struct {
	req     Request
	n       int  // requests folded into it
	started bool // its pull has begun: a request arriving now may ask about changes it missed
	done    chan struct{}
	res     *Result
	err     error
}

// coalescer runs one sync at a time per worker and folds requests into as few as possible: a
// request arriving while a sync runs cannot be answered by it (the change it announces may have
// come after the pull read Transifex), so it joins the one next sync, which every request
// arriving meanwhile joins too. However many requests arrive during a sync, one more follows it.
// The working copy in storage is written by one sync at a time as a result.
type coalescer struct {
	mu      sync.Mutex
	running *flight
	next    *flight
	waiting int // requests waiting for the running sync to end: its members and the next one's
}

// do answers req with a sync: running it (run) if req leads a flight, else waiting for the
// flight it joined. shared reports that another request ran it.
func (c *coalescer) do(ctx context.Context, req Request, run func(context.Context, Request, int) (*Result, error)) (res *Result, shared bool, err error) {
	c.mu.Lock()
	var f, prev *flight
	lead := false
	switch {
	case c.running == nil:
		f = &flight{req: req, n: 1, started: true, done: make(chan struct{})}
		c.running, lead = f, true
	case c.next == nil:
		f = &flight{req: req, n: 1, done: make(chan struct{})}
		c.next, prev, lead = f, c.running, true
	default:
		f = c.next
		f.req = merge(f.req, req)
		f.n++
	}
	if !lead || prev != nil {
		c.waiting++
	}
	c.mu.Unlock()

	if !lead {
		defer func() { c.mu.Lock(); c.waiting--; c.mu.Unlock() }()
		select {
		case <-f.done:
			return f.res, true, f.err
		case <-ctx.Done():
			return nil, true, ctx.Err()
		}
	}
	if prev != nil {
		// Not on ctx: once this flight is queued, someone must run it. The running sync ends on
		// its own (the client's timeouts bound every request), and promotes this one.
		<-prev.done
		c.mu.Lock()
		c.waiting--
		c.mu.Unlock()
	}
	c.mu.Lock()
	r, n := f.req, f.n
	c.mu.Unlock()
	f.res, f.err = run(ctx, r, n)

	c.mu.Lock()
	c.running = c.next
	c.next = nil
	if c.running != nil {
		c.running.started = true
	}
	c.mu.Unlock()
	close(f.done)
	return f.res, false, f.err
}

// waitingCount is how many requests wait for the running sync to end.
func (c *coalescer) waitingCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waiting
}
