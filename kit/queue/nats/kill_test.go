package nats_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/queue/queuetest"
)

// TestServerKilled kills a NATS server (SIGKILL) in the middle of publishing and consuming, and
// restarts it on the same port and store: while it is down Publish fails within its context's
// deadline, the consumer resumes after the restart, and every message whose Publish succeeded
// is handled.
func TestServerKilled(t *testing.T) {
	s := startServer(t)
	space := queuetest.Space()
	subject := space + ".jobs"
	q := openURL(t, spaceURL("nats://"+s.addr(), space, "reconnect_wait", "100ms", "timeout", "1s"))

	var mu sync.Mutex
	handled := make(map[string]int)
	var total atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- q.Consume(ctx, "worker", subject, func(_ context.Context, m *queue.Message) error {
			time.Sleep(2 * time.Millisecond) // the work, so that some is in flight at the kill
			mu.Lock()
			handled[m.ID]++
			mu.Unlock()
			total.Add(1)
			return nil
		}, queue.Concurrency(4), queue.AckWait(2*time.Second), queue.MaxDeliveries(100))
	}()
	defer func() {
		start := time.Now()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Consume: %v", err)
		}
		t.Logf("Consume returned %s after cancel", time.Since(start).Round(time.Millisecond))
		start = time.Now()
		_ = q.Close()
		t.Logf("Close took %s", time.Since(start).Round(time.Millisecond))
	}()

	var published []string // IDs whose Publish succeeded
	publish := func(i int) (time.Duration, error) {
		id := fmt.Sprint("job-", i)
		pctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		err := q.Publish(pctx, &queue.Message{Subject: subject, ID: id, Data: []byte(id)})
		if err == nil {
			published = append(published, id)
		}
		return time.Since(start), err
	}

	i := 0
	for ; i < 200; i++ {
		if _, err := publish(i); err != nil {
			t.Fatalf("publish %d before the kill: %v", i, err)
		}
	}
	// Kill while the consumer is busy with them.
	deadline := time.Now().Add(20 * time.Second)
	for total.Load() < 20 {
		if time.Now().After(deadline) {
			t.Fatal("consumer did not start")
		}
		time.Sleep(time.Millisecond)
	}
	s.kill()
	handledAtKill := total.Load()

	var failed int
	for range 10 {
		took, err := publish(i)
		i++
		if err == nil {
			t.Errorf("publish %d succeeded with the server down", i-1)
			continue
		}
		failed++
		if took > 1500*time.Millisecond {
			t.Errorf("publish with the server down took %s; want it to fail within its 1s context", took)
		}
	}
	t.Logf("handled %d of 200 at the kill; %d publishes failed while down", handledAtKill, failed)

	s.start()
	restarted := time.Now()
	// Publish again once the client has reconnected.
	deadline = time.Now().Add(20 * time.Second)
	for {
		if _, err := publish(i); err == nil {
			i++
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("publish after the restart: %v", err)
		}
		i++
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("publishing again %s after the restart", time.Since(restarted).Round(time.Millisecond))
	for range 100 {
		if _, err := publish(i); err != nil {
			t.Fatalf("publish %d after the restart: %v", i, err)
		}
		i++
	}

	deadline = time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		var missing []string
		for _, id := range published {
			if handled[id] == 0 {
				missing = append(missing, id)
			}
		}
		mu.Unlock()
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d published messages never handled after the restart, e.g. %v", len(missing), missing[:min(5, len(missing))])
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	dups := 0
	for _, n := range handled {
		if n > 1 {
			dups++
		}
	}
	t.Logf("all handled %s after the restart", time.Since(restarted).Round(time.Millisecond))
	t.Logf("all %d published messages handled; %d handled more than once (at least once: acks lost in the kill)", len(published), dups)
}
