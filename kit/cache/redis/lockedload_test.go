package redis_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/cache"
)

// Two instances (as two processes would be: separate clients, separate single-flight groups)
// miss one key together; with DistributedLock the loader runs once between them.
func TestGetOrSetDistributedLock(t *testing.T) {
	url := withQuery(t, sharedURL(t), "prefix", "lockload-"+randomHex(6))
	a, b := openCache(t, url), openCache(t, url)
	t.Cleanup(func() { _ = a.Clear(context.Background()) })
	var calls atomic.Int32
	release := make(chan struct{})
	loader := func(context.Context) (string, error) {
		calls.Add(1)
		<-release // held until every caller is waiting, so their misses overlap
		return "computed", nil
	}
	views := []*cache.Typed[string]{
		cache.NewTyped[string](a, cache.DistributedLock(10*time.Second)),
		cache.NewTyped[string](b, cache.DistributedLock(10*time.Second)),
	}
	var wg sync.WaitGroup
	var started sync.WaitGroup
	started.Add(20)
	for i := range 20 {
		wg.Go(func() {
			started.Done()
			v, err := views[i%2].GetOrSet(context.Background(), "report", time.Minute, loader)
			if err != nil || v != "computed" {
				t.Errorf("GetOrSet = %q, %v", v, err)
			}
		})
	}
	started.Wait()
	// Let the lock holder finish once the other instance is certainly waiting on the lock.
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // give the second instance time to reach the lock
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("loader ran %d times across two instances, want 1", n)
	}
}
