package queue

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DeadLetter is a message a consumer gave up on.
type DeadLetter struct {
	// Seq identifies the dead letter for Redrive and PurgeDead.
	Seq uint64
	// Message is the message as it was published: its ID, original subject, data and headers
	// (without the Kit-Dead-* ones).
	Message *Message
	// Consumer is the consumer that gave up.
	Consumer string
	// Reason is the handler's last error, or why the queue gave up.
	Reason string
	// Deliveries is how many times the message was delivered.
	Deliveries int
	// Subject is the subject the message was published to.
	Subject string
	// Time is when it was dead-lettered.
	Time time.Time
}

// DeadLetters yields the dead letters of the consumer name, oldest first. A name that is neither
// a consumer nor has dead letters (a consumer deleted since) yields an error wrapping ErrNotFound
// that names it. An error ends the sequence:
//
//	for dl, err := range q.DeadLetters(ctx, "mailer") {
//		if err != nil {
//			return err
//		}
//		fmt.Println(dl.Seq, dl.Subject, dl.Deliveries, dl.Reason)
//	}
func (q *Queue) DeadLetters(ctx context.Context, name string) iter.Seq2[*DeadLetter, error] {
	return func(yield func(*DeadLetter, error) bool) {
		if q.closed.Load() {
			yield(nil, ErrClosed)
			return
		}
		if err := ValidateName(name); err != nil {
			yield(nil, fmt.Errorf("queue: dead letters: %w: %w", ErrInvalidOption, err))
			return
		}
		found := false
		for m, err := range q.d.DeadLetters(ctx, name) {
			if err != nil {
				yield(nil, q.wrap(fmt.Sprintf("dead letters of %q", name), err))
				return
			}
			dl := parseDead(m)
			if dl.Consumer != name {
				continue
			}
			found = true
			if !yield(dl, nil) {
				return
			}
		}
		if found {
			return
		}
		// None: say so only of a consumer that exists, so that a mistyped name is an error
		// rather than an empty list. (A consumer deleted since keeps its dead letters listed.)
		s, err := q.d.Stats(ctx)
		if err != nil {
			yield(nil, q.wrap(fmt.Sprintf("dead letters of %q", name), err))
			return
		}
		if !slices.ContainsFunc(s.Consumers, func(c ConsumerStats) bool { return c.Name == name }) {
			yield(nil, q.notFound(s, name))
		}
	}
}

// parseDead turns a stored dead letter back into the message as published and its record.
func parseDead(m *Message) *DeadLetter {
	h := m.Header.Clone()
	dl := &DeadLetter{
		Seq:      m.Seq,
		Consumer: h.Get(HeaderDeadConsumer),
		Reason:   h.Get(HeaderDeadReason),
		Subject:  h.Get(HeaderDeadSubject),
	}
	dl.Deliveries, _ = strconv.Atoi(h.Get(HeaderDeadDeliveries))
	dl.Time, _ = time.Parse(time.RFC3339Nano, h.Get(HeaderDeadTime))
	if dl.Time.IsZero() {
		dl.Time = m.Published
	}
	for k := range h {
		if strings.HasPrefix(k, "Kit-Dead-") {
			delete(h, k)
		}
	}
	subject := dl.Subject
	if subject == "" {
		subject = m.Subject
	}
	dl.Message = &Message{ID: m.ID, Subject: subject, Header: h, Data: m.Data, Delivery: dl.Deliveries, Published: m.Published}
	return dl
}

// Redrive publishes the consumer's dead letters at seqs (all of them when none is given) again to
// their original subjects, with their original data and headers, and removes them from the dead
// letters; it returns how many it re-drove. A seq that is not one of the consumer's dead letters
// is reported as ErrNotFound after the others are done.
//
// A re-driven message with an ID gets the ID "<id>.redrive.<seq>" (the first ID is in its
// Kit-Redriven-From header), since the backend would otherwise drop it as a duplicate of the
// original within the de-duplication window. One published without an ID gets the ID
// "kit-redrive.<consumer>.<seq>". Either way, re-driving the same dead letter twice within the
// window (a retry after a failure between publishing and removing it) is de-duplicated.
func (q *Queue) Redrive(ctx context.Context, name string, seqs ...uint64) (int, error) {
	return q.eachDead(ctx, "redrive", name, seqs, func(dl *DeadLetter) error {
		m := dl.Message
		out := &Message{Subject: dl.Subject, Data: m.Data, Header: m.Header.Clone()}
		if out.Header == nil {
			out.Header = Header{}
		}
		// Derive from the first ID, so that re-driving a re-driven message does not grow it.
		first := out.Header.Get(HeaderRedrivenFrom)
		if first == "" && !strings.HasPrefix(m.ID, redrivePrefix) {
			first = m.ID
		}
		if first != "" {
			out.ID = first + ".redrive." + strconv.FormatUint(dl.Seq, 10)
			out.Header.Set(HeaderRedrivenFrom, first)
		} else {
			// A message published without an ID still gets one fixed by its dead letter, so a
			// Redrive retried after DeleteDead failed is dropped as a duplicate too.
			out.ID = redrivePrefix + name + "." + strconv.FormatUint(dl.Seq, 10)
		}
		if err := q.d.Publish(ctx, out); err != nil {
			return fmt.Errorf("publish to %s: %w", dl.Subject, err)
		}
		q.tel.redriven(ctx, name)
		return nil
	})
}

// redrivePrefix starts the ID Redrive gives a message that was published without one.
const redrivePrefix = "kit-redrive."

// PurgeDead removes the consumer's dead letters at seqs (all of them when none is given) and
// returns how many it removed. A seq that is not one of the consumer's dead letters is reported
// as ErrNotFound after the others are removed.
func (q *Queue) PurgeDead(ctx context.Context, name string, seqs ...uint64) (int, error) {
	return q.eachDead(ctx, "purge dead letters", name, seqs, nil)
}

// eachDead runs do on the chosen dead letters of name, then removes each one do succeeded on.
func (q *Queue) eachDead(ctx context.Context, what, name string, seqs []uint64, do func(*DeadLetter) error) (int, error) {
	if q.closed.Load() {
		return 0, ErrClosed
	}
	if err := ValidateName(name); err != nil {
		return 0, fmt.Errorf("queue: %s: %w: %w", what, ErrInvalidOption, err)
	}
	want := make(map[uint64]bool, len(seqs))
	for _, s := range seqs {
		want[s] = true
	}
	// Collect first: removing while iterating would skip entries on some backends.
	var chosen []*DeadLetter
	for dl, err := range q.DeadLetters(ctx, name) {
		if err != nil {
			return 0, err
		}
		if len(seqs) == 0 || want[dl.Seq] {
			chosen = append(chosen, dl)
			delete(want, dl.Seq)
		}
	}
	n := 0
	for _, dl := range chosen {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if do != nil {
			if err := do(dl); err != nil {
				return n, q.wrap(fmt.Sprintf("%s %q seq %d", what, name, dl.Seq), err)
			}
		}
		if _, err := q.d.DeleteDead(ctx, dl.Seq); err != nil {
			return n, q.wrap(fmt.Sprintf("%s %q: remove seq %d", what, name, dl.Seq), err)
		}
		n++
	}
	if len(want) > 0 {
		missing := make([]uint64, 0, len(want))
		for s := range want {
			missing = append(missing, s)
		}
		slices.Sort(missing)
		return n, fmt.Errorf("queue: %s %q: %w: no dead letter with seq %v", what, name, ErrNotFound, missing)
	}
	return n, nil
}
