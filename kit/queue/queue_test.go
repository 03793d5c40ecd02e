package queue_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/kit/queue"
)

// TestOpenWithCreateShowsURLAsWritten: WithCreate sets the create option for the backend, but an
// error names the URL the caller gave (redacted), not the one rewritten with create=false, and
// wraps the same sentinels as without WithCreate.
func TestOpenWithCreateShowsURLAsWritten(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ url, want string }{
		{"memory://?x=1", `queue: open "memory://?x=1": option "x": unknown option`},
		{"memory://?x=1&create=true", `queue: open "memory://?x=1&create=true": option "x": unknown option`},
		{"memory://?x=1&api_token=s3cret", `?x=1&api_token=xxxxx": option "api_token": unknown option`},
		{"memory://host", `queue: open "memory://host": memory:// takes no host or path`},
		{"nope://host?x=1", `queue: unknown scheme "nope" in URL "nope://host?x=1"`},
	} {
		_, plain := queue.Open(ctx, tc.url)
		for _, create := range []bool{false, true} {
			q, err := queue.Open(ctx, tc.url, queue.WithCreate(create))
			if err == nil {
				q.Close()
				t.Fatalf("Open(%q, WithCreate(%v)) succeeded", tc.url, create)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || strings.Count(msg, "create=") != strings.Count(tc.url, "create=") || strings.Contains(msg, "s3cret") {
				t.Errorf("Open(%q, WithCreate(%v)): %q, want it to say %q", tc.url, create, msg, tc.want)
			}
			if errors.Is(err, queue.ErrInvalidOption) != errors.Is(plain, queue.ErrInvalidOption) {
				t.Errorf("Open(%q, WithCreate(%v)): errors.Is(err, ErrInvalidOption) differs from Open without it (%v)", tc.url, create, plain)
			}
		}
	}
}
