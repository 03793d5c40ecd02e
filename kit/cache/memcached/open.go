package memcached

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/stackkit/stackkit/kit/cache"
	"github.com/stackkit/stackkit/kit/registry"
)

func init() {
	cache.Register("memcached", open)
}

// DefaultPort is the port of a server named without one.
const DefaultPort = "11211"

// Defaults of the URL options.
const (
	DefaultTimeout      = 500 * time.Millisecond
	DefaultMaxIdleConns = 16
)

// Config configures [New].
type Config struct {
	// Servers are "host:port" (port 11211 when left out) or Unix socket paths (containing a "/").
	// Keys are spread over them by a hash of the key, as gomemcache does.
	Servers []string
	// Timeout bounds each network operation: dial, and each read and write on the socket
	// (default 500ms). gomemcache takes no context; see the package documentation.
	Timeout time.Duration
	// MaxIdleConns is the number of idle connections kept per server (default 16). Set it above
	// the number of concurrent cache calls you expect, or connections are opened and closed
	// under load.
	MaxIdleConns int
	// FlushOnClear makes Clear run flush_all on every server, which removes EVERY key on those
	// servers, not only this cache's. Only for servers dedicated to this one cache. When false
	// (the default), Clear returns cache.ErrNotSupported.
	FlushOnClear bool
}

// New returns a driver for the servers in cfg; use it with cache.New. It resolves the server
// names but does not connect, so a cache whose servers are down still opens.
func New(cfg Config) (*Driver, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("memcached: no servers")
	}
	servers := make([]string, len(cfg.Servers))
	for i, s := range cfg.Servers {
		addr, err := normalizeServer(s)
		if err != nil {
			return nil, err
		}
		servers[i] = addr
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxIdleConns <= 0 {
		cfg.MaxIdleConns = DefaultMaxIdleConns
	}
	list := new(memcache.ServerList)
	if err := list.SetServers(servers...); err != nil {
		return nil, fmt.Errorf("memcached: resolve servers: %w", err)
	}
	client := memcache.NewFromSelector(list)
	client.Timeout = cfg.Timeout
	client.MaxIdleConns = cfg.MaxIdleConns
	return &Driver{client: client, servers: list, timeout: cfg.Timeout, flushOnClear: cfg.FlushOnClear}, nil
}

// normalizeServer checks one server and adds the default port to a host without one.
func normalizeServer(s string) (string, error) {
	if s == "" {
		return "", errors.New("memcached: empty server address")
	}
	if strings.Contains(s, "/") { // a Unix socket, as gomemcache decides
		return s, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port: a bare name or IPv4 address, or an IPv6 address with or without brackets.
		h := s
		bracketed := strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]")
		if bracketed {
			h = s[1 : len(s)-1]
		}
		if strings.ContainsAny(h, "[]") || ((bracketed || strings.Contains(h, ":")) && net.ParseIP(h) == nil) {
			return "", fmt.Errorf("memcached: server %q is not host:port", s)
		}
		return net.JoinHostPort(h, DefaultPort), nil
	}
	if host == "" || port == "" {
		return "", fmt.Errorf("memcached: server %q is not host:port", s)
	}
	return s, nil
}

// open reads a memcached:// URL:
//
//	memcached://host:port,host:port?timeout=250ms&max_idle_conns=32
//	memcached://?server=[::1]:11211&server=[::1]:11212   (IPv6 lists, and any server list)
//	memcached:///run/memcached/memcached.sock            (a Unix socket)
//	memcached://                                         (localhost:11211)
func open(_ context.Context, u *url.URL, opts *registry.Options) (cache.Driver, error) {
	servers := opts.Strings("server")
	cfg := Config{
		Timeout:      opts.Duration("timeout", DefaultTimeout),
		MaxIdleConns: int(opts.Int("max_idle_conns", DefaultMaxIdleConns, 1, math.MaxInt32)),
		FlushOnClear: opts.Bool("flush_on_clear", false),
	}
	var errs []error
	if opts.Has("timeout") && cfg.Timeout == 0 {
		errs = append(errs, &registry.OptionError{Option: "timeout", Value: "0", Reason: "must be positive (leave it out for the default, 500ms)"})
	}
	if err := opts.Err(); err != nil {
		errs = append([]error{err}, errs...)
	}
	if u.User != nil {
		errs = append(errs, errors.New("memcached: the text protocol has no authentication; remove the user info from the URL"))
	}
	if u.Fragment != "" {
		errs = append(errs, errors.New("memcached: unexpected #fragment in URL"))
	}
	switch {
	case u.Host != "":
		if u.Path != "" && u.Path != "/" {
			errs = append(errs, fmt.Errorf("memcached: unexpected path %q (a Unix socket is memcached:///path/to.sock, without a host)", u.Path))
		}
		// url.Parse takes "a:11211,b:11211" as one host; the list is ours to split.
		cfg.Servers = strings.Split(u.Host, ",")
	case u.Path != "" && u.Path != "/":
		cfg.Servers = []string{u.Path}
	case len(servers) == 0:
		cfg.Servers = []string{"localhost:" + DefaultPort}
	}
	// After the host part's: the order of the servers decides which one holds a key.
	cfg.Servers = append(cfg.Servers, servers...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return New(cfg)
}
