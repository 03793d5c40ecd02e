package queue_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/queue/queuetest"
)

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelError + 1}))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestMemoryConformance(t *testing.T) {
	queuetest.Run(t, func(t *testing.T, _ string, opts ...queue.Option) *queue.Queue {
		q, err := queue.Open(t.Context(), "memory://", append([]queue.Option{queue.WithLogger(quietLogger())}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = q.Close() })
		return q
	})
}

func TestMemoryOptions(t *testing.T) {
	ctx := context.Background()
	for _, url := range []string{"memory://?dedup_windw=1s", "memory://?dedup_window=5", "memory://host/path"} {
		if _, err := queue.Open(ctx, url); err == nil {
			t.Errorf("Open(%q) succeeded", url)
		}
	}
	_, err := queue.Open(ctx, "memory://?dedup_windw=1s")
	if !errors.Is(err, queue.ErrInvalidOption) {
		t.Errorf("unknown option: %v, want ErrInvalidOption", err)
	}
}

func TestMemoryDedupWindowExpires(t *testing.T) {
	q, err := queue.Open(context.Background(), "memory://?dedup_window=50ms")
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	pub := func(data string) {
		if err := q.Publish(context.Background(), &queue.Message{Subject: "a", ID: "same", Data: []byte(data)}); err != nil {
			t.Fatal(err)
		}
	}
	pub("1")
	pub("2") // within the window: dropped
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	pub("3") // after it: kept
	n, err := q.Purge(context.Background(), "a")
	if err != nil || n != 2 {
		t.Errorf("stored %d, %v; want 2 (the duplicate within the window dropped, the one after kept)", n, err)
	}
}
