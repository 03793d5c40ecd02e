package servicekit

import (
	"net/url"

	"github.com/stackkit/stackkit/kit/registry"
)

// Redact returns raw for a log line with its secrets hidden: a password and the secret query
// options (as registry.Redact), and also a lone user name, which NATS reads as a token. A URL
// with nothing to hide is returned as written (console:// stays console://).
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return registry.Redact(raw)
	}
	if u.User != nil {
		if _, ok := u.User.Password(); !ok && u.User.Username() != "" {
			u.User = url.User("xxxxx")
		}
		return registry.RedactURL(u)
	}
	for k := range u.Query() {
		if registry.IsSecretParam(k) {
			return registry.RedactURL(u)
		}
	}
	return raw
}
