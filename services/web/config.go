package web

import (
	"log/slog"
	"strings"
	"time"

	"github.com/stackkit/stackkit/kit/db"
	kithttp "github.com/stackkit/stackkit/kit/http"
	"github.com/stackkit/stackkit/services/internal/servicekit"
)

// Defaults of Config; see the README's environment table.
const (
	DefaultDatabaseURL = db.DefaultURL // the default of `web migrate`, so `web migrate up && web serve` meet
	DefaultHTTPAddr    = kithttp.DefaultAddr
	// Browsers and API clients reach the service through a Service or an ingress: it keeps
	// serving for a while after SIGTERM, answering /readyz 503, so they stop routing to it first.
	DefaultHTTPDrainDelay      = 5 * time.Second
	DefaultHTTPShutdownTimeout = 10 * time.Second
	DefaultCheckTimeout        = 2 * time.Second
)

// Config is the service's configuration, read from the environment by [ConfigFromEnv].
type Config struct {
	DatabaseURL         string        // KIT_DATABASE_URL
	HTTPAddr            string        // KIT_HTTP_ADDR
	HTTPDrainDelay      time.Duration // KIT_HTTP_DRAIN_DELAY
	HTTPShutdownTimeout time.Duration // KIT_HTTP_SHUTDOWN_TIMEOUT
	LogLevel            slog.Level    // KIT_LOG_LEVEL
	AllowedHosts        []string      // KIT_WEB_ALLOWED_HOSTS, comma-separated
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = servicekit.ErrConfig

// ConfigFromEnv reads the configuration from environ ("NAME=value" pairs, as os.Environ returns).
// Every bad value is reported, each naming its variable; URLs are never quoted in errors.
func ConfigFromEnv(environ []string) (Config, error) {
	r := servicekit.ParseEnv(environ)
	web := r.HTTP(servicekit.HTTP{Addr: DefaultHTTPAddr, DrainDelay: DefaultHTTPDrainDelay, ShutdownTimeout: DefaultHTTPShutdownTimeout})
	c := Config{
		DatabaseURL:         r.String("KIT_DATABASE_URL", DefaultDatabaseURL),
		HTTPAddr:            web.Addr,
		HTTPDrainDelay:      web.DrainDelay,
		HTTPShutdownTimeout: web.ShutdownTimeout,
		LogLevel:            r.Level("KIT_LOG_LEVEL", "info"),
	}
	for h := range strings.SplitSeq(r.String("KIT_WEB_ALLOWED_HOSTS", ""), ",") {
		if h = strings.TrimSpace(h); h != "" {
			c.AllowedHosts = append(c.AllowedHosts, h)
		}
	}
	return c, r.Err()
}
