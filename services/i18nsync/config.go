package i18nsync

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	kithttp "github.com/stackkit/stackkit/kit/http"
	"github.com/stackkit/stackkit/kit/i18n/transifex"
	"github.com/stackkit/stackkit/kit/i18n/transifex/txsync"
	"github.com/stackkit/stackkit/kit/queue"
	natsq "github.com/stackkit/stackkit/kit/queue/nats"
	"github.com/stackkit/stackkit/kit/storage"
	"github.com/stackkit/stackkit/services/internal/servicekit"
)

// Defaults of Config; see the README's environment table.
const (
	DefaultQueueURL   = natsq.DefaultURL // an embedded NATS server persisted in .kit/nats
	DefaultStorageURL = storage.DefaultURL
	DefaultHTTPAddr   = kithttp.DefaultAddr
	// With the webhook served, Transifex's calls come through a Service or an ingress: after
	// SIGTERM the port keeps serving for this long, so that they stop routing to the pod first.
	// Without it only probes and Prometheus reach the port, and no delay is needed.
	DefaultHTTPDrainDelay      = kithttp.DefaultDrainDelay
	DefaultHTTPShutdownTimeout = 5 * time.Second
	DefaultWebhookPath         = "/webhooks/transifex"
	DefaultMaxDeliveries       = 5
	DefaultDrainTimeout        = 60 * time.Second
	DefaultCheckTimeout        = 2 * time.Second
)

// DefaultBackoff is the retry schedule of a failed sync: Transifex outages and broken files are
// usually over in minutes, and each retry is a whole pull.
var DefaultBackoff = []time.Duration{30 * time.Second, 2 * time.Minute, 5 * time.Minute, 15 * time.Minute}

// Config is the service's configuration, read from the environment by [ConfigFromEnv].
type Config struct {
	QueueURL   string // KIT_QUEUE_URL: sync requests
	EventsURL  string // KIT_I18N_EVENTS_URL: catalogs-updated events (default KIT_QUEUE_URL)
	StorageURL string // KIT_STORAGE_URL
	HTTPAddr   string // KIT_HTTP_ADDR
	// HTTPDrainDelay is KIT_HTTP_DRAIN_DELAY: DefaultHTTPDrainDelay with the webhook, 0 without.
	HTTPDrainDelay      time.Duration
	HTTPShutdownTimeout time.Duration // KIT_HTTP_SHUTDOWN_TIMEOUT
	LogLevel            slog.Level
	TxConfig            string // KIT_TX_CONFIG: path of .tx/config ("" finds it from the working directory)
	RestHostname        string // KIT_TX_REST_HOSTNAME: the API's address (default from ~/.transifexrc or Transifex's)

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
var ErrConfig = servicekit.ErrConfig

// ConfigFromEnv reads the configuration from environ ("NAME=value" pairs, as os.Environ returns).
// Every bad value is reported, each naming its variable; values that may hold secrets (URLs, the
// webhook secret) are never quoted. The Transifex token is read later, by
// transifex.ResolveCredentials (KIT_TRANSIFEX_TOKEN, TX_TOKEN, ~/.transifexrc).
func ConfigFromEnv(environ []string) (Config, error) {
	r := servicekit.ParseEnv(environ)
	c := Config{
		QueueURL:      r.String("KIT_QUEUE_URL", DefaultQueueURL),
		StorageURL:    r.String("KIT_STORAGE_URL", DefaultStorageURL),
		TxConfig:      r.String("KIT_TX_CONFIG", ""),
		RestHostname:  r.String("KIT_TX_REST_HOSTNAME", ""),
		WebhookSecret: r.String("KIT_TX_WEBHOOK_SECRET", ""),
		WebhookURL:    r.String("KIT_TX_WEBHOOK_URL", ""),
		WebhookPath:   r.String("KIT_TX_WEBHOOK_PATH", DefaultWebhookPath),
		WebhookWindow: r.Duration("KIT_TX_WEBHOOK_WINDOW", txsync.DefaultWebhookWindow, time.Second),
		WebhookMaxAge: r.Duration("KIT_TX_WEBHOOK_MAX_AGE", txsync.DefaultWebhookMaxAge, time.Second),
		Prefix:        r.String("KIT_I18N_PREFIX", txsync.DefaultPrefix),
		Subject:       r.String("KIT_I18N_SUBJECT", txsync.DefaultRequestSubject),
		EventSubject:  r.String("KIT_I18N_EVENT_SUBJECT", txsync.DefaultEventSubject),
		Consumer:      r.String("KIT_I18N_CONSUMER", txsync.DefaultConsumer),
		Mode:          r.String("KIT_I18N_MODE", "default"),
		Keep:          r.Int("KIT_I18N_KEEP", txsync.DefaultKeep, 1, 1000),
		Interval:      r.Duration("KIT_I18N_INTERVAL", 0, 0),
		MaxDeliveries: r.Int("KIT_I18N_MAX_DELIVERIES", DefaultMaxDeliveries, 1, 1000),
		Backoff:       r.Durations("KIT_I18N_BACKOFF", DefaultBackoff),
		SyncTimeout:   r.Duration("KIT_I18N_SYNC_TIMEOUT", txsync.DefaultTimeout, time.Second),
		DrainTimeout:  r.Duration("KIT_I18N_DRAIN_TIMEOUT", DefaultDrainTimeout, 0),
		CheckTimeout:  r.Duration("KIT_I18N_CHECK_TIMEOUT", DefaultCheckTimeout, 10*time.Millisecond),
	}
	web := servicekit.HTTP{Addr: DefaultHTTPAddr, ShutdownTimeout: DefaultHTTPShutdownTimeout}
	if c.WebhookSecret != "" {
		web.DrainDelay = DefaultHTTPDrainDelay
	}
	web = r.HTTP(web)
	c.HTTPAddr, c.HTTPDrainDelay, c.HTTPShutdownTimeout = web.Addr, web.DrainDelay, web.ShutdownTimeout
	c.EventsURL = r.String("KIT_I18N_EVENTS_URL", c.QueueURL)
	c.LogLevel = r.Level("KIT_LOG_LEVEL", "info")
	if !transifex.ValidMode(c.Mode) {
		r.Fail("KIT_I18N_MODE", fmt.Sprintf("%q: want one of %s", c.Mode, strings.Join(transifex.Modes, ", ")))
	}
	for name, s := range map[string]string{"KIT_I18N_SUBJECT": c.Subject, "KIT_I18N_EVENT_SUBJECT": c.EventSubject} {
		if err := queue.ValidateSubject(s, false); err != nil {
			r.Fail(name, err.Error())
		}
	}
	if c.Subject == c.EventSubject {
		r.Fail("KIT_I18N_EVENT_SUBJECT", "is KIT_I18N_SUBJECT: requests and announcements need subjects of their own")
	}
	if err := queue.ValidateName(c.Consumer); err != nil {
		r.Fail("KIT_I18N_CONSUMER", err.Error())
	}
	if !strings.HasPrefix(c.WebhookPath, "/") || strings.ContainsAny(c.WebhookPath, " {}") {
		r.Fail("KIT_TX_WEBHOOK_PATH", fmt.Sprintf("%q: want an absolute path such as %s", c.WebhookPath, DefaultWebhookPath))
	}
	if c.WebhookSecret == "" && (r.Get("KIT_TX_WEBHOOK_URL") != "") {
		r.Fail("KIT_TX_WEBHOOK_URL", "is set without KIT_TX_WEBHOOK_SECRET: the webhook endpoint needs the secret")
	}
	if c.WebhookSecret != "" && len(c.WebhookSecret) < 16 {
		r.Fail("KIT_TX_WEBHOOK_SECRET", "is shorter than 16 characters")
	}
	if c.Interval > 0 && c.Interval < time.Minute {
		r.Fail("KIT_I18N_INTERVAL", fmt.Sprintf("%s: want 0 (off) or at least 1m", c.Interval))
	}
	r.RejectUnknown(known, "KIT_I18N_", "KIT_TX_")
	return c, r.Err()
}
