package pagecache

import (
	"bytes"
	"math"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Delta-seconds states of a directive.
const (
	absent  = -1
	invalid = -2
	// maxDelta is where RFC 9111 §1.2.2 caps delta-seconds.
	maxDelta = 1 << 31
)

// cacheControl holds the directives of a Cache-Control field that a shared cache acts on.
type cacheControl struct {
	maxAge, sMaxAge                                   int64 // seconds, absent or invalid
	public, private, noStore, noCache, mustRevalidate bool
}

// parseCacheControl reads every line of a Cache-Control field. Names are case-insensitive;
// the first of repeated max-age or s-maxage directives counts (RFC 9111 §4.2.1); a qualified
// private="..." or no-cache="..." counts as the unqualified directive, which stores less.
func parseCacheControl(lines []string) cacheControl {
	cc := cacheControl{maxAge: absent, sMaxAge: absent}
	for _, s := range lines {
		for s != "" {
			var d string
			d, s = nextDirective(s)
			name, value, _ := strings.Cut(d, "=")
			name = textproto.TrimString(name)
			value = textproto.TrimString(value)
			switch {
			case strings.EqualFold(name, "max-age"):
				if cc.maxAge == absent {
					cc.maxAge = parseDelta(value)
				}
			case strings.EqualFold(name, "s-maxage"):
				if cc.sMaxAge == absent {
					cc.sMaxAge = parseDelta(value)
				}
			case strings.EqualFold(name, "public"):
				cc.public = true
			case strings.EqualFold(name, "private"):
				cc.private = true
			case strings.EqualFold(name, "no-store"):
				cc.noStore = true
			case strings.EqualFold(name, "no-cache"):
				cc.noCache = true
			case strings.EqualFold(name, "must-revalidate"):
				cc.mustRevalidate = true
			}
		}
	}
	return cc
}

// nextDirective splits the first directive off s, at a comma outside a quoted string.
func nextDirective(s string) (d, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			quoted = !quoted
		case c == '\\' && quoted:
			i++
		case c == ',' && !quoted:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// parseDelta reads delta-seconds, quoted or not (senders quote them though they should not).
func parseDelta(s string) int64 {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if s == "" {
		return invalid
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return invalid
		}
		if n < maxDelta {
			n = n*10 + int64(c-'0')
		}
	}
	return min(n, maxDelta)
}

// freshness is what the store rules decided about a response.
type freshness struct {
	lifetime time.Duration // the response's freshness lifetime
	age      int64         // seconds: the age the response already had (its Age field)
	ttl      time.Duration // lifetime less age: how long the stored copy is fresh
	// stated: the response gave its lifetime itself; sOnly: only as s-maxage.
	stated, sOnly bool
}

// judge applies the store rules (see Middleware) to a response to r with status and header h.
func (cfg *config) judge(r *http.Request, status int, h http.Header, now time.Time) (freshness, bool) {
	var f freshness
	if !slices.Contains(cfg.statuses, status) || len(h["Set-Cookie"]) > 0 || len(h["Trailer"]) > 0 {
		return f, false
	}
	for name := range h {
		if strings.HasPrefix(name, http.TrailerPrefix) {
			return f, false // trailers come after the body: a streamed response
		}
	}
	for _, line := range h["Vary"] {
		for line != "" {
			var name string
			name, line, _ = strings.Cut(line, ",")
			if textproto.TrimString(name) == "*" {
				return f, false
			}
		}
	}
	cc := parseCacheControl(h["Cache-Control"])
	if cc.private || cc.noStore || cc.noCache || cc.maxAge == invalid || cc.sMaxAge == invalid {
		return f, false
	}
	if len(r.Header["Authorization"]) > 0 && !cc.public && cc.sMaxAge == absent && !cc.mustRevalidate {
		return f, false // RFC 9111 §3.5
	}
	switch {
	case cc.sMaxAge != absent:
		f.lifetime, f.stated, f.sOnly = time.Duration(cc.sMaxAge)*time.Second, true, cc.maxAge == absent
	case cc.maxAge != absent:
		f.lifetime, f.stated = time.Duration(cc.maxAge)*time.Second, true
	case len(h["Expires"]) > 0:
		expires, err := http.ParseTime(h["Expires"][0])
		if err != nil {
			return f, false // an invalid Expires means already expired (RFC 9111 §5.3)
		}
		date := now
		if d, err := http.ParseTime(first(h, "Date")); err == nil {
			date = d
		}
		f.lifetime, f.stated = expires.Sub(date), true
	default:
		f.lifetime = cfg.ttl
	}
	if a := first(h, "Age"); a != "" {
		if f.age = parseDelta(a); f.age < 0 {
			f.age = 0
		}
	}
	f.ttl = f.lifetime - time.Duration(f.age)*time.Second
	return f, f.ttl > 0
}

// patch adds Date, Cache-Control max-age and Expires when absent, as Django's
// patch_response_headers does, so that browsers and proxies keep the page as long as we do.
// A response that set s-maxage alone chose to give browsers no lifetime; it is left so.
func (f *freshness) patch(h http.Header, now time.Time) {
	if len(h["Date"]) == 0 {
		h["Date"] = []string{now.UTC().Format(http.TimeFormat)}
	}
	if f.sOnly {
		return
	}
	if cc := h["Cache-Control"]; parseCacheControl(cc).maxAge == absent {
		maxAge := "max-age=" + strconv.FormatInt(int64(math.Ceil(f.lifetime.Seconds())), 10)
		if len(cc) == 0 || strings.TrimSpace(strings.Join(cc, "")) == "" {
			h["Cache-Control"] = []string{maxAge}
		} else {
			h["Cache-Control"] = []string{strings.Join(cc, ", ") + ", " + maxAge}
		}
	}
	if len(h["Expires"]) == 0 {
		h["Expires"] = []string{now.Add(f.ttl).UTC().Format(http.TimeFormat)}
	}
}

// varyNames returns the request header names the response varies on: canonical, sorted, without
// duplicates, and without Accept-Language when the locale is in the key.
func (cfg *config) varyNames(h http.Header) []string {
	var names []string
	for _, line := range h["Vary"] {
		for line != "" {
			var name string
			name, line, _ = strings.Cut(line, ",")
			if name = textproto.TrimString(name); name == "" {
				continue
			}
			name = textproto.CanonicalMIMEHeaderKey(name)
			if name == "Accept-Language" && cfg.locale != nil {
				continue
			}
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// requestNoCache reads a request's Cache-Control (or, without one, Pragma: no-cache).
func requestNoCache(h http.Header) (noCache, noStore bool) {
	if cc := h["Cache-Control"]; len(cc) > 0 {
		d := parseCacheControl(cc)
		return d.noCache || d.maxAge == 0, d.noStore
	}
	for _, p := range h["Pragma"] {
		for p != "" {
			var d string
			d, p, _ = strings.Cut(p, ",")
			if strings.EqualFold(textproto.TrimString(d), "no-cache") {
				return true, false
			}
		}
	}
	return false, false
}

func first(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// hopByHop reports whether a header field is about one connection rather than the response
// (RFC 9110 §7.6.1), and so not stored.
func hopByHop(name string, connection []string) bool {
	switch name {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	for _, line := range connection {
		for line != "" {
			var opt string
			opt, line, _ = strings.Cut(line, ",")
			if strings.EqualFold(textproto.TrimString(opt), name) {
				return true
			}
		}
	}
	return false
}

// usesNonce reports whether body carries a nonce of the response's Content-Security-Policy.
// Such a page cannot be served again: the nonce is fresh on every request (kit/http's
// SecurityHeaders sets it before the handler runs), so a stored body would carry a nonce the
// next response's policy no longer allows, and its inline scripts would be blocked.
func usesNonce(h http.Header, body []byte) bool {
	for _, name := range [...]string{"Content-Security-Policy", "Content-Security-Policy-Report-Only"} {
		for _, policy := range h[name] {
			for {
				i := strings.Index(policy, "'nonce-")
				if i < 0 {
					break
				}
				policy = policy[i+len("'nonce-"):]
				nonce, _, _ := strings.Cut(policy, "'")
				if nonce != "" && bytes.Contains(body, []byte(nonce)) {
					return true
				}
			}
		}
	}
	return false
}
