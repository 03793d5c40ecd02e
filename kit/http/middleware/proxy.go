package middleware

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/stackkit/stackkit/kit/http/internal/reqctx"
)

// TrustedProxies resolves the client's address and scheme through the reverse proxies in front
// of the service. Each entry is a CIDR prefix ("10.0.0.0/8"), a single address ("192.0.2.7",
// "::1"), or "unix" for peers on a Unix socket. The error names the first malformed entry.
//
//	proxies, err := middleware.TrustedProxies("10.0.0.0/8", "fd00::/8")
//	handler := proxies(mux) // middleware.ClientIP(r) is now the real client, not the load balancer
//
// Only when the immediate peer (RemoteAddr) is trusted are the forwarding headers read: the
// client is the rightmost address of the RFC 7239 Forwarded "for=" chain (or, without a
// Forwarded header, of X-Forwarded-For) that is not itself a trusted proxy. Entries to its left
// were written by whoever sent the request and prove nothing. The scheme comes from the "proto="
// of that Forwarded element, or from X-Forwarded-Proto at the same position from the right as
// the client's X-Forwarded-For entry (proxies that append to both keep them aligned), or its
// rightmost value when it has fewer entries (proxies that overwrite it). An entry that is not an
// address ("unknown", an obfuscated "_id", garbage) ends the walk: the client is then reported
// as the nearest trusted hop. From an untrusted peer the headers are ignored entirely, since
// anyone can send them.
//
// Without this middleware, [ClientIP] is RemoteAddr's host and [IsSecure] is r.TLS != nil.
func TrustedProxies(cidrs ...string) (func(http.Handler) http.Handler, error) {
	t := &proxyTrust{}
	for _, c := range cidrs {
		entry := strings.TrimSpace(c)
		if entry == "unix" {
			t.unix = true
			continue
		}
		p, err := proxyParseTrusted(entry)
		if err != nil {
			return nil, fmt.Errorf("middleware: trusted proxy %q: not an IP address or CIDR prefix", c)
		}
		t.prefixes = append(t.prefixes, p)
	}
	if len(t.prefixes) == 0 && !t.unix {
		return nil, fmt.Errorf("middleware: TrustedProxies needs at least one address or CIDR prefix")
	}
	return func(next http.Handler) http.Handler { return &proxyHandler{trust: t, next: next} }, nil
}

func proxyParseTrusted(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked(), nil
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.WithZone("").Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ClientIP returns the client's IP address: resolved through trusted proxies when
// [TrustedProxies] ran, otherwise the host part of r.RemoteAddr.
func ClientIP(r *http.Request) string {
	if s := reqctx.From(r.Context()); s != nil && s.Resolved {
		return s.ClientIP
	}
	return proxyRemoteHost(r.RemoteAddr)
}

// IsSecure reports whether the client reached the service over HTTPS: the scheme resolved
// through trusted proxies when [TrustedProxies] ran (so TLS between the proxy and the service
// does not count when the client used plain HTTP), otherwise r.TLS != nil.
func IsSecure(r *http.Request) bool {
	if s := reqctx.From(r.Context()); s != nil && s.Resolved {
		return s.Scheme == "https"
	}
	return r.TLS != nil
}

type proxyTrust struct {
	prefixes []netip.Prefix
	unix     bool
}

type proxyHandler struct {
	trust *proxyTrust
	next  http.Handler
}

func (h *proxyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s, w, r := reqctx.Ensure(w, r)
	peer := proxyRemoteHost(r.RemoteAddr)
	s.ClientIP, s.Scheme, s.Resolved = peer, "http", true
	if r.TLS != nil {
		s.Scheme = "https"
	}
	if h.trust.peerTrusted(peer) {
		h.trust.resolve(s, r.Header, peer)
	}
	h.next.ServeHTTP(w, r)
}

func (t *proxyTrust) peerTrusted(peer string) bool {
	if addr, ok := proxyAddr(peer); ok {
		return t.contains(addr)
	}
	return t.unix // RemoteAddr of a Unix socket peer is "@" or "", not an address
}

func (t *proxyTrust) contains(a netip.Addr) bool {
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// resolve sets s.ClientIP and s.Scheme from the forwarding headers of a request whose peer is
// trusted.
func (t *proxyTrust) resolve(s *reqctx.State, h http.Header, peer string) {
	if fwd := h["Forwarded"]; len(fwd) > 0 {
		client, proto := t.walkForwarded(fwd, peer)
		s.ClientIP = client
		if proto == "" {
			proto = proxyPick(h["X-Forwarded-Proto"], 0)
		}
		if scheme := proxyScheme(proto); scheme != "" {
			s.Scheme = scheme
		}
		return
	}
	client, pos := t.walkXFF(h["X-Forwarded-For"], peer)
	s.ClientIP = client
	if scheme := proxyScheme(proxyPick(h["X-Forwarded-Proto"], pos)); scheme != "" {
		s.Scheme = scheme
	}
}

// walkXFF returns the rightmost untrusted address in X-Forwarded-For and its position counted
// from the right (0 is the rightmost entry).
func (t *proxyTrust) walkXFF(vals []string, peer string) (client string, pos int) {
	client = peer
	it := proxyListRev{vals: vals}
	for i := 0; ; i++ {
		tok, ok := it.next()
		if !ok {
			return client, max(i-1, 0) // every entry trusted: the leftmost one is the client
		}
		host, addr, ok := proxyParseNode(tok)
		if !ok {
			return client, i
		}
		client = host
		if !t.contains(addr) {
			return client, i
		}
	}
}

// walkForwarded does the same over RFC 7239 Forwarded elements and returns the proto= of the
// client's element. Elements are split on every comma, quoted or not: no valid for= or proto=
// value contains one, and honouring quotes would let a client's unbalanced quote swallow the
// elements its proxies append.
func (t *proxyTrust) walkForwarded(vals []string, peer string) (client, proto string) {
	client = peer
	it := proxyListRev{vals: vals}
	for {
		elem, ok := it.next()
		if !ok {
			return client, proto
		}
		forValue, protoValue := proxyForwardedPairs(elem)
		host, addr, ok := proxyParseNode(forValue)
		if !ok { // the element was still written by a trusted proxy: its proto= holds
			return client, protoValue
		}
		client, proto = host, protoValue
		if !t.contains(addr) {
			return client, proto
		}
	}
}

// proxyForwardedPairs returns the for= and proto= values of one Forwarded element.
func proxyForwardedPairs(elem string) (forValue, proto string) {
	for elem != "" {
		var pair string
		pair, elem, _ = strings.Cut(elem, ";")
		name, value, ok := strings.Cut(pair, "=")
		if !ok {
			continue
		}
		name = strings.TrimSpace(name)
		value = strings.TrimSpace(value)
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
		}
		switch {
		case strings.EqualFold(name, "for"):
			forValue = value
		case strings.EqualFold(name, "proto"):
			proto = value
		}
	}
	return forValue, proto
}

// proxyPick returns the X-Forwarded-Proto entry at position pos from the right, or the
// rightmost entry when there are not that many.
func proxyPick(vals []string, pos int) string {
	it := proxyListRev{vals: vals}
	first := ""
	for i := 0; ; i++ {
		tok, ok := it.next()
		if !ok {
			return first
		}
		if i == 0 {
			first = tok
		}
		if i == pos {
			return tok
		}
	}
}

func proxyScheme(proto string) string {
	switch {
	case strings.EqualFold(proto, "https"):
		return "https"
	case strings.EqualFold(proto, "http"):
		return "http"
	}
	return ""
}

// proxyListRev iterates over the comma-separated entries of a header's values from the right,
// skipping empty entries, without allocating.
type proxyListRev struct {
	vals []string
	cur  string
}

func (it *proxyListRev) next() (string, bool) {
	for {
		for it.cur == "" {
			if len(it.vals) == 0 {
				return "", false
			}
			it.cur = it.vals[len(it.vals)-1]
			it.vals = it.vals[:len(it.vals)-1]
		}
		tok := it.cur
		if j := strings.LastIndexByte(it.cur, ','); j >= 0 {
			tok, it.cur = it.cur[j+1:], it.cur[:j]
		} else {
			it.cur = ""
		}
		if tok = strings.TrimSpace(tok); tok != "" {
			return tok, true
		}
	}
}

// proxyParseNode returns the address of an X-Forwarded-For entry or Forwarded for= value:
// "192.0.2.1", "192.0.2.1:80", "[2001:db8::1]", "[2001:db8::1]:80" or "2001:db8::1". host is
// the address as written (a substring of s, so nothing is allocated).
func proxyParseNode(s string) (host string, addr netip.Addr, ok bool) {
	switch {
	case s == "":
		return "", netip.Addr{}, false
	case s[0] == '[':
		end := strings.IndexByte(s, ']')
		if end < 0 || !proxyValidPort(s[end+1:]) {
			return "", netip.Addr{}, false
		}
		host = s[1:end]
	default:
		host = s
		if i := strings.IndexByte(s, ':'); i >= 0 && strings.IndexByte(s[i+1:], ':') < 0 {
			if !proxyValidPort(s[i:]) {
				return "", netip.Addr{}, false
			}
			host = s[:i]
		}
	}
	addr, ok = proxyAddr(host)
	return host, addr, ok
}

// proxyValidPort accepts "", ":" followed by digits, or an RFC 7239 obfuscated port ":_x".
func proxyValidPort(s string) bool {
	if s == "" {
		return true
	}
	if s[0] != ':' || len(s) == 1 {
		return false
	}
	if s[1] == '_' {
		return true
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// proxyAddr parses an IP address, rejecting the common non-addresses ("unknown", "_hidden",
// "@") before netip.ParseAddr would allocate an error for them.
func proxyAddr(s string) (netip.Addr, bool) {
	if s == "" || !(s[0] == ':' || '0' <= s[0] && s[0] <= '9' || 'a' <= s[0]|0x20 && s[0]|0x20 <= 'f') {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// proxyRemoteHost returns the host part of a RemoteAddr ("192.0.2.1:1234", "[::1]:80") without
// allocating; an address without a port is returned as is.
func proxyRemoteHost(addr string) string {
	if addr == "" {
		return ""
	}
	if addr[0] == '[' {
		if end := strings.IndexByte(addr, ']'); end > 0 {
			return addr[1:end]
		}
		return addr
	}
	if i := strings.LastIndexByte(addr, ':'); i >= 0 && strings.IndexByte(addr[:i], ':') < 0 {
		return addr[:i]
	}
	return addr
}
