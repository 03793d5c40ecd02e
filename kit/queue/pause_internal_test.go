package queue

import "testing"

// The excused deliveries are bounded: past maxExcused messages the oldest are forgotten (and
// count again), a message excused again keeps its count, and a forgotten one counts in full.
func TestExcusedBounded(t *testing.T) {
	g := newGate(&consumer{cfg: &consumeConfig{}})
	g.excuse(1)
	g.excuse(1)
	if got := g.deliveries(&Message{Seq: 1, Delivery: 3}); got != 1 {
		t.Errorf("3 deliveries, 2 excused: counted %d, want 1", got)
	}
	g.forget(1)
	g.excuse(1) // excused again after it was forgotten: a new entry, the old one stale
	// maxExcused-1 more: one entry too many in order, and the stale one of message 1 goes.
	for seq := uint64(2); seq <= maxExcused; seq++ {
		g.excuse(seq)
	}
	if len(g.excused) != maxExcused || len(g.order) > maxExcused {
		t.Fatalf("%d messages remembered, order %d; want %d", len(g.excused), len(g.order), maxExcused)
	}
	if got := g.deliveries(&Message{Seq: 1, Delivery: 3}); got != 2 {
		t.Errorf("message 1 after forget and one more excuse: counted %d, want 2", got)
	}
	g.excuse(maxExcused + 1) // message 1's stale entry went in the loop; its live one is the oldest now
	if got := g.deliveries(&Message{Seq: 1, Delivery: 3}); got != 3 || len(g.excused) != maxExcused {
		t.Errorf("oldest past the bound: counted %d (want 3), %d remembered (want %d)", got, len(g.excused), maxExcused)
	}
}
