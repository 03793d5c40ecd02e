package redis

import (
	"bufio"
	"context"
	"slices"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// statsFields are the INFO fields Stats reports, by section; every line of the keyspace section
// (one per database: "db0" -> "keys=12,expires=3,avg_ttl=0") is reported as well. Counting the
// keys under one prefix would need a SCAN of the whole database, so Stats describes the server.
var statsFields = map[string][]string{
	"server":  {"redis_version", "uptime_in_seconds"},
	"clients": {"connected_clients", "blocked_clients"},
	"memory": {"used_memory", "used_memory_human", "used_memory_peak_human", "maxmemory",
		"maxmemory_human", "maxmemory_policy", "mem_fragmentation_ratio"},
	"stats": {"keyspace_hits", "keyspace_misses", "expired_keys", "evicted_keys",
		"total_commands_processed", "instantaneous_ops_per_sec", "total_connections_received",
		"rejected_connections", "pubsub_channels"},
}

// Stats reports a subset of INFO server, clients, memory, stats and keyspace, under Redis' own
// field names. On Cluster and Ring each field is reported per primary, as "host:port/field".
func (d *Driver) Stats(ctx context.Context) (map[string]string, error) {
	out := make(map[string]string)
	var mu sync.Mutex
	perNode := func(ctx context.Context, node *goredis.Client) error {
		prefix := node.Options().Addr + "/"
		stats, err := nodeStats(ctx, node)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for k, v := range stats {
			out[prefix+k] = v
		}
		return nil
	}
	var err error
	switch c := d.client.(type) {
	case *goredis.ClusterClient:
		err = c.ForEachMaster(ctx, perNode)
	case *goredis.Ring:
		err = c.ForEachShard(ctx, perNode)
	default:
		var stats map[string]string
		if stats, err = nodeStats(ctx, d.client); err == nil {
			out = stats
		}
	}
	if err != nil {
		return nil, wrap("stats", err)
	}
	return out, nil
}

// nodeStats reads one server's INFO sections in one pipeline (INFO with several sections needs
// Redis 7).
func nodeStats(ctx context.Context, c goredis.Cmdable) (map[string]string, error) {
	sections := []string{"server", "clients", "memory", "stats", "keyspace"}
	cmds := make([]*goredis.StringCmd, len(sections))
	if _, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, s := range sections {
			cmds[i] = p.Info(ctx, s)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	out := make(map[string]string)
	for i, section := range sections {
		wanted := statsFields[section]
		sc := bufio.NewScanner(strings.NewReader(cmds[i].Val()))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			name, value, ok := strings.Cut(line, ":")
			if !ok || strings.HasPrefix(line, "#") {
				continue
			}
			if section == "keyspace" || slices.Contains(wanted, name) {
				out[name] = value
			}
		}
	}
	return out, nil
}
