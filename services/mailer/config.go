package mailer

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	kithttp "github.com/stackkit/stackkit/kit/http"
	"github.com/stackkit/stackkit/kit/mail"
	natsq "github.com/stackkit/stackkit/kit/queue/nats"
	"github.com/stackkit/stackkit/kit/registry"
)

// Defaults of Config; see the README's environment table.
const (
	DefaultQueueURL      = natsq.DefaultURL // an embedded NATS server persisted in .kit/nats
	DefaultMailURL       = mail.DefaultURL  // console://: print, do not send
	DefaultHTTPAddr      = kithttp.DefaultAddr
	DefaultConcurrency   = 4 // kit/mail's default max_conns: one SMTP connection per send in flight
	DefaultMaxDeliveries = 10
	DefaultAckWait       = 30 * time.Second
	DefaultSendTimeout   = 25 * time.Second
	DefaultDrainTimeout  = 30 * time.Second
	DefaultCheckTimeout  = 2 * time.Second
)

// DefaultBackoff is the retry schedule of a message whose send failed temporarily: SMTP servers
// that greylist ask for a retry after minutes, and an outage of the relay should not burn the
// deliveries in seconds.
var DefaultBackoff = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute}

// Config is the service's configuration, read from the environment by [ConfigFromEnv].
type Config struct {
	QueueURL      string          // KIT_QUEUE_URL
	MailURL       string          // KIT_MAIL_URL
	HTTPAddr      string          // KIT_HTTP_ADDR
	LogLevel      slog.Level      // KIT_LOG_LEVEL
	Subject       string          // KIT_MAIL_SUBJECT
	Consumer      string          // KIT_MAIL_CONSUMER
	Concurrency   int             // KIT_MAIL_CONCURRENCY
	MaxDeliveries int             // KIT_MAIL_MAX_DELIVERIES
	Backoff       []time.Duration // KIT_MAIL_BACKOFF
	AckWait       time.Duration   // KIT_MAIL_ACK_WAIT
	SendTimeout   time.Duration   // KIT_MAIL_SEND_TIMEOUT
	DrainTimeout  time.Duration   // KIT_MAIL_DRAIN_TIMEOUT
	CheckTimeout  time.Duration   // KIT_MAIL_CHECK_TIMEOUT
}

// mailVars are the KIT_MAIL_* variables the service reads; any other KIT_MAIL_* variable is a
// typo and fails the start.
var mailVars = []string{
	"KIT_MAIL_URL", "KIT_MAIL_SUBJECT", "KIT_MAIL_CONSUMER", "KIT_MAIL_CONCURRENCY",
	"KIT_MAIL_MAX_DELIVERIES", "KIT_MAIL_BACKOFF", "KIT_MAIL_ACK_WAIT", "KIT_MAIL_SEND_TIMEOUT",
	"KIT_MAIL_DRAIN_TIMEOUT", "KIT_MAIL_CHECK_TIMEOUT",
}

// ErrConfig is wrapped by every configuration error: the process exits with ExitConfig.
var ErrConfig = errors.New("configuration error")

// ConfigFromEnv reads the configuration from environ ("NAME=value" pairs, as os.Environ returns).
// Every bad value is reported, each naming its variable; values that may hold secrets (the URLs)
// are never quoted in errors.
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
		MailURL:       r.str("KIT_MAIL_URL", DefaultMailURL),
		HTTPAddr:      r.str("KIT_HTTP_ADDR", DefaultHTTPAddr),
		Subject:       r.str("KIT_MAIL_SUBJECT", mail.DefaultSubject),
		Consumer:      r.str("KIT_MAIL_CONSUMER", mail.DefaultConsumer),
		Concurrency:   r.int("KIT_MAIL_CONCURRENCY", DefaultConcurrency, 1, 1000),
		MaxDeliveries: r.int("KIT_MAIL_MAX_DELIVERIES", DefaultMaxDeliveries, 1, 1000),
		Backoff:       r.durations("KIT_MAIL_BACKOFF", DefaultBackoff),
		AckWait:       r.duration("KIT_MAIL_ACK_WAIT", DefaultAckWait, 100*time.Millisecond),
		SendTimeout:   r.duration("KIT_MAIL_SEND_TIMEOUT", DefaultSendTimeout, 100*time.Millisecond),
		DrainTimeout:  r.duration("KIT_MAIL_DRAIN_TIMEOUT", DefaultDrainTimeout, 0),
		CheckTimeout:  r.duration("KIT_MAIL_CHECK_TIMEOUT", DefaultCheckTimeout, 10*time.Millisecond),
	}
	if v := r.str("KIT_LOG_LEVEL", "info"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			r.fail("KIT_LOG_LEVEL", fmt.Sprintf("%q: want debug, info, warn or error", v))
		}
	}
	if strings.HasPrefix(strings.ToLower(c.MailURL), "queue+") {
		r.fail("KIT_MAIL_URL", "is a queued mailer (queue+...): the mailer service sends the queue's messages, so it needs a sending backend (smtp://, smtps://, console://, file://, memory://)")
	}
	if c.SendTimeout > c.DrainTimeout {
		r.fail("KIT_MAIL_SEND_TIMEOUT", fmt.Sprintf("%s is longer than KIT_MAIL_DRAIN_TIMEOUT (%s): a send in flight at SIGTERM could be cut off and sent again later", c.SendTimeout, c.DrainTimeout))
	}
	for k := range env {
		if strings.HasPrefix(k, "KIT_MAIL_") && !slices.Contains(mailVars, k) {
			r.fail(k, "unknown variable (known: "+strings.Join(mailVars, ", ")+")")
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
			r.fail(name, fmt.Sprintf("%q: %q: %v (want a comma-separated list such as 5s,30s,2m)", v, strings.TrimSpace(part), err))
			return slices.Clone(def)
		}
		out = append(out, d)
	}
	return out
}
