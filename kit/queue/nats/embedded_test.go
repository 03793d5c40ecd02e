package nats_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/queue"
	kitnats "github.com/stackkit/stackkit/kit/queue/nats"
)

// TestEmbeddedSurvivesRestart publishes to an embedded server, closes it, opens the same
// directory again, and finds the messages, the consumer's progress and the dead letters there.
func TestEmbeddedSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	url := "nats+embedded://" + dir + "?stream=DURABLE&subjects=durable.>"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	q, err := queue.Open(ctx, url, quiet())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := q.Publish(ctx, &queue.Message{Subject: "durable.jobs", ID: fmt.Sprint("job-", i), Data: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	// Handle the first three; dead-letter the fourth.
	var handled []string
	var mu sync.Mutex
	cctx, stop := context.WithCancel(ctx)
	err = q.Consume(cctx, "worker", "durable.jobs", func(_ context.Context, m *queue.Message) error {
		mu.Lock()
		defer mu.Unlock()
		handled = append(handled, string(m.Data))
		if len(handled) == 4 {
			stop()
			return queue.Permanent(errors.New("bad job"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	q2, err := queue.Open(ctx, url, quiet())
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer q2.Close()
	var dead []*queue.DeadLetter
	for dl, err := range q2.DeadLetters(ctx, "worker") {
		if err != nil {
			t.Fatal(err)
		}
		dead = append(dead, dl)
	}
	if len(dead) != 1 || string(dead[0].Message.Data) != "3" || dead[0].Reason != "bad job" {
		t.Errorf("dead letters after restart: %+v", dead)
	}
	// De-duplication survives for messages still stored: JetStream rebuilds its window from them.
	if err := q2.Publish(ctx, &queue.Message{Subject: "durable.jobs", ID: "job-9", Data: []byte("again")}); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	cctx, stop = context.WithCancel(ctx)
	defer stop()
	go func() {
		_ = q2.Consume(cctx, "worker", "durable.jobs", func(_ context.Context, m *queue.Message) error {
			got <- string(m.Data)
			return nil
		})
	}()
	for want := 4; want < 10; want++ {
		select {
		case v := <-got:
			if v != fmt.Sprint(want) {
				t.Fatalf("after restart got message %s, want %d (the unhandled ones, in order)", v, want)
			}
		case <-ctx.Done():
			t.Fatalf("message %d did not survive the restart", want)
		}
	}
	if err := q2.Publish(ctx, &queue.Message{Subject: "durable.jobs", Data: []byte("fence")}); err != nil {
		t.Fatal(err)
	}
	if v := <-got; v != "fence" {
		t.Errorf("got %q after the fence; a duplicate ID from before the restart was not dropped", v)
	}
}

func TestEmbeddedDirectoryLocked(t *testing.T) {
	dir := t.TempDir()
	q := openURL(t, "nats+embedded://"+dir)
	_ = q
	_, err := queue.Open(context.Background(), "nats+embedded://"+dir)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("a second server on the same directory: %v, want an in-use error", err)
	}
}

// TestEmbeddedListen serves the embedded queue on a loopback port, where a nats:// queue in
// another "process" reaches the same streams.
func TestEmbeddedListen(t *testing.T) {
	q := openURL(t, "nats+embedded://"+t.TempDir()+"?listen=127.0.0.1:0")
	addr := driverOf(t, q).ClientURL()
	if !strings.HasPrefix(addr, "nats://127.0.0.1:") {
		t.Fatalf("ClientURL = %q", addr)
	}
	remote := openURL(t, addr) // same default stream KIT
	ctx := context.Background()
	if err := remote.Publish(ctx, &queue.Message{Subject: "kit.remote", Data: []byte("over tcp")}); err != nil {
		t.Fatal(err)
	}
	if n, err := q.Purge(ctx, "kit.remote"); n != 1 || err != nil {
		t.Errorf("the embedded queue sees %d messages, %v; want the 1 published over TCP", n, err)
	}
	if got := driverOf(t, openURL(t, "nats+embedded://"+t.TempDir())).ClientURL(); got != "" {
		t.Errorf("ClientURL without listen = %q, want none", got)
	}
}

// TestDefaultURL opens the local default, relative to the working directory.
func TestDefaultURL(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	q := openURL(t, kitnats.DefaultURL)
	roundTrip(t, q, "kit")
	if _, err := os.Stat(filepath.Join(dir, ".kit", "nats", "jetstream")); err != nil {
		t.Errorf("no JetStream store under .kit/nats: %v", err)
	}
}
