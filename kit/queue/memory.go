package queue

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"sync"
	"time"

	"github.com/stackkit/stackkit/kit/registry"
)

func init() { Register("memory", openMemory) }

// DefaultDedupWindow is how long memory:// remembers message IDs, as JetStream does by default.
const DefaultDedupWindow = 2 * time.Minute

// memoryPoll is the longest a memory Fetch waits before returning empty-handed.
const memoryPoll = 5 * time.Second

func openMemory(_ context.Context, u *url.URL, opts *registry.Options) (Driver, error) {
	window := opts.Duration("dedup_window", DefaultDedupWindow)
	// create=false (WithCreate(false)) asks to create nothing on open: a memory queue keeps
	// nothing outside this process, so there is nothing it could create.
	_ = opts.Bool("create", true)
	if err := opts.Err(); err != nil {
		return nil, err
	}
	if u.Host != "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("memory:// takes no host or path (got %q); each Open is its own queue", u.Host+u.Path)
	}
	return NewMemory(window), nil
}

// NewMemory returns the in-process driver behind memory://: messages live in this process only
// and are lost when it exits. Each driver is its own queue. dedupWindow is how long message IDs
// are remembered (0 for DefaultDedupWindow).
func NewMemory(dedupWindow time.Duration) Driver {
	return newMemory(dedupWindow, time.Now)
}

// newMemory is NewMemory with the clock the de-duplication windows are measured on.
func newMemory(dedupWindow time.Duration, now func() time.Time) *memory {
	if dedupWindow <= 0 {
		dedupWindow = DefaultDedupWindow
	}
	return &memory{
		now:       now,
		window:    dedupWindow,
		deadWork:  make(map[uint64]time.Time),
		ids:       make(map[string]time.Time),
		consumers: make(map[string]*memConsumer),
		changed:   make(chan struct{}),
	}
}

type memory struct {
	now    func() time.Time // the clock of the de-duplication windows
	window time.Duration

	mu        sync.Mutex
	closed    bool
	seq       uint64
	msgs      []*memMsg // by seq; acked ones are removed
	ids       map[string]time.Time
	consumers map[string]*memConsumer
	deadSeq   uint64
	dead      []*Message           // by Seq
	deadWork  map[uint64]time.Time // work-message Seqs dead-lettered within the window
	changed   chan struct{}
}

type memConsumer struct {
	subject    string
	deadLetter string
	ackWait    time.Duration
	inactive   time.Duration // removed after this long with no subscription (0: never)
	subs       int           // open subscriptions
	idleSince  time.Time     // when subs last fell to 0
}

type memMsg struct {
	m          Message
	deliveries int
	available  time.Time // not delivered before
	owner      string    // consumer holding it, "" when free
	token      uint64    // the current delivery; a stale Nak or InProgress is ignored
	deadline   time.Time // when a held message is redelivered
}

// notify wakes waiting fetches; call with mu held.
func (d *memory) notify() {
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *memory) Capabilities() Capabilities {
	return Capabilities{Name: "memory", DedupWindow: d.window}
}

// lock takes d.mu for an operation: nil with the lock held, or, without it, why the operation
// cannot run (the context is done, or the queue is closed).
func (d *memory) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	d.reapInactive()
	return nil
}

func (d *memory) Publish(ctx context.Context, m *Message) error {
	if err := d.lock(ctx); err != nil {
		return err
	}
	defer d.mu.Unlock()
	now := d.now()
	if m.ID != "" {
		if seen(d.ids, m.ID, now, d.window) {
			return nil
		}
	}
	d.seq++
	d.msgs = append(d.msgs, &memMsg{m: Message{
		ID: m.ID, Subject: m.Subject, Header: m.Header.Clone(), Data: append([]byte(nil), m.Data...),
		Published: now, Seq: d.seq,
	}})
	d.notify()
	return nil
}

func (d *memory) Subscribe(ctx context.Context, c ConsumerConfig) (Subscription, error) {
	if err := d.lock(ctx); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	for name, other := range d.consumers {
		if name != c.Name && subjectsOverlap(other.subject, c.Subject) {
			return nil, fmt.Errorf("%w: subject %q overlaps consumer %q's %q; each message goes to one consumer",
				ErrConflict, c.Subject, name, other.subject)
		}
	}
	mc, ok := d.consumers[c.Name]
	if !ok {
		mc = &memConsumer{}
		d.consumers[c.Name] = mc
	}
	mc.subject, mc.deadLetter, mc.ackWait, mc.inactive = c.Subject, c.DeadLetter, c.AckWait, c.InactiveThreshold
	mc.subs++
	d.notify()
	return &memSub{d: d, name: c.Name, c: mc}, nil
}

// reapInactive removes the consumers that have had no subscription for longer than their
// InactiveThreshold, as a JetStream server does; call with mu held.
func (d *memory) reapInactive() {
	now := d.now()
	for name, c := range d.consumers {
		if c.inactive > 0 && c.subs == 0 && now.Sub(c.idleSince) > c.inactive {
			d.deleteConsumer(name)
		}
	}
}

func (d *memory) DeleteConsumer(ctx context.Context, name string) error {
	if err := d.lock(ctx); err != nil {
		return err
	}
	defer d.mu.Unlock()
	if _, ok := d.consumers[name]; !ok {
		return fmt.Errorf("%w: no consumer %q", ErrNotFound, name)
	}
	d.deleteConsumer(name)
	return nil
}

// deleteConsumer removes a consumer and frees the messages it held; call with mu held.
func (d *memory) deleteConsumer(name string) {
	delete(d.consumers, name)
	for _, mm := range d.msgs {
		if mm.owner == name {
			mm.owner = ""
			mm.token++
		}
	}
	d.notify()
}

func (d *memory) Purge(ctx context.Context, subject string) (int, error) {
	if err := d.lock(ctx); err != nil {
		return 0, err
	}
	defer d.mu.Unlock()
	kept := d.msgs[:0]
	n := 0
	for _, mm := range d.msgs {
		if MatchSubject(subject, mm.m.Subject) {
			n++
			continue
		}
		kept = append(kept, mm)
	}
	clear(d.msgs[len(kept):])
	d.msgs = kept
	return n, nil
}

func (d *memory) PublishDead(ctx context.Context, subject string, m *Message) error {
	if err := d.lock(ctx); err != nil {
		return err
	}
	defer d.mu.Unlock()
	now := d.now()
	// Like NATS (whose dead letter carries the work sequence as its message ID): the same work
	// message dead-lettered again within the window, because acking it failed after it was
	// stored, is stored once.
	if m.Seq != 0 && seen(d.deadWork, m.Seq, now, d.window) {
		return nil
	}
	d.deadSeq++
	d.dead = append(d.dead, &Message{
		ID: m.ID, Subject: subject, Header: m.Header.Clone(), Data: append([]byte(nil), m.Data...),
		Published: now, Seq: d.deadSeq,
	})
	return nil
}

// seen reports whether key was recorded in ids within window before now, and records it if not;
// it forgets entries older than window. Call with mu held.
func seen[K comparable](ids map[K]time.Time, key K, now time.Time, window time.Duration) bool {
	for k, t := range ids {
		if now.Sub(t) > window {
			delete(ids, k)
		}
	}
	if _, dup := ids[key]; dup {
		return true
	}
	ids[key] = now
	return false
}

func (d *memory) DefaultDeadLetter(consumer string) string { return "dead." + consumer }

func (d *memory) DeadLetters(ctx context.Context, consumer string) iter.Seq2[*Message, error] {
	return func(yield func(*Message, error) bool) {
		if err := d.lock(ctx); err != nil {
			yield(nil, err)
			return
		}
		subject := d.DefaultDeadLetter(consumer)
		if c, ok := d.consumers[consumer]; ok {
			subject = c.deadLetter
		}
		var out []*Message
		for _, m := range d.dead {
			if m.Subject == subject {
				c := *m
				c.Header = m.Header.Clone()
				out = append(out, &c)
			}
		}
		d.mu.Unlock()
		for _, m := range out {
			if !yield(m, nil) {
				return
			}
		}
	}
}

func (d *memory) DeleteDead(ctx context.Context, seq uint64) (bool, error) {
	if err := d.lock(ctx); err != nil {
		return false, err
	}
	defer d.mu.Unlock()
	for i, m := range d.dead {
		if m.Seq == seq {
			d.dead = append(d.dead[:i], d.dead[i+1:]...)
			return true, nil
		}
	}
	return false, nil
}

func (d *memory) Stats(ctx context.Context) (*Stats, error) {
	if err := d.lock(ctx); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	s := &Stats{Messages: uint64(len(d.msgs)), DeadLetters: uint64(len(d.dead))}
	for _, mm := range d.msgs {
		s.Bytes += memSize(&mm.m)
	}
	for _, m := range d.dead {
		s.DeadBytes += memSize(m)
	}
	for name, c := range d.consumers {
		cs := ConsumerStats{Name: name, Subject: c.subject, DeadLetterSubject: c.deadLetter}
		// As JetStream counts: a message delivered once stays ack pending until acknowledged,
		// also while it waits for its retry.
		for _, mm := range d.msgs {
			switch {
			case !MatchSubject(c.subject, mm.m.Subject):
			case mm.deliveries == 0:
				cs.Pending++
			default:
				cs.AckPending++
				if mm.deliveries > 1 {
					cs.Redelivered++
				}
			}
		}
		for _, m := range d.dead {
			if m.Subject == c.deadLetter {
				cs.DeadLetters++
			}
		}
		s.Consumers = append(s.Consumers, cs)
	}
	return s, nil
}

// memSize is what a stored message takes: its subject, header and data bytes.
func memSize(m *Message) int64 {
	n := len(m.Subject) + len(m.Data)
	for k, vs := range m.Header {
		for _, v := range vs {
			n += len(k) + len(v)
		}
	}
	return int64(n)
}

func (d *memory) Ping(ctx context.Context) error {
	if err := d.lock(ctx); err != nil {
		return err
	}
	d.mu.Unlock()
	return nil
}

func (d *memory) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		d.notify()
	}
	return nil
}

// memSub is a subscription to a memory consumer.
type memSub struct {
	d      *memory
	name   string
	c      *memConsumer
	closed bool
}

func (s *memSub) Fetch(ctx context.Context, max int) ([]Delivery, error) {
	deadline := time.Now().Add(memoryPoll)
	for {
		s.d.mu.Lock()
		if s.d.closed {
			s.d.mu.Unlock()
			return nil, ErrClosed
		}
		if err := ctx.Err(); err != nil {
			s.d.mu.Unlock()
			return nil, err
		}
		c, ok := s.d.consumers[s.name]
		if !ok || c != s.c {
			// Deleted (and perhaps created again, which this subscription is not counted in).
			s.d.mu.Unlock()
			return nil, fmt.Errorf("%w: consumer %q was deleted", ErrNotFound, s.name)
		}
		now := time.Now()
		var out []Delivery
		wake := deadline
		for _, mm := range s.d.msgs {
			if !MatchSubject(c.subject, mm.m.Subject) {
				continue
			}
			free := mm.owner == "" && !mm.available.After(now)
			expired := mm.owner != "" && !mm.deadline.After(now)
			if !free && !expired {
				next := mm.available
				if mm.owner != "" {
					next = mm.deadline
				}
				if next.Before(wake) {
					wake = next
				}
				continue
			}
			if len(out) == max {
				break
			}
			mm.deliveries++
			mm.owner = s.name
			mm.token++
			mm.deadline = now.Add(c.ackWait)
			m := mm.m
			m.Header = mm.m.Header.Clone()
			m.Data = append([]byte(nil), mm.m.Data...)
			m.Delivery = mm.deliveries
			out = append(out, &memDelivery{d: s.d, mm: mm, token: mm.token, m: &m})
		}
		changed := s.d.changed
		s.d.mu.Unlock()
		if len(out) > 0 {
			return out, nil
		}
		if !now.Before(deadline) {
			return nil, nil
		}
		t := time.NewTimer(time.Until(wake))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

func (s *memSub) Close() error {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if !s.closed {
		s.closed = true
		if s.c.subs--; s.c.subs == 0 {
			s.c.idleSince = s.d.now()
		}
	}
	return nil
}

type memDelivery struct {
	d     *memory
	mm    *memMsg
	token uint64
	m     *Message
}

func (x *memDelivery) Message() *Message { return x.m }

// Ack removes the message, as JetStream acknowledges by stream sequence: even a delivery that
// expired and went to another subscription removes it.
func (x *memDelivery) Ack(ctx context.Context) error {
	if err := x.d.lock(ctx); err != nil {
		return err
	}
	defer x.d.mu.Unlock()
	for i, mm := range x.d.msgs {
		if mm == x.mm {
			x.d.msgs = append(x.d.msgs[:i], x.d.msgs[i+1:]...)
			break
		}
	}
	return nil
}

func (x *memDelivery) Nak(ctx context.Context, delay time.Duration) error {
	if err := x.d.lock(ctx); err != nil {
		return err
	}
	defer x.d.mu.Unlock()
	if x.mm.token == x.token && x.mm.owner != "" {
		x.mm.owner = ""
		x.mm.available = time.Now().Add(delay)
		x.d.notify()
	}
	return nil
}

func (x *memDelivery) InProgress(ctx context.Context) error {
	if err := x.d.lock(ctx); err != nil {
		return err
	}
	defer x.d.mu.Unlock()
	if x.mm.token == x.token && x.mm.owner != "" {
		if c, ok := x.d.consumers[x.mm.owner]; ok {
			x.mm.deadline = time.Now().Add(c.ackWait)
		}
	}
	return nil
}
