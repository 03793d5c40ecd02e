package middleware

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/stackkit/stackkit/kit/http/problem"
)

// HostsOption configures AllowedHosts.
type HostsOption func(*hostsConfig)

type hostsConfig struct {
	exempt map[string]struct{}
}

// ExemptPaths lets requests for these exact paths through whatever their Host, so that kubelet
// probes addressed to the pod IP reach the health endpoints.
func ExemptPaths(paths ...string) HostsOption {
	return func(c *hostsConfig) {
		if c.exempt == nil {
			c.exempt = make(map[string]struct{}, len(paths))
		}
		for _, p := range paths {
			c.exempt[p] = struct{}{}
		}
	}
}

// AllowedHosts answers 400 to requests whose Host header is malformed or not in hosts, as
// Django's ALLOWED_HOSTS does. A forged Host is how password-reset links, absolute redirects and
// cached pages get pointed at an attacker's site.
//
//	hosts, err := middleware.AllowedHosts([]string{"example.com", ".api.example.com"},
//		middleware.ExemptPaths("/healthz", "/readyz"))
//	handler := hosts(mux)
//
// An entry is a host name ("example.com", matched exactly), a suffix (".example.com", matching
// example.com and every subdomain), an IP address ("192.0.2.1", "[2001:db8::1]"), or "*" for
// any host. Matching ignores case, the port and a trailing dot. A Host is well-formed when it is
// a name of letters, digits, dots and hyphens or a bracketed IPv6 address, with an optional
// numeric port. The error names the first empty or malformed entry, or an empty list.
func AllowedHosts(hosts []string, opts ...HostsOption) (func(http.Handler) http.Handler, error) {
	if len(hosts) == 0 {
		return nil, errors.New("middleware: AllowedHosts needs at least one host (\"*\" allows any)")
	}
	var c hostsConfig
	for _, o := range opts {
		o(&c)
	}
	p := &hostsPolicy{exempt: c.exempt}
	for _, entry := range hosts {
		e := strings.ToLower(strings.TrimSpace(entry))
		suffix := false
		switch {
		case e == "*":
			p.any = true
			continue
		case strings.HasPrefix(e, "."):
			suffix, e = true, e[1:]
		case strings.HasPrefix(e, "[") && strings.HasSuffix(e, "]"):
			e = e[1 : len(e)-1]
		}
		e = strings.TrimSuffix(e, ".")
		if !hostsValidName(e) && (suffix || !hostsValidIPv6(e)) {
			return nil, fmt.Errorf("middleware: allowed host %q: not a host name, .suffix, IP address or \"*\"", entry)
		}
		if suffix {
			p.suffixes = append(p.suffixes, e)
		} else {
			p.exact = append(p.exact, e)
		}
	}
	return func(next http.Handler) http.Handler { return &hostsHandler{policy: p, next: next} }, nil
}

type hostsPolicy struct {
	any      bool
	exact    []string // lower case, no trailing dot, IPv6 without brackets
	suffixes []string // ".example.com" stored as "example.com"
	exempt   map[string]struct{}
}

func (p *hostsPolicy) allowed(name string) bool {
	if p.any {
		return true
	}
	for _, e := range p.exact {
		if strings.EqualFold(name, e) {
			return true
		}
	}
	for _, s := range p.suffixes {
		if strings.EqualFold(name, s) ||
			len(name) > len(s) && name[len(name)-len(s)-1] == '.' && strings.EqualFold(name[len(name)-len(s):], s) {
			return true
		}
	}
	return false
}

type hostsHandler struct {
	policy *hostsPolicy
	next   http.Handler
}

func (h *hostsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, exempt := h.policy.exempt[r.URL.Path]; !exempt {
		name, ok := hostsName(r.Host)
		if !ok || !h.policy.allowed(name) {
			problem.Error(w, r, http.StatusBadRequest, "host not allowed")
			return
		}
	}
	h.next.ServeHTTP(w, r)
}

// hostsName validates a Host header value and returns its name without the port, the IPv6
// brackets or a trailing dot; it is a substring of host, so nothing is allocated.
func hostsName(host string) (string, bool) {
	if host == "" {
		return "", false
	}
	var name, port string
	if host[0] == '[' {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return "", false
		}
		name, port = host[1:end], host[end+1:]
		if !hostsValidIPv6(name) {
			return "", false
		}
	} else {
		name = host
		if i := strings.LastIndexByte(host, ':'); i >= 0 {
			name, port = host[:i], host[i:]
		}
		name = strings.TrimSuffix(name, ".")
		if !hostsValidName(name) {
			return "", false
		}
	}
	if port != "" {
		if port[0] != ':' {
			return "", false
		}
		for i := 1; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return "", false
			}
		}
	}
	return name, true
}

// hostsValidName accepts what Django's host validation accepts for a name: letters, digits,
// dots and hyphens, non-empty.
func hostsValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20 // lower-cases letters; digits, '.' and '-' are unchanged
		if !('a' <= c && c <= 'z' || '0' <= s[i] && s[i] <= '9' || s[i] == '.' || s[i] == '-') {
			return false
		}
	}
	return true
}

// hostsValidIPv6 accepts the characters of an IPv6 literal with at least one colon (hex digits,
// colons and the dots of an embedded IPv4 address).
func hostsValidIPv6(s string) bool {
	if strings.IndexByte(s, ':') < 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if !('a' <= c && c <= 'f' || '0' <= s[i] && s[i] <= '9' || s[i] == ':' || s[i] == '.') {
			return false
		}
	}
	return true
}
