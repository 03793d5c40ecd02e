package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stackkit/stackkit/kit/cache"
)

// unlockScript deletes the lock only while it still holds the caller's token: a lock that expired
// and was taken by another process must not be released by the first owner.
var unlockScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// Lock takes key with SET key token NX PX ttl and reports whether it did. The ttl must be
// positive: a lock whose owner dies must expire.
func (d *Driver) Lock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, fmt.Errorf("redis: lock: %w: a lock needs a positive TTL, got %v", cache.ErrInvalidTTL, ttl)
	}
	if token == "" {
		return false, errors.New("redis: lock: empty token")
	}
	ok, err := d.client.SetNX(ctx, key, token, roundTTL(ttl)).Result()
	if err != nil {
		return false, wrap("lock", err)
	}
	return ok, nil
}

// Unlock deletes key if token still holds it, in one script so no other owner's lock is
// released in between. Unlocking a lock that expired or belongs to another token does nothing.
func (d *Driver) Unlock(ctx context.Context, key, token string) error {
	if err := unlockScript.Run(ctx, d.client, []string{key}, token).Err(); err != nil {
		return wrap("unlock", err)
	}
	return nil
}
