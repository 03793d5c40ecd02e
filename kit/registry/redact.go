package registry

import (
	"net/url"
	"slices"
	"strings"
)

// redacted replaces secrets; it is what net/url's URL.Redacted uses for passwords.
const redacted = "xxxxx"

// IsSecretParam reports whether a query parameter of that name carries a secret and must be
// redacted: password, token, secret, key, and their common spellings (api_key, access_token,
// X-Amz-Signature, sslpassword, ...). The match is case-insensitive and errs on the side of hiding.
func IsSecretParam(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "key", "pass", "pwd", "auth", "sig", "credential", "credentials":
		return true
	}
	for _, s := range []string{"password", "passwd", "secret", "token", "signature", "apikey"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return strings.HasSuffix(n, "_key") || strings.HasSuffix(n, "-key") || strings.HasSuffix(n, ".key")
}

// Redact returns rawURL fit for errors and logs: the userinfo password and the values of secret
// query parameters (see [IsSecretParam]) are replaced by "xxxxx". A URL that cannot be parsed is
// reduced to its scheme, since there is no telling where its secrets are.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		if i := strings.Index(rawURL, "://"); i > 0 && validScheme(rawURL[:i]) {
			return rawURL[:i] + "://" + redacted
		}
		return redacted
	}
	// A URL with nothing to hide is shown as written (console:// stays console://).
	if red := RedactURL(u); red != u.String() {
		return red
	}
	return rawURL
}

// RedactURL is [Redact] for a parsed URL. It does not modify u.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	r := *u
	if _, has := r.User.Password(); has {
		r.User = url.UserPassword(r.User.Username(), redacted)
	} else if _, ok := tokenUser(u); ok {
		r.User = url.User(redacted)
	}
	if r.RawQuery != "" {
		r.RawQuery = redactQuery(r.RawQuery)
	}
	// An opaque URL (scheme:opaque) may hold anything; keep only its scheme.
	if r.Opaque != "" {
		r.Opaque = redacted
	}
	return r.String()
}

// redactQuery rewrites the secret values in a raw query without re-encoding the rest, so the
// redacted URL reads like the original.
func redactQuery(raw string) string {
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		name, _, hasValue := strings.Cut(p, "=")
		if dec, err := url.QueryUnescape(name); err == nil {
			name = dec
		}
		if hasValue && IsSecretParam(name) {
			parts[i] = p[:strings.IndexByte(p, '=')+1] + redacted
		}
	}
	return strings.Join(parts, "&")
}

// secrets returns the secret strings carried by u: its password and the values of its secret
// query parameters, both decoded and in the encoded forms they take in the URL's text.
func secrets(u *url.URL) []string {
	var out []string
	add := func(values ...string) {
		for _, s := range values {
			if s != "" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	if p, ok := u.User.Password(); ok {
		_, encoded, _ := strings.Cut(u.User.String(), ":")
		add(p, encoded, url.QueryEscape(p), url.PathEscape(p))
	} else if name, ok := tokenUser(u); ok {
		add(name, u.User.String())
	}
	for _, part := range strings.Split(u.RawQuery, "&") {
		name, value, ok := strings.Cut(part, "=")
		if dec, err := url.QueryUnescape(name); err == nil {
			name = dec
		}
		if !ok || !IsSecretParam(name) {
			continue
		}
		add(value)
		if dec, err := url.QueryUnescape(value); err == nil {
			add(dec, url.PathEscape(dec))
		}
	}
	// Longest first, so a secret that contains another is replaced whole.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// Scrub returns err with every secret of u removed from its message. Drivers like to quote the
// DSN they were given; Scrub makes that safe. The result wraps err, so errors.Is and errors.As
// still work. A nil err gives nil.
func Scrub(err error, u *url.URL) error {
	if err == nil || u == nil {
		return err
	}
	msg := err.Error()
	clean := msg
	for _, s := range secrets(u) {
		clean = strings.ReplaceAll(clean, s, redacted)
	}
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean, err: err}
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// tokenUser returns the user name of u when, given without a password, it is a credential
// rather than a name: NATS reads nats://TOKEN@host as a token. Elsewhere a lone user name
// (postgres://app@db) is shown, as it helps to tell connections apart.
func tokenUser(u *url.URL) (string, bool) {
	if u.User == nil {
		return "", false
	}
	if _, has := u.User.Password(); has {
		return "", false
	}
	name := u.User.Username()
	return name, name != "" && (u.Scheme == "nats" || strings.HasPrefix(u.Scheme, "nats+"))
}
