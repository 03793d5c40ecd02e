package nats_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/queue/queuetest"
)

// TestWithCreateFalse opens the queue with WithCreate(false) on streams that do not exist, on a
// dead-letter stream that is missing, and on an embedded directory that does not exist: each
// Open fails with ErrNotFound naming what is missing, and nothing is created. On streams that
// exist, the read-only calls work and create no consumer.
func TestWithCreateFalse(t *testing.T) {
	ctx := context.Background()
	base := serverURL(t)
	space := queuetest.Space()
	stream := strings.ToUpper(space)
	deleteStreams(t, func() (*natsgo.Conn, error) { return natsgo.Connect(base) }, space)
	nc, err := natsgo.Connect(base)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	names := func() []string {
		var out []string
		l := js.StreamNames(ctx)
		for n := range l.Name() {
			if strings.HasPrefix(n, stream) { // other tests' streams come and go meanwhile
				out = append(out, n)
			}
		}
		if err := l.Err(); err != nil {
			t.Fatal(err)
		}
		slices.Sort(out)
		return out
	}
	readOnly := func(want string) {
		t.Helper()
		before := names()
		q, err := queue.Open(ctx, spaceURL(base, space), quiet(), queue.WithCreate(false))
		if err == nil {
			_ = q.Close()
		}
		if !errors.Is(err, queue.ErrNotFound) || !strings.Contains(err.Error(), want) {
			t.Errorf("Open with WithCreate(false) = %v, want ErrNotFound with %q", err, want)
		}
		if after := names(); !slices.Equal(before, after) {
			t.Errorf("streams before %v, after %v", before, after)
		}
	}
	readOnly("stream " + stream + " does not exist")

	q := openURL(t, spaceURL(base, space)) // creates both streams
	ro, err := queue.Open(ctx, spaceURL(base, space), quiet(), queue.WithCreate(false))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.ConsumerStats(ctx, "nosuch"); !errors.Is(err, queue.ErrNotFound) || !strings.Contains(err.Error(), "consumer nosuch does not exist on stream "+stream) {
		t.Errorf("ConsumerStats(nosuch) = %v", err)
	}
	for _, err := range ro.DeadLetters(ctx, "nosuch") {
		if !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("DeadLetters(nosuch) = %v, want ErrNotFound", err)
		}
	}
	s, _ := js.Stream(ctx, stream)
	for name := range s.ConsumerNames(ctx).Name() {
		t.Errorf("a read-only call created consumer %s", name)
	}
	_ = q.Close()

	if err := js.DeleteStream(ctx, stream+"_DEAD"); err != nil {
		t.Fatal(err)
	}
	readOnly("stream " + stream + "_DEAD does not exist")

	dir := filepath.Join(t.TempDir(), "nats")
	if _, err := queue.Open(ctx, "nats+embedded://"+filepath.ToSlash(dir), quiet(), queue.WithCreate(false)); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("embedded Open with WithCreate(false) on a directory that does not exist = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory %s: %v, want it not created", dir, err)
	}
}
