package mail

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// pool holds the SMTP driver's connections: at most maxConns open, at most maxIdle kept idle.
// Idle connections are reused most recent first, each checked with RSET before it is handed
// out, and closed instead when past the driver's MaxLifetime or IdleTimeout. Expiry is checked
// when connections are taken and returned, so the pool runs no goroutine of its own.
type pool struct {
	d       *SMTP
	slots   chan struct{} // one token per open (or opening) connection
	maxIdle int

	mu     sync.Mutex
	idle   []*conn // most recently used last
	closed bool
}

func newPool(d *SMTP, maxConns, maxIdle int) *pool {
	return &pool{d: d, slots: make(chan struct{}, maxConns), maxIdle: maxIdle}
}

func (p *pool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// get returns a healthy connection: a pooled one that passes RSET, or a new one (always new
// when fresh). It waits for a free slot while maxConns are in use.
func (p *pool) get(ctx context.Context, fresh bool) (*conn, error) {
	if p.isClosed() {
		return nil, ErrClosed
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("mail: smtp %s: waiting for a connection (max_conns=%d): %w", p.d.cfg.Addr, cap(p.slots), context.Cause(ctx))
	}
	for !fresh {
		c := p.popIdle()
		if c == nil {
			break
		}
		if p.expired(c, time.Now()) {
			c.quit()
			continue
		}
		if err := c.do(ctx, "RSET", "", c.cl.Reset); err != nil {
			p.d.discards.Add(1)
			p.d.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "mail: smtp pooled connection failed its health check; discarded",
				slog.String("server", p.d.cfg.Addr), slog.Any("error", err))
			c.close()
			if ctx.Err() != nil {
				<-p.slots
				return nil, err
			}
			continue
		}
		p.d.reuses.Add(1)
		return c, nil
	}
	c, err := p.d.dial(ctx)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return c, nil
}

func (p *pool) popIdle() *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.idle)
	if n == 0 {
		return nil
	}
	c := p.idle[n-1]
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	return c
}

func (p *pool) expired(c *conn, now time.Time) bool {
	return now.Sub(c.created) >= p.d.cfg.MaxLifetime || now.Sub(c.lastUsed) >= p.d.cfg.IdleTimeout
}

// put returns a connection taken with get: kept idle when healthy and there is room, closed
// otherwise.
func (p *pool) put(c *conn, healthy bool) {
	defer func() { <-p.slots }()
	now := time.Now()
	c.lastUsed = now
	if !healthy || c.broken {
		p.d.discards.Add(1)
		c.close()
		return
	}
	p.mu.Lock()
	keep := !p.closed && len(p.idle) < p.maxIdle && !p.expired(c, now)
	var stale []*conn
	if keep {
		p.idle = append(p.idle, c)
		// Drop the idle connections that have expired meanwhile, oldest first.
		for len(p.idle) > 0 && p.expired(p.idle[0], now) {
			stale = append(stale, p.idle[0])
			p.idle[0] = nil
			p.idle = p.idle[1:]
		}
	}
	p.mu.Unlock()
	if !keep {
		c.quit()
	}
	for _, s := range stale {
		s.quit()
	}
}

func (p *pool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

func (p *pool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.quit()
	}
}
