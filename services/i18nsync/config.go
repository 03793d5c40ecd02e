package i18nsync

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	kithttp "github.com/stackkit/stackkit/kit/http"
	"github.com/stackkit/stackkit/kit/i18n/transifex"
	"github.com/stackkit/stackkit/kit/i18n/transifex/txsync"
	"github.com/stackkit/stackkit/kit/queue"
	natsq "github.com/stackkit/stackkit/kit/queue/nats"
	"github.com/stackkit/stackkit/kit/registry"
	"github.com/stackkit/stackkit/kit/storage"
)

// Defaults of Config; see the README's environment table.
const (
	DefaultQueueURL      = natsq.DefaultURL // an embedded NATS server persisted in .kit/nats
	DefaultStorageURL    = storage.DefaultURL
	DefaultHTTPAddr      = kithttp.DefaultAddr
	DefaultWebhookPath   = "/webhooks/transifex"
	DefaultMaxDeliveries = 5
	DefaultDrainTimeout  = 60 * time.Second
	DefaultCheckTimeout  = 2 * time.Second
)

// DefaultBackoff is the retry schedule of a failed sync: Transifex outages and broken files are
// usually over in minutes, and each retry is a whole pull.
var DefaultBackoff = []time.Duration{30 * time.Second, 2 * time.Minute, 5 * time.Minute, 15 * time.Minute}

// Config is the service's configuration, read from the environment by [ConfigFromEnv].
type Config struct {
	QueueURL     string // KIT_QUEUE_URL: sync requests
	EventsURL    string // KIT_I18N_EVENTS_URL: catalogs-updated events (default KIT_QUEUE_URL)
	StorageURL   string // KIT_STORAGE_URL
	HTTPAddr     string // KIT_HTTP_ADDR
	LogLevel     slog.Level
	TxConfig     string // KIT_TX_CONFIG: path of .tx/config ("" finds it from the working directory)
	RestHostname string // KIT_TX_REST_HOSTNAME: the API's address (default from ~/.transifexrc or Transifex's)

	WebhookSecret string        // KIT_TX_WEBHOOK_SECRET: the webhook endpoint is served when set
	WebhookURL    string        // KIT_TX_WEBHOOK_URL: the callback URL as set in Transifex (optional pin)
	WebhookPath   string        // KIT_TX_WEBHOOK_PATH
	WebhookWindow time.Duration // KIT_TX_WEBHOOK_WINDOW
	WebhookMaxAge time.Duration // KIT_TX_WEBHOOK_MAX_AGE

	Prefix        string          // KIT_I18N_PREFIX
	Subject       string          // KIT_I18N_SUBJECT
	EventSubject  string          // KIT_I18N_EVENT_SUBJECT
	Consumer      string          // KIT_I18N_CONSUMER
	Mode          string          // KIT_I18N_MODE
	Keep          int             // KIT_I18N_KEEP
	Interval      time.Duration   // KIT_I18N_INTERVAL: a sync request this often (0: none)
	MaxDeliveries int             // KIT_I18N_MAX_DELIVERIES
	Backoff       []time.Duration // KIT_I18N_BACKOFF
	SyncTimeout   time.Duration   // KIT_I18N_SYNC_TIMEOUT
	DrainTimeout  time.Duration   // KIT_I18N_DRAIN_TIMEOUT
	CheckTimeout  time.Duration   // KIT_I18N_CHECK_TIMEOUT
}

// known lists the KIT_I18N_* and KIT_TX_* variables the service reads; any other is a typo and
// fails the start.
var known = []string{
	"KIT_I18N_EVENTS_URL", "KIT_I18N_PREFIX", "KIT_I18N_SUBJECT", "KIT_I18N_EVENT_SUBJECT", "KIT_I18N_CONSUMER",
	"KIT_I18N_MODE", "KIT_I18N_KEEP", "KIT_I18N_INTERVAL", "KIT_I18N_MAX_DELIVERIES", "KIT_I18N_BACKOFF",
	"KIT_I18N_SYNC_TIMEOUT", "KIT_I18N_DRAIN_TIMEOUT", "KIT_I18N_CHECK_TIMEOUT",
	"KIT_TX_CONFIG", "KIT_TX_REST_HOSTNAME", "KIT_TX_WEBHOOK_SECRET", "KIT_TX_WEBHOOK_URL", "KIT_TX_WEBHOOK_PATH",
	"KIT_TX_WEBHOOK_WINDOW", "KIT_TX_WEBHOOK_MAX_AGE",
}

// ErrConfig is wrapped by every configuration error: the process exits with ExitConfig.
var ErrConfig = errors.New("configuration error")

// ConfigFromEnv reads the configuration from environ ("NAME=value" pairs, as os.Environ returns).
// Every bad value is reported, each naming its variable; values that may hold secrets (URLs, the
// webhook secret) are never quoted. The Transifex token is read later, by
// transifex.ResolveCredentials (KIT_TRANSIFEX_TOKEN, TX_TOKEN, ~/.transifexrc).
func ConfigFromEnv(environ []string) (Config, error) {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	r := envReader{env: env}
	c := Config{
		QueueURL:      r.str("KIT_QUEUE_URL", DefaultQueueURL),
		StorageURL:    r.str("KIT_STORAGE_URL", DefaultStorageURL),
		HTTPAddr:      r.str("KIT_HTTP_ADDR", DefaultHTTPAddr),
		TxConfig:      r.str("KIT_TX_CONFIG", ""),
		RestHostname:  r.str("KIT_TX_REST_HOSTNAME", ""),
		WebhookSecret: r.str("KIT_TX_WEBHOOK_SECRET", ""),
		WebhookURL:    r.str("KIT_TX_WEBHOOK_URL", ""),
		WebhookPath:   r.str("KIT_TX_WEBHOOK_PATH", DefaultWebhookPath),
		WebhookWindow: r.duration("KIT_TX_WEBHOOK_WINDOW", txsync.DefaultWebhookWindow, time.Second),
		WebhookMaxAge: r.duration("KIT_TX_WEBHOOK_MAX_AGE", txsync.DefaultWebhookMaxAge, time.Second),
		Prefix:        r.str("KIT_I18N_PREFIX", txsync.DefaultPrefix),
		Subject:       r.str("KIT_I18N_SUBJECT", txsync.DefaultRequestSubject),
		EventSubject:  r.str("KIT_I18N_EVENT_SUBJECT", txsync.DefaultEventSubject),
		Consumer:      r.str("KIT_I18N_CONSUMER", txsync.DefaultConsumer),
		Mode:          r.str("KIT_I18N_MODE", "default"),
		Keep:          r.int("KIT_I18N_KEEP", txsync.DefaultKeep, 1, 1000),
		Interval:      r.duration("KIT_I18N_INTERVAL", 0, 0),
		MaxDeliveries: r.int("KIT_I18N_MAX_DELIVERIES", DefaultMaxDeliveries, 1, 1000),
		Backoff:       r.durations("KIT_I18N_BACKOFF", DefaultBackoff),
		SyncTimeout:   r.duration("KIT_I18N_SYNC_TIMEOUT", txsync.DefaultTimeout, time.Second),
		DrainTimeout:  r.duration("KIT_I18N_DRAIN_TIMEOUT", DefaultDrainTimeout, 0),
		CheckTimeout:  r.duration("KIT_I18N_CHECK_TIMEOUT", DefaultCheckTimeout, 10*time.Millisecond),
	}
	c.EventsURL = r.str("KIT_I18N_EVENTS_URL", c.QueueURL)
	if v := r.str("KIT_LOG_LEVEL", "info"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			r.fail("KIT_LOG_LEVEL", fmt.Sprintf("%q: want debug, info, warn or error", v))
		}
	}
	if !transifex.ValidMode(c.Mode) {
		r.fail("KIT_I18N_MODE", fmt.Sprintf("%q: want one of %s", c.Mode, strings.Join(transifex.Modes, ", ")))
	}
	for name, s := range map[string]string{"KIT_I18N_SUBJECT": c.Subject, "KIT_I18N_EVENT_SUBJECT": c.EventSubject} {
		if err := queue.ValidateSubject(s, false); err != nil {
			r.fail(name, err.Error())
		}
	}
	if c.Subject == c.EventSubject {
		r.fail("KIT_I18N_EVENT_SUBJECT", "is KIT_I18N_SUBJECT: requests and announcements need subjects of their own")
	}
	if err := queue.ValidateName(c.Consumer); err != nil {
		r.fail("KIT_I18N_CONSUMER", err.Error())
	}
	if !strings.HasPrefix(c.WebhookPath, "/") || strings.ContainsAny(c.WebhookPath, " {}") {
		r.fail("KIT_TX_WEBHOOK_PATH", fmt.Sprintf("%q: want an absolute path such as %s", c.WebhookPath, DefaultWebhookPath))
	}
	if c.WebhookSecret == "" && (env["KIT_TX_WEBHOOK_URL"] != "") {
		r.fail("KIT_TX_WEBHOOK_URL", "is set without KIT_TX_WEBHOOK_SECRET: the webhook endpoint needs the secret")
	}
	if c.WebhookSecret != "" && len(c.WebhookSecret) < 16 {
		r.fail("KIT_TX_WEBHOOK_SECRET", "is shorter than 16 characters")
	}
	if c.Interval > 0 && c.Interval < time.Minute {
		r.fail("KIT_I18N_INTERVAL", fmt.Sprintf("%s: want 0 (off) or at least 1m", c.Interval))
	}
	for k := range env {
		if (strings.HasPrefix(k, "KIT_I18N_") || strings.HasPrefix(k, "KIT_TX_")) && !slices.Contains(known, k) {
			r.fail(k, "unknown variable (known: "+strings.Join(known, ", ")+")")
		}
	}
	if len(r.errs) > 0 {
		slices.SortFunc(r.errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return c, fmt.Errorf("%w: %w", ErrConfig, errors.Join(r.errs...))
	}
	return c, nil
}

// envReader reads variables, collecting every bad value.
type envReader struct {
	env  map[string]string
	errs []error
}

func (r *envReader) fail(name, reason string) {
	r.errs = append(r.errs, fmt.Errorf("%s: %s", name, reason))
}

func (r *envReader) str(name, def string) string {
	if v := strings.TrimSpace(r.env[name]); v != "" {
		return v
	}
	return def
}

func (r *envReader) int(name string, def, lo, hi int) int {
	v := strings.TrimSpace(r.env[name])
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(name, fmt.Sprintf("%q: want a whole number from %d to %d", v, lo, hi))
		return def
	}
	return n
}

func (r *envReader) duration(name string, def, lo time.Duration) time.Duration {
	v := strings.TrimSpace(r.env[name])
	if v == "" {
		return def
	}
	d, err := registry.ParseDuration(v)
	if err != nil {
		r.fail(name, fmt.Sprintf("%q: %v", v, err))
		return def
	}
	if d < lo {
		r.fail(name, fmt.Sprintf("%q: must be at least %s", v, lo))
		return def
	}
	return d
}

func (r *envReader) durations(name string, def []time.Duration) []time.Duration {
	v := strings.TrimSpace(r.env[name])
	if v == "" {
		return slices.Clone(def)
	}
	var out []time.Duration
	for part := range strings.SplitSeq(v, ",") {
		d, err := registry.ParseDuration(strings.TrimSpace(part))
		if err != nil {
			r.fail(name, fmt.Sprintf("%q: %q: %v (want a comma-separated list such as 30s,2m,5m)", v, strings.TrimSpace(part), err))
			return slices.Clone(def)
		}
		out = append(out, d)
	}
	return out
}
