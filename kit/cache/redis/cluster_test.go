package redis_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stackkit/stackkit/kit/cache"
	"github.com/stackkit/stackkit/kit/cache/redis"
)

// startCluster starts a private three-primary Redis Cluster and returns its nodes.
func startCluster(t *testing.T) []*server {
	t.Helper()
	nodes := make([]*server, 3)
	busPorts := make([]int, len(nodes))
	for i := range nodes {
		// The cluster bus port defaults to port+10000, which may be taken: choose it too.
		busPorts[i] = freePort(t)
		nodes[i] = startServer(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(busPorts[i]), "--cluster-node-timeout", "5000")
	}
	ctx := context.Background()
	const slots = 16384
	for i, n := range nodes {
		c := goredis.NewClient(&goredis.Options{Addr: n.Addr})
		first, last := i*slots/len(nodes), (i+1)*slots/len(nodes)-1
		must(t, c.ClusterAddSlotsRange(ctx, first, last).Err())
		if i > 0 {
			must(t, c.Do(ctx, "CLUSTER", "MEET", "127.0.0.1", nodes[0].Port, busPorts[0]).Err())
		}
		_ = c.Close()
	}
	eventually(t, 30*time.Second, "cluster is up", func() bool {
		for _, n := range nodes {
			c := goredis.NewClient(&goredis.Options{Addr: n.Addr})
			info, err := c.ClusterInfo(ctx).Result()
			_ = c.Close()
			if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:3") {
				return false
			}
		}
		return true
	})
	return nodes
}

func clusterURL(t *testing.T, nodes []*server, kv ...string) string {
	kv = append(kv, "cluster", "true")
	for _, n := range nodes[1:] {
		kv = append(kv, "addr", n.Addr)
	}
	return nodes[0].URL(t, kv...)
}

// TestCluster runs the driver tests and the conformance suite on a private Redis Cluster, where
// no command may carry keys of different hash slots.
func TestCluster(t *testing.T) {
	nodes := startCluster(t)
	t.Run("Driver", func(t *testing.T) {
		runDriverTests(t, func(t *testing.T) *redis.Driver {
			d := openDriver(t, clusterURL(t, nodes))
			if _, ok := d.Client().(*goredis.ClusterClient); !ok {
				t.Fatalf("cluster=true opened a %T", d.Client())
			}
			return d
		})
	})
	t.Run("Conformance", func(t *testing.T) {
		runConformance(t, func(t *testing.T, prefix string) string { return clusterURL(t, nodes, "prefix", prefix) })
	})
	t.Run("ClearEveryNode", func(t *testing.T) {
		d := openDriver(t, clusterURL(t, nodes))
		ctx := context.Background()
		ns := namespace(t, d)
		items := make([]cache.Item, 300)
		for i := range items {
			items[i] = cache.Item{Key: fmt.Sprintf("%sk%d", ns, i), Value: []byte("v")}
		}
		must(t, d.SetMany(ctx, items))
		for _, n := range nodes { // the keys are spread over every primary
			c := goredis.NewClient(&goredis.Options{Addr: n.Addr})
			keys, _, err := c.Scan(ctx, 0, ns+"*", 1000).Result()
			_ = c.Close()
			if err != nil || len(keys) == 0 {
				t.Fatalf("node %s holds %d keys (%v)", n.Addr, len(keys), err)
			}
		}
		must(t, d.Clear(ctx, ns))
		keys := make([]string, len(items))
		for i, it := range items {
			keys[i] = it.Key
		}
		if got, err := d.GetMany(ctx, keys); err != nil || len(got) != 0 {
			t.Fatalf("Clear left %d keys (%v)", len(got), err)
		}
	})
}
