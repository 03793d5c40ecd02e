package pagecache_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/cache"
)

// mapDriver is a cache.Driver over a map that records what was stored, and fails every
// operation when fail is set.
type mapDriver struct {
	mu   sync.Mutex
	m    map[string][]byte
	ttls map[string]time.Duration
	fail error
}

func newMapDriver() *mapDriver {
	return &mapDriver{m: map[string][]byte{}, ttls: map[string]time.Duration{}}
}

func newMapCache(t testing.TB) (*cache.Cache, *mapDriver) {
	t.Helper()
	d := newMapDriver()
	c, err := cache.New(d)
	if err != nil {
		t.Fatal(err)
	}
	return c, d
}

// count returns how many stored keys contain sub (":p:" for pages, ":v:" for Vary lists).
func (d *mapDriver) count(sub string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for k := range d.m {
		if strings.Contains(k, sub) {
			n++
		}
	}
	return n
}

// only returns the one stored key containing sub.
func (d *mapDriver) only(t *testing.T, sub string) (string, time.Duration) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	var keys []string
	for k := range d.m {
		if strings.Contains(k, sub) {
			keys = append(keys, k)
		}
	}
	if len(keys) != 1 {
		t.Fatalf("want one key with %q, have %q", sub, keys)
	}
	return keys[0], d.ttls[keys[0]]
}

func (d *mapDriver) put(k string, v []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m[k] = v
}

func (d *mapDriver) Get(_ context.Context, key string) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return nil, d.fail
	}
	v, ok := d.m[key]
	if !ok {
		return nil, cache.ErrNotFound
	}
	return v, nil
}

func (d *mapDriver) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, k := range keys {
		v, err := d.Get(ctx, k)
		if errors.Is(err, cache.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

func (d *mapDriver) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return d.fail
	}
	d.m[key], d.ttls[key] = value, ttl
	return nil
}

func (d *mapDriver) SetMany(ctx context.Context, items []cache.Item) error {
	for _, it := range items {
		if err := d.Set(ctx, it.Key, it.Value, it.TTL); err != nil {
			return err
		}
	}
	return nil
}

func (d *mapDriver) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if ok, err := d.Has(ctx, key); err != nil || ok {
		return false, err
	}
	return true, d.Set(ctx, key, value, ttl)
}

func (d *mapDriver) Replace(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if ok, err := d.Has(ctx, key); err != nil || !ok {
		return false, err
	}
	return true, d.Set(ctx, key, value, ttl)
}

func (d *mapDriver) Delete(_ context.Context, key string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return false, d.fail
	}
	_, ok := d.m[key]
	delete(d.m, key)
	delete(d.ttls, key)
	return ok, nil
}

func (d *mapDriver) DeleteMany(ctx context.Context, keys []string) (int, error) {
	n := 0
	for _, k := range keys {
		ok, err := d.Delete(ctx, k)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

func (d *mapDriver) Incr(context.Context, string, int64) (int64, error) {
	return 0, cache.ErrNotSupported
}

func (d *mapDriver) Touch(_ context.Context, key string, ttl time.Duration) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return false, d.fail
	}
	_, ok := d.m[key]
	if ok {
		d.ttls[key] = ttl
	}
	return ok, nil
}

func (d *mapDriver) Has(_ context.Context, key string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return false, d.fail
	}
	_, ok := d.m[key]
	return ok, nil
}

func (d *mapDriver) TTL(_ context.Context, key string) (time.Duration, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return 0, d.fail
	}
	ttl, ok := d.ttls[key]
	if !ok {
		return 0, cache.ErrNotFound
	}
	return ttl, nil
}

func (d *mapDriver) Clear(_ context.Context, prefix string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k := range d.m {
		if strings.HasPrefix(k, prefix) {
			delete(d.m, k)
			delete(d.ttls, k)
		}
	}
	return nil
}

func (d *mapDriver) Capabilities() cache.Capabilities {
	return cache.Capabilities{Name: "map", Private: true}
}

func (d *mapDriver) Close() error { return nil }
