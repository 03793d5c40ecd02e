package mailer

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	kithttp "github.com/stackkit/stackkit/kit/http"
	"github.com/stackkit/stackkit/kit/mail"
	natsq "github.com/stackkit/stackkit/kit/queue/nats"
	"github.com/stackkit/stackkit/services/internal/servicekit"
)

// Defaults of Config; see the README's environment table.
const (
	DefaultQueueURL = natsq.DefaultURL // an embedded NATS server persisted in .kit/nats
	DefaultMailURL  = mail.DefaultURL  // console://: print, do not send
	DefaultHTTPAddr = kithttp.DefaultAddr
	// Nothing but probes and Prometheus reaches the HTTP port, and it keeps serving while the
	// sends in flight finish: no drain delay is needed beyond that.
	DefaultHTTPDrainDelay      time.Duration = 0
	DefaultHTTPShutdownTimeout               = 5 * time.Second // probes and scrapes are short
	DefaultConcurrency                       = 4               // kit/mail's default max_conns: one SMTP connection per send in flight
	DefaultMaxDeliveries                     = 10
	DefaultAckWait                           = 30 * time.Second
	DefaultSendTimeout                       = 25 * time.Second
	DefaultDrainTimeout                      = 30 * time.Second
	DefaultCheckTimeout                      = 2 * time.Second
)

// DefaultBackoff is the retry schedule of a message whose send failed temporarily: SMTP servers
// that greylist ask for a retry after minutes, and an outage of the relay should not burn the
// deliveries in seconds.
var DefaultBackoff = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute}

// Config is the service's configuration, read from the environment by [ConfigFromEnv].
type Config struct {
	QueueURL            string          // KIT_QUEUE_URL
	MailURL             string          // KIT_MAIL_URL
	HTTPAddr            string          // KIT_HTTP_ADDR
	HTTPDrainDelay      time.Duration   // KIT_HTTP_DRAIN_DELAY
	HTTPShutdownTimeout time.Duration   // KIT_HTTP_SHUTDOWN_TIMEOUT
	LogLevel            slog.Level      // KIT_LOG_LEVEL
	Subject             string          // KIT_MAIL_SUBJECT
	Consumer            string          // KIT_MAIL_CONSUMER
	Concurrency         int             // KIT_MAIL_CONCURRENCY
	MaxDeliveries       int             // KIT_MAIL_MAX_DELIVERIES
	Backoff             []time.Duration // KIT_MAIL_BACKOFF
	AckWait             time.Duration   // KIT_MAIL_ACK_WAIT
	SendTimeout         time.Duration   // KIT_MAIL_SEND_TIMEOUT
	DrainTimeout        time.Duration   // KIT_MAIL_DRAIN_TIMEOUT
	CheckTimeout        time.Duration   // KIT_MAIL_CHECK_TIMEOUT
}

// mailVars are the KIT_MAIL_* variables the service reads; any other KIT_MAIL_* variable is a
// typo and fails the start.
var mailVars = []string{
	"KIT_MAIL_URL", "KIT_MAIL_SUBJECT", "KIT_MAIL_CONSUMER", "KIT_MAIL_CONCURRENCY",
	"KIT_MAIL_MAX_DELIVERIES", "KIT_MAIL_BACKOFF", "KIT_MAIL_ACK_WAIT", "KIT_MAIL_SEND_TIMEOUT",
	"KIT_MAIL_DRAIN_TIMEOUT", "KIT_MAIL_CHECK_TIMEOUT",
}

// ErrConfig is wrapped by every configuration error: the process exits with ExitConfig.
var ErrConfig = servicekit.ErrConfig

// ConfigFromEnv reads the configuration from environ ("NAME=value" pairs, as os.Environ returns).
// Every bad value is reported, each naming its variable; values that may hold secrets (the URLs)
// are never quoted in errors.
func ConfigFromEnv(environ []string) (Config, error) {
	r := servicekit.ParseEnv(environ)
	web := r.HTTP(servicekit.HTTP{Addr: DefaultHTTPAddr, DrainDelay: DefaultHTTPDrainDelay, ShutdownTimeout: DefaultHTTPShutdownTimeout})
	c := Config{
		QueueURL:            r.String("KIT_QUEUE_URL", DefaultQueueURL),
		MailURL:             r.String("KIT_MAIL_URL", DefaultMailURL),
		HTTPAddr:            web.Addr,
		HTTPDrainDelay:      web.DrainDelay,
		HTTPShutdownTimeout: web.ShutdownTimeout,
		LogLevel:            r.Level("KIT_LOG_LEVEL", "info"),
		Subject:             r.String("KIT_MAIL_SUBJECT", mail.DefaultSubject),
		Consumer:            r.String("KIT_MAIL_CONSUMER", mail.DefaultConsumer),
		Concurrency:         r.Int("KIT_MAIL_CONCURRENCY", DefaultConcurrency, 1, 1000),
		MaxDeliveries:       r.Int("KIT_MAIL_MAX_DELIVERIES", DefaultMaxDeliveries, 1, 1000),
		Backoff:             r.Durations("KIT_MAIL_BACKOFF", DefaultBackoff),
		AckWait:             r.Duration("KIT_MAIL_ACK_WAIT", DefaultAckWait, 100*time.Millisecond),
		SendTimeout:         r.Duration("KIT_MAIL_SEND_TIMEOUT", DefaultSendTimeout, 100*time.Millisecond),
		DrainTimeout:        r.Duration("KIT_MAIL_DRAIN_TIMEOUT", DefaultDrainTimeout, 0),
		CheckTimeout:        r.Duration("KIT_MAIL_CHECK_TIMEOUT", DefaultCheckTimeout, 10*time.Millisecond),
	}
	if strings.HasPrefix(strings.ToLower(c.MailURL), "queue+") {
		r.Fail("KIT_MAIL_URL", "is a queued mailer (queue+...): the mailer service sends the queue's messages, so it needs a sending backend (smtp://, smtps://, console://, file://, memory://)")
	}
	if c.SendTimeout > c.DrainTimeout {
		r.Fail("KIT_MAIL_SEND_TIMEOUT", fmt.Sprintf("%s is longer than KIT_MAIL_DRAIN_TIMEOUT (%s): a send in flight at SIGTERM could be cut off and sent again later", c.SendTimeout, c.DrainTimeout))
	}
	r.RejectUnknown(mailVars, "KIT_MAIL_")
	return c, r.Err()
}
