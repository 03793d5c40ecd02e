package middleware

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/stackkit/stackkit/kit/http/problem"
)

// CrossOriginOption configures CrossOriginProtection.
type CrossOriginOption func(*crossOriginConfig)

type crossOriginConfig struct {
	trusted []string
	bypass  []string
}

// TrustedOrigins allows state-changing requests from these origins ("https://app.example.com",
// scheme://host[:port], no path), for example a separate front end that posts to this API.
// Scheme and host are lowercased and a default port dropped, so that they compare equal to the
// Origin header a browser sends. Wildcards are not supported.
func TrustedOrigins(origins ...string) CrossOriginOption {
	return func(c *crossOriginConfig) { c.trusted = append(c.trusted, origins...) }
}

// BypassPatterns exempts requests matching these http.ServeMux patterns, such as webhooks that
// other sites post to ("POST /webhooks/"). Only a direct match counts: a request ServeMux would
// redirect to the pattern (a cleaned path, an added slash) is still checked.
func BypassPatterns(patterns ...string) CrossOriginOption {
	return func(c *crossOriginConfig) { c.bypass = append(c.bypass, patterns...) }
}

// CrossOriginProtection rejects cross-origin state-changing requests (CSRF), using net/http's
// http.CrossOriginProtection: a request whose method is not GET, HEAD or OPTIONS passes only if
// the browser marks it same-origin in Sec-Fetch-Site or, for browsers without Sec-Fetch-Site,
// its Origin matches the Host header. Requests with neither header come from non-browser
// clients (curl, other services) and pass, since they carry no ambient browser credentials.
// Rejected requests get a 403 problem response.
//
//	protect, err := middleware.CrossOriginProtection(
//		middleware.TrustedOrigins("https://app.example.com"),
//		middleware.BypassPatterns("POST /webhooks/"))
//	if err != nil {
//		return err
//	}
//	handler = protect(mux)
//
// It returns an error for a malformed trusted origin or an invalid or conflicting pattern. It
// replaces CSRF tokens for browsers since 2023; GET handlers must still not change state.
func CrossOriginProtection(opts ...CrossOriginOption) (func(http.Handler) http.Handler, error) {
	var cfg crossOriginConfig
	for _, opt := range opts {
		opt(&cfg)
	}
	cop := http.NewCrossOriginProtection()
	for _, o := range cfg.trusted {
		origin, err := corsNormalizeOrigin(o, false)
		if err != nil {
			return nil, fmt.Errorf("middleware: trusted origin: %w", err)
		}
		if err := cop.AddTrustedOrigin(origin); err != nil {
			return nil, fmt.Errorf("middleware: trusted origin: %w", err)
		}
	}
	for _, p := range cfg.bypass {
		if err := crossOriginAddBypass(cop, p); err != nil {
			return nil, err
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(crossOriginDeny))
	return cop.Handler, nil
}

func crossOriginDeny(w http.ResponseWriter, r *http.Request) {
	problem.Error(w, r, http.StatusForbidden, "cross-origin request rejected")
}

// crossOriginAddBypass turns AddInsecureBypassPattern's panic on a bad pattern into an error.
func crossOriginAddBypass(cop *http.CrossOriginProtection, pattern string) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("middleware: bypass pattern %q: %v", pattern, v)
		}
	}()
	if pattern == "" {
		return errors.New("middleware: empty bypass pattern")
	}
	cop.AddInsecureBypassPattern(pattern)
	return nil
}
