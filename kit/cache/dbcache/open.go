package dbcache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"

	"github.com/stackkit/stackkit/kit/cache"
	"github.com/stackkit/stackkit/kit/db"
	"github.com/stackkit/stackkit/kit/registry"
)

// schemes are the cache URL schemes this package registers: "dbcache+" and a kit/db scheme.
var schemes = []string{"dbcache+postgres", "dbcache+postgresql", "dbcache+mysql", "dbcache+sqlite"}

func init() {
	for _, s := range schemes {
		cache.Register(s, open)
	}
}

// ownOptions are the URL options of this backend; the portable cache's own (prefix, version,
// ...) are declared by kit/cache before the opener runs, and every other option is the
// database's.
var ownOptions = []string{"table", "cull_every", "create_table"}

// open opens a dbcache+<kit/db scheme> URL: the database URL is the same URL without
// "dbcache+" and without the cache's options, and kit/db validates what remains.
func open(ctx context.Context, u *url.URL, opts *registry.Options) (cache.Driver, error) {
	portable := opts.Valid() // declared by kit/cache's readers, which run first
	table := opts.String("table", DefaultTable)
	cullEvery := opts.Int("cull_every", DefaultCullEvery, 0, math.MaxInt32)
	create := opts.Bool("create_table", false)
	cacheOpts := append(slices.Clone(portable), ownOptions...)
	dbQuery := url.Values{}
	for name, vs := range u.Query() {
		if !slices.Contains(cacheOpts, name) {
			opts.Has(name) // the database's: kit/db reports the unknown ones
			dbQuery[name] = vs
		}
	}
	if err := opts.Err(); err != nil {
		return nil, err
	}
	dbURL := *u
	dbURL.Scheme = strings.TrimPrefix(u.Scheme, "dbcache+")
	dbURL.RawQuery = dbQuery.Encode()
	dbURL.Fragment = ""
	bdb, err := db.Open(ctx, dbURL.String())
	if err != nil {
		if errors.Is(err, registry.ErrInvalidOption) {
			slices.Sort(cacheOpts)
			err = fmt.Errorf("%w (the cache's own options: %s)", err, strings.Join(cacheOpts, ", "))
		}
		if errors.Is(err, registry.ErrUnknownScheme) {
			err = fmt.Errorf("%w; import the kit/db backend for %s:// as well", err, dbURL.Scheme)
		}
		return nil, err
	}
	d, err := newDriver(bdb, true, WithTable(table), WithCullEvery(int(cullEvery)))
	if err == nil && create {
		err = CreateTable(ctx, bdb, table)
	}
	if err != nil {
		_ = bdb.Close()
		return nil, err
	}
	return d, nil
}
