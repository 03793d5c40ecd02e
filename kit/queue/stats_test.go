package queue_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stackkit/stackkit/kit/queue"
)

// TestWithCreateURL: WithCreate(false) replaces the URL's create option rather than repeating it
// (a repeated option is an error), and every backend must read create: memory:// does.
func TestWithCreateURL(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{"memory://", "memory://?create=true", "memory://?dedup_window=1m&create=false"} {
		q, err := queue.Open(ctx, u, queue.WithCreate(false))
		if err != nil {
			t.Errorf("Open(%q, WithCreate(false)): %v", u, err)
			continue
		}
		_ = q.Close()
	}
	if _, err := queue.Open(ctx, "memory://?create=maybe"); !errors.Is(err, queue.ErrInvalidOption) {
		t.Errorf("create=maybe: %v, want ErrInvalidOption", err)
	}
}
