package memcached

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"time"
)

// Stats returns the servers' general-purpose statistics (the stats command: curr_items, bytes,
// get_hits, get_misses, evictions, uptime, ...). With one server the names are Memcached's; with
// several, each is prefixed by its server's address: "10.0.0.1:11211/curr_items".
func (d *Driver) Stats(ctx context.Context) (map[string]string, error) {
	var addrs []net.Addr
	_ = d.servers.Each(func(a net.Addr) error { addrs = append(addrs, a); return nil })
	out := make(map[string]string)
	for _, a := range addrs {
		stats, err := d.serverStats(ctx, a)
		if err != nil {
			return nil, fmt.Errorf("memcached: stats from %s: %w", a, err)
		}
		for name, v := range stats {
			if len(addrs) > 1 {
				name = a.String() + "/" + name
			}
			out[name] = v
		}
	}
	return out, nil
}

// serverStats runs stats on its own connection: gomemcache has no stats command, and a
// connection of our own honours ctx.
func (d *Driver) serverStats(ctx context.Context, addr net.Addr) (map[string]string, error) {
	dialer := net.Dialer{Timeout: d.timeout}
	conn, err := dialer.DialContext(ctx, addr.Network(), addr.String())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	deadline := time.Now().Add(d.timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := conn.Write([]byte("stats\r\n")); err != nil {
		return nil, err
	}
	stats := make(map[string]string)
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "END" {
			return stats, nil
		}
		f := strings.SplitN(line, " ", 3)
		if len(f) != 3 || f[0] != "STAT" {
			return nil, fmt.Errorf("unexpected response line %q", line)
		}
		stats[f[1]] = f[2]
	}
}
