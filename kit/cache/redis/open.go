package redis

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stackkit/stackkit/kit/cache"
	"github.com/stackkit/stackkit/kit/registry"
)

func init() {
	cache.Register("redis", open)
	cache.Register("rediss", open)
}

func open(_ context.Context, u *url.URL, opts *registry.Options) (cache.Driver, error) {
	uo, err := parseURL(u, opts)
	if err != nil {
		return nil, err
	}
	return NewDriver(goredis.NewUniversalClient(uo)), nil
}

// parseURL turns a redis:// or rediss:// URL into go-redis options. The address, credentials,
// database and TLS come from go-redis' own ParseURL; the query goes through the strict
// registry.Options, so an unknown option is an error naming the valid ones (go-redis would name
// only the bad one, and accepts a repeated option silently).
func parseURL(u *url.URL, opts *registry.Options) (*goredis.UniversalOptions, error) {
	var (
		poolSize     = opts.Int("pool_size", 0, 1, 1<<20)
		minIdleConns = opts.Int("min_idle_conns", 0, 0, 1<<20)
		maxRetries   = opts.Int("max_retries", -1, 0, 100)
		clientName   = opts.String("client_name", "")
		masterName   = opts.String("master_name", "")
		sentinels    = opts.Strings("sentinel")
		sentinelUser = opts.String("sentinel_username", "")
		sentinelPass = opts.String("sentinel_password", "")
		cluster      = opts.Bool("cluster", false)
		clusterAddrs = opts.Strings("addr")
		tlsCAFile    = opts.String("tls_ca_file", "")
	)
	var errs []error
	invalid := func(option, value, reason string) {
		errs = append(errs, &registry.OptionError{Option: option, Value: value, Reason: reason})
	}
	// go-redis reads 0 as "its default" and -1 as "none"; a URL that says 0 means neither clearly,
	// so a timeout given must be positive.
	timeout := func(name string) time.Duration {
		d := opts.Duration(name, 0)
		if v := opts.String(name, ""); v != "" {
			if parsed, err := registry.ParseDuration(v); err == nil && parsed == 0 {
				invalid(name, v, "must be positive (leave it out for the default)")
			}
		}
		return d
	}
	dialTimeout := timeout("dial_timeout")
	readTimeout := timeout("read_timeout")
	writeTimeout := timeout("write_timeout")
	poolTimeout := timeout("pool_timeout")
	if err := opts.Err(); err != nil {
		errs = append([]error{err}, errs...)
	}

	switch {
	case masterName != "" && cluster:
		invalid("cluster", "", "cannot be combined with master_name (Sentinel)")
	case len(sentinels) > 0 && masterName == "":
		invalid("sentinel", "", "needs master_name, the name of the primary the Sentinels watch")
	case (sentinelUser != "" || sentinelPass != "") && masterName == "":
		invalid("sentinel_password", "", "sentinel_username and sentinel_password need master_name")
	case len(clusterAddrs) > 0 && !cluster:
		invalid("addr", "", "extra node addresses need cluster=true")
	}
	for _, list := range []struct {
		name  string
		addrs []string
	}{{"sentinel", sentinels}, {"addr", clusterAddrs}} {
		for _, a := range list.addrs {
			if host, port, err := net.SplitHostPort(a); err != nil || host == "" || port == "" {
				invalid(list.name, a, "not a host:port address")
			}
		}
	}

	clean := *u
	clean.RawQuery = ""
	clean.Fragment = ""
	o, err := goredis.ParseURL(clean.String())
	if err != nil {
		// ParseURL's errors name the database number or path, never the userinfo.
		errs = append(errs, err)
	} else {
		if cluster && o.DB != 0 {
			errs = append(errs, fmt.Errorf("redis: Redis Cluster has only database 0, the URL selects %d", o.DB))
		}
		if tlsCAFile != "" {
			if o.TLSConfig == nil {
				invalid("tls_ca_file", "", "needs the rediss:// scheme")
			} else if err := addCAs(o.TLSConfig, tlsCAFile); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	uo := &goredis.UniversalOptions{
		Addrs:        []string{o.Addr},
		ClientName:   clientName,
		DB:           o.DB,
		Username:     o.Username,
		Password:     o.Password,
		TLSConfig:    o.TLSConfig,
		PoolSize:     int(poolSize),
		MinIdleConns: int(minIdleConns),
		DialTimeout:  dialTimeout,
		ReadTimeout:  readTimeout,
		WriteTimeout: writeTimeout,
		PoolTimeout:  poolTimeout,
		// The portable cache bounds every call with the context (fail_timeout for a fail-open
		// cache); go-redis honours a context's deadline on the socket only when asked to.
		ContextTimeoutEnabled: true,
		// One dial per attempt: go-redis' default of five dials 100ms apart, inside each of
		// max_retries command retries, keeps a cache call waiting seconds on a server that
		// refuses connections. A cache should answer or give up quickly; max_retries still retries.
		DialerRetries: 1,
	}
	switch maxRetries {
	case -1: // absent: go-redis' default (3)
	case 0:
		uo.MaxRetries = -1 // go-redis spells "no retries" -1
	default:
		uo.MaxRetries = int(maxRetries)
	}
	switch {
	case masterName != "":
		uo.MasterName = masterName
		uo.Addrs = append(uo.Addrs, sentinels...)
		uo.SentinelUsername = sentinelUser
		uo.SentinelPassword = sentinelPass
	case cluster:
		uo.IsClusterMode = true
		uo.Addrs = append(uo.Addrs, clusterAddrs...)
	}
	return uo, nil
}

// addCAs makes cfg trust the PEM certificates in file instead of the system's roots, for servers
// with certificates from a private CA.
func addCAs(cfg *tls.Config, file string) error {
	pem, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("redis: tls_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("redis: tls_ca_file %s: no PEM certificate in it", file)
	}
	cfg.RootCAs = pool
	return nil
}
