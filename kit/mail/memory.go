package mail

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sync"

	"github.com/stackkit/stackkit/kit/registry"
)

func init() { Register("memory", openMemory) }

func openMemory(_ context.Context, u *url.URL, opts *registry.Options) (Driver, error) {
	if err := opts.Err(); err != nil {
		return nil, err
	}
	if u.Host != "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("memory:// takes no host or path (got %q); each Open is its own outbox", u.Host+u.Path)
	}
	return NewMemory(), nil
}

// Memory is the driver behind memory://: an outbox in this process that tests read
// (Django's locmem backend, mail.outbox). Reach it with m.Driver().(*mail.Memory).
type Memory struct {
	mu      sync.Mutex
	sent    []*Envelope
	changed chan struct{} // closed and replaced on every send
}

// NewMemory returns an empty outbox.
func NewMemory() *Memory { return &Memory{changed: make(chan struct{})} }

// Capabilities implements Driver.
func (*Memory) Capabilities() Capabilities { return Capabilities{Name: "memory"} }

// Send implements Driver: it keeps a copy of env.
func (d *Memory) Send(ctx context.Context, env *Envelope) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := *env
	c.To = slices.Clone(env.To)
	c.Data = slices.Clone(env.Data)
	d.mu.Lock()
	d.sent = append(d.sent, &c)
	close(d.changed)
	d.changed = make(chan struct{})
	d.mu.Unlock()
	return nil
}

// Messages returns the messages sent so far, oldest first.
func (d *Memory) Messages() []*Envelope {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.sent)
}

// Wait returns once at least n messages were sent, or ctx's error when it is done first.
func (d *Memory) Wait(ctx context.Context, n int) ([]*Envelope, error) {
	for {
		d.mu.Lock()
		sent, changed := slices.Clone(d.sent), d.changed
		d.mu.Unlock()
		if len(sent) >= n {
			return sent, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return sent, ctx.Err()
		}
	}
}

// Clear empties the outbox.
func (d *Memory) Clear() {
	d.mu.Lock()
	d.sent = nil
	d.mu.Unlock()
}

// Close implements Driver.
func (*Memory) Close() error { return nil }
