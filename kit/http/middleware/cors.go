package middleware

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stackkit/stackkit/kit/http/problem"
)

// CORSOption configures CORS.
type CORSOption func(*corsConfig)

type corsConfig struct {
	origins     []string
	methods     []string
	headers     []string
	exposed     []string
	credentials bool
	maxAge      time.Duration
}

// AllowedOrigins sets the origins whose scripts may read responses: exact origins
// ("https://app.example.com"), subdomain wildcards ("https://*.example.com", which matches
// https://a.example.com and https://a.b.example.com but not https://example.com), or "*" for
// any origin. The "null" origin (sandboxed frames, file: pages) is refused as unsafe.
func AllowedOrigins(origins ...string) CORSOption {
	return func(c *corsConfig) { c.origins = append(c.origins, origins...) }
}

// AllowedMethods sets the methods a preflight may ask for (default GET, HEAD, POST). "*" allows
// any method.
func AllowedMethods(methods ...string) CORSOption {
	return func(c *corsConfig) { c.methods = append(c.methods[:0:0], methods...) }
}

// AllowedHeaders sets the request headers a preflight may ask for, case-insensitively. The
// default is Accept, Accept-Language, Content-Language, Content-Type (a JSON body needs it),
// Authorization (bearer tokens are set by the script explicitly, unlike cookies, so allowing
// the header grants nothing the origin list does not), X-Requested-With and X-Request-Id.
// "*" allows any header.
func AllowedHeaders(headers ...string) CORSOption {
	return func(c *corsConfig) { c.headers = append(c.headers[:0:0], headers...) }
}

// ExposedHeaders sets the response headers, beyond the CORS-safelisted ones, that scripts may
// read (Access-Control-Expose-Headers), such as "X-Request-Id" or "Location".
func ExposedHeaders(headers ...string) CORSOption {
	return func(c *corsConfig) { c.exposed = append(c.exposed, headers...) }
}

// AllowCredentials lets scripts send cookies and HTTP authentication with their requests and
// read the responses (Access-Control-Allow-Credentials). It cannot be combined with the "*"
// origin.
func AllowCredentials(allow bool) CORSOption {
	return func(c *corsConfig) { c.credentials = allow }
}

// MaxAge sets how long a browser may cache a preflight result (Access-Control-Max-Age, whole
// seconds; browsers cap it, Chromium at 2 hours). Zero, the default, sends no header, which
// means 5 seconds.
func MaxAge(d time.Duration) CORSOption {
	return func(c *corsConfig) { c.maxAge = d }
}

// CORS lets scripts from other origins read this server's responses (Cross-Origin Resource
// Sharing).
//
//	cors, err := middleware.CORS(
//		middleware.AllowedOrigins("https://app.example.com", "https://*.example.org"),
//		middleware.AllowedMethods("GET", "POST", "DELETE"),
//		middleware.AllowCredentials(true))
//	if err != nil {
//		return err
//	}
//	handler = cors(mux)
//
// A preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered here and
// never reaches the handler: 204 with the Access-Control-Allow-* headers when origin, method and
// every requested header are allowed, otherwise 403 with a problem body saying which one was
// not. The browser blocks the request either way; the 403 makes the reason visible in its
// network panel and in the access log, where an answer without headers would be a bare
// "CORS error".
//
// Other requests always reach the handler. An allowed origin gets Access-Control-Allow-Origin
// (the origin itself, or "*" when any origin is allowed without credentials), and every
// response gets "Vary: Origin" unless it is the same for all origins. CORS only governs what
// scripts may read: it does not stop a cross-site form post from reaching the handler, which
// is CrossOriginProtection's job.
//
// CORS returns an error when no origin is configured, for a malformed origin or wildcard, and
// for credentials with the "*" origin.
func CORS(opts ...CORSOption) (func(http.Handler) http.Handler, error) {
	cfg := corsConfig{
		methods: []string{http.MethodGet, http.MethodHead, http.MethodPost},
		headers: []string{"Accept", "Accept-Language", "Content-Language", "Content-Type",
			"Authorization", "X-Requested-With", "X-Request-Id"},
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	p, err := corsNewPolicy(&cfg)
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		return &corsHandler{next: next, p: p}
	}, nil
}

type corsWildcard struct {
	prefix string // "https://"
	suffix string // ".example.com" or ".example.com:8443"
}

type corsPolicy struct {
	anyOrigin   bool
	origins     map[string]bool
	wildcards   []corsWildcard
	anyMethod   bool
	methods     []string
	anyHeader   bool
	headers     []string
	credentials bool

	// Precomputed header values (len == cap, shared by every response; never modified).
	allowMethods  []string
	exposeHeaders []string
	maxAge        []string
}

var (
	corsVaryOrigin    = []string{"Origin"}
	corsVaryPreflight = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
	corsStar          = []string{"*"}
	corsTrue          = []string{"true"}
)

func corsNewPolicy(cfg *corsConfig) (*corsPolicy, error) {
	p := &corsPolicy{origins: make(map[string]bool), credentials: cfg.credentials}
	if len(cfg.origins) == 0 {
		return nil, errors.New("middleware: CORS needs at least one allowed origin")
	}
	for _, o := range cfg.origins {
		if o == "*" {
			p.anyOrigin = true
			continue
		}
		norm, err := corsNormalizeOrigin(o, true)
		if err != nil {
			return nil, fmt.Errorf("middleware: CORS: %w", err)
		}
		if rest, ok := strings.CutPrefix(norm[strings.Index(norm, "://")+3:], "*."); ok {
			scheme := norm[:strings.Index(norm, "://")+3]
			p.wildcards = append(p.wildcards, corsWildcard{prefix: scheme, suffix: "." + rest})
			continue
		}
		p.origins[norm] = true
	}
	if p.anyOrigin && p.credentials {
		return nil, errors.New(`middleware: CORS: credentials cannot be allowed for the "*" origin; list the origins`)
	}
	for _, m := range cfg.methods {
		m = strings.TrimSpace(m)
		switch {
		case m == "*":
			p.anyMethod = true
		case m == "" || strings.ContainsAny(m, " \t,;\"()/:<=>?@[\\]{}"):
			return nil, fmt.Errorf("middleware: CORS: invalid method %q", m)
		default:
			p.methods = append(p.methods, strings.ToUpper(m))
		}
	}
	for _, h := range cfg.headers {
		h = strings.TrimSpace(h)
		switch {
		case h == "*":
			p.anyHeader = true
		case h == "" || strings.ContainsAny(h, " \t,;\"()/:<=>?@[\\]{}"):
			return nil, fmt.Errorf("middleware: CORS: invalid header name %q", h)
		default:
			p.headers = append(p.headers, h)
		}
	}
	if len(p.methods) > 0 {
		p.allowMethods = []string{strings.Join(p.methods, ", ")}
	}
	var exposed []string
	for _, h := range cfg.exposed {
		if h = strings.TrimSpace(h); h != "" {
			exposed = append(exposed, http.CanonicalHeaderKey(h))
		}
	}
	if len(exposed) > 0 {
		p.exposeHeaders = []string{strings.Join(exposed, ", ")}
	}
	if secs := int64(cfg.maxAge / time.Second); secs > 0 {
		p.maxAge = []string{strconv.FormatInt(secs, 10)}
	}
	return p, nil
}

// corsNormalizeOrigin validates an origin (scheme://host[:port]) and returns it as browsers
// serialize it in the Origin header: scheme and host lowercased, no default port. With
// wildcard, the host may start with "*." to stand for any subdomain.
func corsNormalizeOrigin(origin string, wildcard bool) (string, error) {
	if origin == "null" {
		return "", fmt.Errorf(`origin "null" is not allowed: any sandboxed page can send it`)
	}
	u, err := url.Parse(origin)
	if err != nil {
		return "", fmt.Errorf("invalid origin %q: %w", origin, err)
	}
	if u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("invalid origin %q: want scheme://host[:port]", origin)
	}
	if u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery ||
		strings.HasSuffix(origin, "#") {
		return "", fmt.Errorf("invalid origin %q: no user, path, query or fragment allowed", origin)
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if strings.HasSuffix(u.Host, ":") {
		return "", fmt.Errorf("invalid origin %q: empty port", origin)
	}
	if port == "443" && scheme == "https" || port == "80" && scheme == "http" {
		port = ""
	}
	if strings.Contains(host, "*") {
		rest, ok := strings.CutPrefix(host, "*.")
		if !wildcard {
			return "", fmt.Errorf("invalid origin %q: wildcards are not supported here", origin)
		}
		if !ok || rest == "" || strings.Contains(rest, "*") || strings.HasPrefix(rest, ".") {
			return "", fmt.Errorf(`invalid origin %q: a wildcard must be a leading "*." label`, origin)
		}
	}
	if strings.Contains(host, ":") { // IPv6 literal
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

func (p *corsPolicy) allowOrigin(origin string) bool {
	if p.anyOrigin || p.origins[origin] {
		return true
	}
	for _, w := range p.wildcards {
		if len(origin) > len(w.prefix)+len(w.suffix) &&
			strings.HasPrefix(origin, w.prefix) && strings.HasSuffix(origin, w.suffix) &&
			corsValidSubdomain(origin[len(w.prefix):len(origin)-len(w.suffix)]) {
			return true
		}
	}
	return false
}

// corsValidSubdomain reports whether s is one or more DNS labels ("a" or "a.b"), so that a
// wildcard cannot be satisfied by "evil.com/" or "user@" tricks in a forged Origin.
func corsValidSubdomain(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

type corsHandler struct {
	next http.Handler
	p    *corsPolicy
}

func (c *corsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := c.p
	origin := corsField(r.Header, "Origin")
	if r.Method == http.MethodOptions && origin != "" && corsField(r.Header, "Access-Control-Request-Method") != "" {
		p.preflight(w, r, origin)
		return
	}
	h := w.Header()
	if !p.anyOrigin || p.credentials {
		varyAdd(h, corsVaryOrigin)
	}
	if origin != "" && p.allowOrigin(origin) {
		p.setOrigin(h, origin)
		if p.exposeHeaders != nil {
			h["Access-Control-Expose-Headers"] = p.exposeHeaders
		}
	}
	c.next.ServeHTTP(w, r)
}

func (p *corsPolicy) setOrigin(h http.Header, origin string) {
	if p.anyOrigin && !p.credentials {
		h["Access-Control-Allow-Origin"] = corsStar
		return
	}
	h["Access-Control-Allow-Origin"] = []string{origin}
	if p.credentials {
		h["Access-Control-Allow-Credentials"] = corsTrue
	}
}

func (p *corsPolicy) preflight(w http.ResponseWriter, r *http.Request, origin string) {
	h := w.Header()
	h["Vary"] = append(h["Vary"], corsVaryPreflight)
	if !p.allowOrigin(origin) {
		problem.Error(w, r, http.StatusForbidden, "CORS preflight rejected: origin not allowed")
		return
	}
	method := corsField(r.Header, "Access-Control-Request-Method")
	if !p.anyMethod && !corsContains(p.methods, method, false) {
		problem.Error(w, r, http.StatusForbidden, "CORS preflight rejected: method not allowed")
		return
	}
	requested := strings.Join(r.Header["Access-Control-Request-Headers"], ",")
	if !p.anyHeader {
		for rest := requested; rest != ""; {
			var name string
			name, rest, _ = strings.Cut(rest, ",")
			if name = strings.TrimSpace(name); name != "" && !corsContains(p.headers, name, true) {
				problem.Error(w, r, http.StatusForbidden, "CORS preflight rejected: header "+
					strconv.Quote(strings.ToLower(name))+" not allowed")
				return
			}
		}
	}
	p.setOrigin(h, origin)
	if p.anyMethod {
		h["Access-Control-Allow-Methods"] = []string{method}
	} else {
		h["Access-Control-Allow-Methods"] = p.allowMethods
	}
	if requested != "" {
		h["Access-Control-Allow-Headers"] = []string{requested} // each name checked above
	}
	if p.maxAge != nil {
		h["Access-Control-Max-Age"] = p.maxAge
	}
	w.WriteHeader(http.StatusNoContent)
}

// corsField is Header.Get for a key already in canonical form, without canonicalizing it again.
func corsField(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// corsContains reports whether list holds s; methods compare exactly (they are case-sensitive),
// header names without regard to case.
func corsContains(list []string, s string, fold bool) bool {
	for _, v := range list {
		if v == s || fold && strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
