package redis_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stackkit/stackkit/kit/cache/redis"
)

// TestSentinel runs the driver tests through a private Sentinel: the URL names the Sentinel and
// master_name the primary it watches, which the client asks it for.
func TestSentinel(t *testing.T) {
	primary := startServer(t)
	sentinel := startSentinel(t, primary, "kitprimary")
	sentinelURL := "redis://" + sentinel.Addr + "/0"
	eventually(t, 10*time.Second, "Sentinel knows the primary", func() bool {
		c := goredis.NewSentinelClient(&goredis.Options{Addr: sentinel.Addr})
		defer c.Close()
		addr, err := c.GetMasterAddrByName(context.Background(), "kitprimary").Result()
		return err == nil && len(addr) == 2
	})
	runDriverTests(t, func(t *testing.T) *redis.Driver {
		return openDriver(t, withQuery(t, sentinelURL, "master_name", "kitprimary"))
	})

	// The keys are on the primary.
	d := openDriver(t, withQuery(t, sentinelURL, "master_name", "kitprimary"))
	ctx := context.Background()
	ns := namespace(t, d)
	must(t, d.Set(ctx, ns+"k", []byte("v"), 0))
	direct := goredis.NewClient(&goredis.Options{Addr: primary.Addr})
	defer direct.Close()
	if v, err := direct.Get(ctx, ns+"k").Result(); err != nil || v != "v" {
		t.Fatalf("on the primary: %q, %v", v, err)
	}
}
