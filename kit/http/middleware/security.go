package middleware

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stackkit/stackkit/kit/http/internal/reqctx"
	"github.com/stackkit/stackkit/kit/http/problem"
)

// SecurityOption configures SecurityHeaders.
type SecurityOption func(*securityConfig)

type securityConfig struct {
	nosniff        bool
	referrerPolicy string
	openerPolicy   string
	frameOptions   string
	hstsMaxAge     time.Duration
	hstsSubdomains bool
	hstsPreload    bool
	csp            string
	cspReportOnly  string
}

// DefaultHSTSMaxAge is the Strict-Transport-Security max-age SecurityHeaders sends by default:
// one year, the minimum the browsers' preload lists accept.
const DefaultHSTSMaxAge = 365 * 24 * time.Hour

// WithNosniff sets whether to send X-Content-Type-Options: nosniff (default true).
func WithNosniff(on bool) SecurityOption {
	return func(c *securityConfig) { c.nosniff = on }
}

// WithReferrerPolicy sets Referrer-Policy (default "same-origin"); "" sends none.
func WithReferrerPolicy(policy string) SecurityOption {
	return func(c *securityConfig) { c.referrerPolicy = policy }
}

// WithCrossOriginOpenerPolicy sets Cross-Origin-Opener-Policy (default "same-origin"); "" sends
// none. Pages that open OAuth or payment popups may need "same-origin-allow-popups".
func WithCrossOriginOpenerPolicy(policy string) SecurityOption {
	return func(c *securityConfig) { c.openerPolicy = policy }
}

// WithFrameOptions sets X-Frame-Options (default "DENY"); "SAMEORIGIN" allows the site to frame
// itself, "" sends none (when a CSP frame-ancestors directive takes over).
func WithFrameOptions(value string) SecurityOption {
	return func(c *securityConfig) { c.frameOptions = value }
}

// WithHSTS sets Strict-Transport-Security (default max-age one year, without includeSubDomains
// or preload). A maxAge below one second sends no header. Turn on includeSubDomains only when
// every subdomain serves HTTPS, and preload only when the domain is meant for the browsers'
// preload lists: both are hard to undo.
func WithHSTS(maxAge time.Duration, includeSubDomains, preload bool) SecurityOption {
	return func(c *securityConfig) {
		c.hstsMaxAge, c.hstsSubdomains, c.hstsPreload = maxAge, includeSubDomains, preload
	}
}

// WithCSP sets a Content-Security-Policy. Each "{nonce}" in policy is replaced by a fresh nonce
// per response, which templates read with [CSPNonce]:
//
//	middleware.WithCSP("default-src 'self'; script-src 'self' 'nonce-{nonce}'")
//	// template: <script nonce="{{.Nonce}}"> with Nonce = middleware.CSPNonce(r.Context())
func WithCSP(policy string) SecurityOption {
	return func(c *securityConfig) { c.csp = policy }
}

// WithCSPReportOnly sets a Content-Security-Policy-Report-Only policy, with the same "{nonce}"
// substitution (the same nonce as WithCSP's): the way to try a policy before enforcing it.
func WithCSPReportOnly(policy string) SecurityOption {
	return func(c *securityConfig) { c.cspReportOnly = policy }
}

// CSPNonce returns the Content-Security-Policy nonce of the request in ctx, or "" when
// SecurityHeaders has no policy with a "{nonce}".
func CSPNonce(ctx context.Context) string {
	if s := reqctx.From(ctx); s != nil {
		return s.CSPNonce
	}
	return ""
}

// SecurityHeaders sets the response headers that Django's SecurityMiddleware sets, with the same
// defaults:
//
//	X-Content-Type-Options: nosniff
//	Referrer-Policy: same-origin
//	Cross-Origin-Opener-Policy: same-origin
//	X-Frame-Options: DENY
//	Strict-Transport-Security: max-age=31536000   (HTTPS requests only, see IsSecure)
//
// and, when configured, a Content-Security-Policy with a per-request nonce. For example:
//
//	secure := middleware.SecurityHeaders(middleware.WithCSP("script-src 'self' 'nonce-{nonce}'"))
//	handler := secure(mux)
//
// The headers are set before the handler runs, so a handler can override or delete any of them;
// a header already present (set by an outer middleware) is left alone. HSTS over plain HTTP would
// be ignored by browsers and could be injected by anyone on the path, so it is only sent when
// the client's connection is HTTPS, directly or through a trusted proxy ([TrustedProxies]).
func SecurityHeaders(opts ...SecurityOption) func(http.Handler) http.Handler {
	c := securityConfig{
		nosniff:        true,
		referrerPolicy: "same-origin",
		openerPolicy:   "same-origin",
		frameOptions:   "DENY",
		hstsMaxAge:     DefaultHSTSMaxAge,
	}
	for _, o := range opts {
		o(&c)
	}
	h := &securityHeaders{}
	add := func(key, value string) {
		if value != "" {
			h.fixed = append(h.fixed, securityHeader{key: key, value: []string{value}})
		}
	}
	if c.nosniff {
		add("X-Content-Type-Options", "nosniff")
	}
	add("Referrer-Policy", c.referrerPolicy)
	add("Cross-Origin-Opener-Policy", c.openerPolicy)
	add("X-Frame-Options", c.frameOptions)
	if secs := int64(c.hstsMaxAge / time.Second); secs > 0 {
		v := "max-age=" + strconv.FormatInt(secs, 10)
		if c.hstsSubdomains {
			v += "; includeSubDomains"
		}
		if c.hstsPreload {
			v += "; preload"
		}
		h.hsts = []string{v}
	}
	for _, p := range [...]struct{ key, policy string }{
		{"Content-Security-Policy", c.csp},
		{"Content-Security-Policy-Report-Only", c.cspReportOnly},
	} {
		switch {
		case p.policy == "":
		case !strings.Contains(p.policy, securityNoncePlaceholder):
			add(p.key, p.policy)
		default:
			h.nonced = append(h.nonced, securityNonced{key: p.key, parts: strings.Split(p.policy, securityNoncePlaceholder)})
		}
	}
	return func(next http.Handler) http.Handler {
		return &securityHandler{headers: h, next: next}
	}
}

const securityNoncePlaceholder = "{nonce}"

// securityNonceLen is the length of a nonce: 16 random bytes in padded base64.
const securityNonceLen = 24

type securityHeader struct {
	key string
	// value is shared by every response: handlers replace header values (Set, Del), they do
	// not write into them, and Add appends past its full capacity into a new array.
	value []string
}

type securityNonced struct {
	key   string
	parts []string // the policy split around "{nonce}"
}

type securityHeaders struct {
	fixed  []securityHeader
	hsts   []string
	nonced []securityNonced
}

type securityHandler struct {
	headers *securityHeaders
	next    http.Handler
}

func (h *securityHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	for i := range h.headers.fixed {
		f := &h.headers.fixed[i]
		if _, set := hdr[f.key]; !set {
			hdr[f.key] = f.value
		}
	}
	if h.headers.hsts != nil && IsSecure(r) {
		if _, set := hdr["Strict-Transport-Security"]; !set {
			hdr["Strict-Transport-Security"] = h.headers.hsts
		}
	}
	if len(h.headers.nonced) > 0 {
		var s *reqctx.State
		s, w, r = reqctx.Ensure(w, r)
		h.headers.setCSP(hdr, s)
	}
	h.next.ServeHTTP(w, r)
}

// setCSP writes the nonced policies. The nonce is kept as a substring of the first policy
// value, so a request costs the value's string and its []string, nothing more.
func (sh *securityHeaders) setCSP(hdr http.Header, s *reqctx.State) {
	nonce := s.CSPNonce
	var fresh [securityNonceLen]byte
	if nonce == "" {
		var raw [16]byte
		_, _ = rand.Read(raw[:]) // never fails since Go 1.24
		base64.StdEncoding.Encode(fresh[:], raw[:])
	}
	for i := range sh.nonced {
		p := &sh.nonced[i]
		if _, set := hdr[p.key]; set {
			continue
		}
		var buf [512]byte
		b, at := buf[:0], -1
		for j, part := range p.parts {
			if j > 0 {
				if nonce != "" {
					b = append(b, nonce...)
				} else {
					if at < 0 {
						at = len(b)
					}
					b = append(b, fresh[:]...)
				}
			}
			b = append(b, part...)
		}
		v := string(b)
		if nonce == "" {
			nonce = v[at : at+securityNonceLen]
		}
		hdr[p.key] = []string{v}
	}
	if nonce == "" { // every policy header was already set: still give templates a nonce
		nonce = string(fresh[:])
	}
	s.CSPNonce = nonce
}

// RedirectOption configures HTTPSRedirect.
type RedirectOption func(*redirectConfig)

type redirectConfig struct {
	host   string
	exempt map[string]struct{}
}

// RedirectHost sends every redirect to this host (it may include a port) instead of the
// request's own Host.
func RedirectHost(host string) RedirectOption {
	return func(c *redirectConfig) { c.host = host }
}

// RedirectExemptPaths leaves requests for these exact paths alone, typically the health
// endpoints that kubelet probes over plain HTTP.
func RedirectExemptPaths(paths ...string) RedirectOption {
	return func(c *redirectConfig) {
		if c.exempt == nil {
			c.exempt = make(map[string]struct{}, len(paths))
		}
		for _, p := range paths {
			c.exempt[p] = struct{}{}
		}
	}
}

// HTTPSRedirect redirects requests that did not arrive over HTTPS (see [IsSecure]) to
// https://host/path?query, like Django's SECURE_SSL_REDIRECT.
//
//	handler := middleware.HTTPSRedirect(middleware.RedirectExemptPaths("/healthz", "/readyz"))(mux)
//
// The status is 308 Permanent Redirect for every method: unlike 301, it obliges the client to
// repeat a POST as a POST with its body instead of silently turning it into a GET, and every
// current browser and HTTP client follows it. The Host's port is dropped (HTTPS is assumed on
// 443); use [RedirectHost] otherwise. A request with a malformed Host gets a 400 problem rather
// than a redirect to wherever it points; put [AllowedHosts] before this middleware to restrict
// hosts.
func HTTPSRedirect(opts ...RedirectOption) func(http.Handler) http.Handler {
	var c redirectConfig
	for _, o := range opts {
		o(&c)
	}
	return func(next http.Handler) http.Handler { return &redirectHandler{cfg: c, next: next} }
}

type redirectHandler struct {
	cfg  redirectConfig
	next http.Handler
}

func (h *redirectHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if IsSecure(r) {
		h.next.ServeHTTP(w, r)
		return
	}
	if _, exempt := h.cfg.exempt[r.URL.Path]; exempt {
		h.next.ServeHTTP(w, r)
		return
	}
	host := h.cfg.host
	if host == "" {
		name, ok := hostsName(r.Host)
		if !ok {
			problem.Error(w, r, http.StatusBadRequest, "invalid host")
			return
		}
		host = name
		if strings.IndexByte(name, ':') >= 0 {
			host = "[" + name + "]"
		}
	}
	path := r.URL.EscapedPath()
	if !strings.HasPrefix(path, "/") {
		path = "/"
	}
	var target string
	if r.URL.RawQuery != "" {
		target = "https://" + host + path + "?" + r.URL.RawQuery
	} else {
		target = "https://" + host + path
	}
	w.Header()["Location"] = []string{target}
	w.WriteHeader(http.StatusPermanentRedirect)
}
