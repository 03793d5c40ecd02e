package registry_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/stackkit/stackkit/kit/registry"
)

// Cache stands in for a module's driver interface.
type Cache interface{ Name() string }

type redisCache struct {
	addr string
	ttl  time.Duration
}

func (c redisCache) Name() string { return fmt.Sprintf("redis at %s, ttl %s", c.addr, c.ttl) }

func Example() {
	caches := registry.New[Cache]("cache")
	caches.Register("redis", func(_ context.Context, u *url.URL, opts *registry.Options) (Cache, error) {
		ttl := opts.Duration("default_ttl", 5*time.Minute)
		if err := opts.Err(); err != nil {
			return nil, err
		}
		return redisCache{addr: u.Host, ttl: ttl}, nil
	})

	c, err := caches.Open(context.Background(), "redis://localhost:6379/0?default_ttl=30s")
	fmt.Println(c.Name(), err)

	_, err = caches.Open(context.Background(), "redis://localhost:6379/0?defualt_ttl=30s")
	fmt.Println(err)

	_, err = caches.Open(context.Background(), "memcache://localhost:11211")
	fmt.Println(errors.Is(err, registry.ErrUnknownScheme), err)
	// Output:
	// redis at localhost:6379, ttl 30s <nil>
	// cache: open "redis://localhost:6379/0?defualt_ttl=30s": option "defualt_ttl": unknown option (valid options: default_ttl)
	// true cache: unknown scheme "memcache" in URL "memcache://localhost:11211" (registered schemes: redis)
}

func ExampleRedact() {
	fmt.Println(registry.Redact("postgres://app:s3cret@db:5432/app?sslmode=require&sslpassword=k3y"))
	// Output: postgres://app:xxxxx@db:5432/app?sslmode=require&sslpassword=xxxxx
}

func ExampleOptions() {
	q, _ := url.ParseQuery("max_size=64MiB&ttl=90&verbose=maybe")
	opts := registry.NewOptions(q)
	size := opts.Size("max_size", 0)
	opts.Duration("ttl", time.Minute)
	opts.Bool("verbose", false)
	fmt.Println(size)
	fmt.Println(opts.Err())
	// Output:
	// 67108864
	// option "ttl"="90": duration needs a unit (want e.g. "500ms", "30s", "5m")
	// option "verbose"="maybe": not a boolean (want true or false)
}
