package nats

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/registry"
)

// Config is how the driver lays out its streams and consumers. The URL options set it; [NewDriver]
// takes it directly.
type Config struct {
	// Stream is the work stream's name (default "KIT").
	Stream string
	// Subjects are the subjects the work stream stores (default "kit.>"). Publishing to a subject
	// outside them fails.
	Subjects []string
	// Retention is the work stream's retention: "workqueue" (the default: a message goes to one
	// consumer and is removed when acknowledged), "limits" or "interest" (each consumer gets
	// every message; see README.md). It cannot change once the stream exists.
	Retention string
	// Storage is file (default) or memory.
	Storage jetstream.StorageType
	// MaxAge, MaxBytes and MaxMsgs bound the work stream (0: unlimited).
	MaxAge   time.Duration
	MaxBytes int64
	MaxMsgs  int64
	// Replicas is the work and dead-letter streams' replica count (default 1).
	Replicas int
	// DedupWindow is how long message IDs are remembered (default 2 minutes).
	DedupWindow time.Duration

	// DeadStream is the dead-letter stream's name (default Stream+"_DEAD").
	DeadStream string
	// DeadPrefix is the subject prefix of default dead-letter subjects: a consumer's dead letters
	// go to DeadPrefix+"."+name (default "dead."+Stream). The dead stream stores DeadPrefix+".>",
	// and any other dead-letter subject a consumer chooses is added to it.
	DeadPrefix string
	// DeadMaxAge bounds how long dead letters are kept (0: until purged or re-driven).
	DeadMaxAge time.Duration

	// NoCreate leaves streams alone: they must exist (an account without stream-management
	// permissions). By default streams are created, or updated to this Config, on open.
	NoCreate bool
	// AsyncAck acknowledges without waiting for the server's confirmation: faster, but an ack lost
	// with its connection means the message comes again (still at least once). Default false.
	AsyncAck bool
	// FetchWait is how long one pull waits for a message (default 3s). A stopped consumer may get
	// one more message during it, which it releases at once.
	FetchWait time.Duration
}

// Defaults of Config.
const (
	DefaultStream      = "KIT"
	DefaultSubjects    = "kit.>"
	DefaultDedupWindow = 2 * time.Minute
	DefaultFetchWait   = 3 * time.Second
)

func (c *Config) setDefaults() {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if len(c.Subjects) == 0 {
		c.Subjects = []string{DefaultSubjects}
	}
	if c.Retention == "" {
		c.Retention = "workqueue"
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.DedupWindow == 0 {
		c.DedupWindow = DefaultDedupWindow
	}
	if c.DeadStream == "" {
		c.DeadStream = c.Stream + "_DEAD"
	}
	if c.DeadPrefix == "" {
		c.DeadPrefix = "dead." + c.Stream
	}
	if c.FetchWait == 0 {
		c.FetchWait = DefaultFetchWait
	}
}

// retention returns the JetStream retention policy Config.Retention names.
func (c *Config) retention() (jetstream.RetentionPolicy, error) {
	switch c.Retention {
	case "workqueue":
		return jetstream.WorkQueuePolicy, nil
	case "limits":
		return jetstream.LimitsPolicy, nil
	case "interest":
		return jetstream.InterestPolicy, nil
	}
	return 0, fmt.Errorf("%w: retention %q (want workqueue, limits or interest)", queue.ErrInvalidOption, c.Retention)
}

// validStreamName reports whether s can name a stream: no spaces, '.', '*', '>', path separators
// or control characters.
func validStreamName(s string) bool {
	return s != "" && len(s) <= 255 && !strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || r == 0x7f || strings.ContainsRune(".*>/\\", r)
	})
}

// readConfig reads the stream options shared by nats:// and nats+embedded://.
func readConfig(o *reader) Config {
	var c Config
	c.Stream = o.String("stream", DefaultStream)
	if !validStreamName(c.Stream) {
		o.fail("stream", c.Stream, "not a stream name (no spaces, '.', '*', '>' or slashes)")
	}
	for _, v := range o.Strings("subjects") {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				c.Subjects = append(c.Subjects, s)
			}
		}
	}
	for _, s := range c.Subjects {
		if err := validatePattern(s); err != nil {
			o.fail("subjects", s, err.Error())
		}
	}
	c.Retention = o.Enum("retention", "workqueue", "workqueue", "limits", "interest")
	if o.Enum("storage", "file", "file", "memory") == "memory" {
		c.Storage = jetstream.MemoryStorage
	}
	c.MaxAge = o.Duration("max_age", 0)
	c.MaxBytes = o.Size("max_bytes", 0)
	c.MaxMsgs = o.Int("max_msgs", 0, 0, 1<<62)
	c.Replicas = int(o.Int("replicas", 1, 1, 5))
	c.DedupWindow = o.Duration("dedup_window", DefaultDedupWindow)
	if c.DedupWindow < 100*time.Millisecond {
		o.fail("dedup_window", c.DedupWindow.String(), "must be at least 100ms")
	}
	if c.MaxAge > 0 && c.DedupWindow > c.MaxAge {
		o.fail("dedup_window", c.DedupWindow.String(), "must not exceed max_age")
	}
	c.DeadStream = o.String("dead_stream", c.Stream+"_DEAD")
	if !validStreamName(c.DeadStream) || c.DeadStream == c.Stream {
		o.fail("dead_stream", c.DeadStream, "not a stream name, or the work stream's")
	}
	c.DeadPrefix = o.String("dead_prefix", "dead."+c.Stream)
	if err := validatePattern(c.DeadPrefix); err != nil || strings.ContainsAny(c.DeadPrefix, "*>") {
		o.fail("dead_prefix", c.DeadPrefix, "not a subject prefix (dot-separated tokens, no wildcards)")
	}
	c.DeadMaxAge = o.Duration("dead_max_age", 0)
	c.NoCreate = !o.Bool("create", true)
	c.AsyncAck = !o.Bool("ack_sync", true)
	c.FetchWait = o.Duration("fetch_wait", DefaultFetchWait)
	if c.FetchWait < 100*time.Millisecond || c.FetchWait > time.Minute {
		o.fail("fetch_wait", c.FetchWait.String(), "must be between 100ms and 1m")
	}
	return c
}

// reader reads URL options, collecting the bad values it finds beside registry.Options' own
// errors (unknown, repeated or malformed options).
type reader struct {
	*registry.Options
	errs []error
}

// fail records a bad option value, redacted when the option is a secret.
func (r *reader) fail(name, value, reason string) {
	if registry.IsSecretParam(name) {
		value = "xxxxx"
	}
	r.errs = append(r.errs, &registry.OptionError{Option: name, Value: value, Reason: reason})
}

// err returns every option error: registry.Options' and the bad values.
func (r *reader) err() error {
	return errors.Join(append([]error{r.Options.Err()}, r.errs...)...)
}

// validatePattern checks a subject that may hold wildcards.
func validatePattern(s string) error {
	if s == "" {
		return errors.New("empty subject")
	}
	tokens := strings.Split(s, ".")
	for i, t := range tokens {
		switch {
		case t == "":
			return errors.New("empty token")
		case strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			return errors.New("space or control character")
		case t == ">" && i != len(tokens)-1:
			return errors.New(`">" before the last token`)
		case t != "*" && t != ">" && strings.ContainsAny(t, "*>"):
			return errors.New("wildcard inside a token")
		}
	}
	return nil
}

// connOptions reads the connection options of a nats:// URL: credentials from the userinfo
// (user:password, or a lone token) or token/creds/nkey options, TLS, timeouts.
func connOptions(u *url.URL, o *reader) (servers []string, opts []natsgo.Option) {
	host := u.Host
	if host == "" {
		host = "127.0.0.1:4222"
	}
	useTLS := o.Bool("tls", false)
	scheme := "nats"
	if useTLS {
		scheme = "tls"
	}
	servers = []string{scheme + "://" + host}
	servers = append(servers, o.Strings("server")...)
	opts = append(opts,
		natsgo.Name(o.String("name", "kit-queue")),
		natsgo.Timeout(o.Duration("connect_timeout", 5*time.Second)),
		natsgo.ReconnectWait(o.Duration("reconnect_wait", 500*time.Millisecond)),
		natsgo.MaxReconnects(-1),
		// While the server is away, publishing fails at once instead of queueing in a buffer
		// that a later reconnect would send after Publish has already reported failure.
		natsgo.ReconnectBufSize(-1),
		natsgo.RetryOnFailedConnect(false),
	)
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			opts = append(opts, natsgo.UserInfo(u.User.Username(), p))
		} else if u.User.Username() != "" {
			opts = append(opts, natsgo.Token(u.User.Username()))
		}
	}
	if t := o.String("token", ""); t != "" {
		opts = append(opts, natsgo.Token(t))
	}
	if creds := o.String("creds", ""); creds != "" {
		if _, err := os.Stat(creds); err != nil {
			o.fail("creds", creds, "cannot read the credentials file: "+errors.Unwrap(err).Error())
		}
		opts = append(opts, natsgo.UserCredentials(creds))
	}
	if seed := o.String("nkey", ""); seed != "" {
		opt, err := natsgo.NkeyOptionFromSeed(seed)
		if err != nil {
			o.fail("nkey", seed, "cannot read the nkey seed file")
		} else {
			opts = append(opts, opt)
		}
	}
	ca, cert, key := o.String("tls_ca", ""), o.String("tls_cert", ""), o.String("tls_key", "")
	if ca != "" || cert != "" || key != "" || useTLS {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if ca != "" {
			pem, err := os.ReadFile(ca)
			pool := x509.NewCertPool()
			if err != nil || !pool.AppendCertsFromPEM(pem) {
				o.fail("tls_ca", ca, "cannot read PEM certificates from it")
			}
			cfg.RootCAs = pool
		}
		if (cert == "") != (key == "") {
			o.fail("tls_cert", cert, "tls_cert and tls_key go together")
		} else if cert != "" {
			pair, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				o.fail("tls_cert", cert, "cannot load the certificate and key: "+err.Error())
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		if sn := o.String("tls_server_name", ""); sn != "" {
			cfg.ServerName = sn
		}
		opts = append(opts, natsgo.Secure(cfg))
	}
	return servers, opts
}

// apiTimeout reads the JetStream API timeout option.
func apiTimeout(o *reader) time.Duration {
	d := o.Duration("timeout", 5*time.Second)
	if d <= 0 {
		o.fail("timeout", d.String(), "must be positive")
		return 5 * time.Second
	}
	return d
}
