package redis

import (
	"context"
	"errors"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// scanCount is the COUNT hint for each SCAN step, and so roughly the size of each UNLINK batch.
const scanCount = 1000

// Clear removes every key starting with prefix, and nothing else: it SCANs for the glob
// "<prefix>*" (with the prefix's glob characters escaped, so the prefix "a*" never matches
// "ab:...") and UNLINKs each batch it finds. It never runs FLUSHDB, so caches with other prefixes
// on the same database are untouched. On Cluster and Ring it scans every primary.
//
// SCAN visits every key that exists for the whole call; a key written under the prefix while
// Clear runs may survive it.
func (d *Driver) Clear(ctx context.Context, prefix string) error {
	if prefix == "" {
		// The portable type never sends an empty prefix; without one this would empty the database.
		return errors.New("redis: clear: refusing to clear without a prefix")
	}
	pattern := escapeGlob(prefix) + "*"
	var err error
	switch c := d.client.(type) {
	case *goredis.ClusterClient:
		err = c.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
			return clearNode(ctx, node, pattern, true)
		})
	case *goredis.Ring:
		err = c.ForEachShard(ctx, func(ctx context.Context, node *goredis.Client) error {
			return clearNode(ctx, node, pattern, false)
		})
	default:
		err = clearNode(ctx, d.client, pattern, false)
	}
	if err != nil {
		return wrap("clear", err)
	}
	return nil
}

// clearNode SCANs one server for pattern and UNLINKs what it finds. A Cluster node holds keys of
// many hash slots, and one command must stay within a slot, so there each key gets its own
// UNLINK, pipelined.
func clearNode(ctx context.Context, c goredis.Cmdable, pattern string, perKey bool) error {
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, pattern, scanCount).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if perKey {
				_, err = c.Pipelined(ctx, func(p goredis.Pipeliner) error {
					for _, k := range keys {
						p.Unlink(ctx, k)
					}
					return nil
				})
			} else {
				err = c.Unlink(ctx, keys...).Err()
			}
			if err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// escapeGlob escapes the characters Redis' glob matching gives a meaning to (*, ?, [, ] and the
// escape character itself), so the pattern matches the prefix literally.
func escapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
