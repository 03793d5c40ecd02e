package nats_test

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/queue"
	kitnats "github.com/stackkit/stackkit/kit/queue/nats"
)

// quiet keeps expected warnings (dead letters, panics in the suite) out of test output; set
// KIT_TEST_QUEUE_LOG=1 to see them.
func quiet() queue.Option {
	if os.Getenv("KIT_TEST_QUEUE_LOG") != "" {
		return queue.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
	}
	return queue.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// serverURL returns the shared NATS server's URL, or skips.
func serverURL(t testing.TB) string {
	t.Helper()
	return testenv.Get(t, "KIT_TEST_NATS_URL")
}

// withQuery adds query options to a URL.
func withQuery(base string, kv ...string) string {
	u, err := url.Parse(base)
	if err != nil {
		panic(err)
	}
	q := u.Query()
	for i := 0; i < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// spaceURL is a URL whose streams are the space's own: stream SPACE (subjects space.>) and
// SPACE_DEAD.
func spaceURL(base, space string, kv ...string) string {
	return withQuery(base, append([]string{"stream", strings.ToUpper(space), "subjects", space + ".>"}, kv...)...)
}

// deleteStreams removes the space's streams when the test ends, over a connection of its own (the
// test may have closed its queue).
func deleteStreams(t *testing.T, connect func() (*natsgo.Conn, error), space string) {
	t.Cleanup(func() {
		nc, err := connect()
		if err != nil {
			t.Errorf("cleanup: connect: %v", err)
			return
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, s := range []string{strings.ToUpper(space), strings.ToUpper(space) + "_DEAD"} {
			if err := js.DeleteStream(ctx, s); err != nil && !strings.Contains(err.Error(), "not found") {
				t.Errorf("cleanup: delete stream %s: %v", s, err)
			}
		}
	})
}

// openURL opens a queue and closes it when the test ends.
func openURL(t *testing.T, rawURL string, opts ...queue.Option) *queue.Queue {
	t.Helper()
	q, err := queue.Open(context.Background(), rawURL, append([]queue.Option{quiet()}, opts...)...)
	if err != nil {
		t.Fatalf("Open(%s): %v", rawURL, err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

// driverOf returns the NATS driver behind q.
func driverOf(t *testing.T, q *queue.Queue) *kitnats.Driver {
	t.Helper()
	d, ok := q.Driver().(*kitnats.Driver)
	if !ok {
		t.Fatalf("driver is %T", q.Driver())
	}
	return d
}
