package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stackkit/stackkit/kit/registry"
	"github.com/wneessen/go-mail/smtp"
)

func init() {
	Register("smtp", openSMTP)
	Register("smtps", openSMTP)
}

// StartTLS is the smtp:// STARTTLS policy.
type StartTLS string

// STARTTLS policies.
const (
	// StartTLSRequired upgrades every connection, and refuses a server that does not offer
	// STARTTLS (ErrTLSRequired). The default.
	StartTLSRequired StartTLS = "required"
	// StartTLSOpportunistic upgrades when the server offers STARTTLS, and goes on in plaintext
	// otherwise; AUTH is still refused without TLS unless InsecureAuth is set.
	StartTLSOpportunistic StartTLS = "opportunistic"
	// StartTLSOff never upgrades: for local relays and test servers.
	StartTLSOff StartTLS = "off"
)

// Defaults of SMTPConfig.
const (
	DefaultSMTPPort    = "587"
	DefaultSMTPSPort   = "465"
	DefaultDialTimeout = 10 * time.Second
	DefaultTimeout     = 30 * time.Second
	DefaultMaxConns    = 4
	DefaultMaxLifetime = 5 * time.Minute
	DefaultIdleTimeout = 30 * time.Second
)

// Authentication mechanisms for SMTPConfig.Auth (auth= in the URL).
var authMechanisms = []string{"auto", "plain", "login", "cram-md5", "xoauth2", "scram-sha-1", "scram-sha-256"}

// SMTPConfig configures the SMTP driver. The zero value of each field is its default.
type SMTPConfig struct {
	// Addr is the server's host:port.
	Addr string
	// ImplicitTLS makes the connection TLS from the first byte (smtps://, port 465).
	ImplicitTLS bool
	// StartTLS is the STARTTLS policy when ImplicitTLS is false; "" means StartTLSRequired.
	StartTLS StartTLS
	// Username and Password authenticate (AUTH) when Username is set. For xoauth2 the
	// password is the OAuth 2 access token.
	Username, Password string
	// Auth picks the mechanism: "" or "auto" (PLAIN, else LOGIN, else CRAM-MD5, as the server
	// offers), or one of plain, login, cram-md5, xoauth2, scram-sha-1, scram-sha-256.
	Auth string
	// InsecureAuth allows AUTH on a connection without TLS. Without it such an AUTH fails with
	// ErrInsecureAuth before any credential is sent.
	InsecureAuth bool
	// TLSConfig is used for STARTTLS and implicit TLS; nil means the system roots and the
	// host of Addr as the server name. A config without ServerName gets that host.
	TLSConfig *tls.Config
	// LocalName is the name given in EHLO; "" means the host name (os.Hostname).
	LocalName string
	// DialTimeout bounds connecting, the TLS handshake and the greeting (default 10s).
	DialTimeout time.Duration
	// Timeout bounds each read or write on the connection: a server silent that long fails
	// the command (default 30s).
	Timeout time.Duration
	// MaxConns bounds the connections open at once; Send waits for one (default 4).
	MaxConns int
	// MaxIdle is how many connections are kept for reuse (default MaxConns); negative keeps none, so
	// each message has a connection of its own, as Django's backend does.
	MaxIdle int
	// MaxLifetime closes connections older than this instead of reusing them (default 5m).
	MaxLifetime time.Duration
	// IdleTimeout closes connections idle longer than this instead of reusing them (default
	// 30s, under the 5 minutes RFC 5321 lets a server wait).
	IdleTimeout time.Duration
	// Dial opens the TCP connection; nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives the driver's own logs (connections discarded, retries); nil means
	// slog.Default().
	Logger *slog.Logger
}

// SMTP is the driver behind smtp:// and smtps://: a pool of connections, each health-checked
// (RSET) before reuse and closed past its lifetime or idle time. Recipients the server refuses
// for good (5xx) are left out and the others get the message, which Send reports with a
// *RecipientsError; a recipient refused for now (4xx), or all of them refused, fails the whole
// message and delivers nothing. When a connection breaks before the server could have accepted the
// message, the send is retried once on a new connection; after the final "." was sent it is
// not (the server may have taken it), and the error is temporary.
type SMTP struct {
	cfg  SMTPConfig
	host string
	pool *pool

	dials, reuses, discards, retries atomic.Int64
}

// SMTPStats counts the driver's connection work since it was made.
type SMTPStats struct {
	Dials    int64 // connections opened
	Reuses   int64 // sends on a pooled connection that passed its health check
	Discards int64 // connections closed because they failed (broken, failed health check)
	Retries  int64 // sends retried on a new connection after a broken one
	Idle     int   // connections now idle in the pool
}

func openSMTP(_ context.Context, u *url.URL, opts *registry.Options) (Driver, error) {
	implicit := strings.EqualFold(u.Scheme, "smtps")
	cfg := SMTPConfig{ImplicitTLS: implicit}
	if !implicit {
		cfg.StartTLS = StartTLS(opts.Enum("starttls", string(StartTLSRequired), string(StartTLSRequired), string(StartTLSOpportunistic), string(StartTLSOff)))
	}
	cfg.Auth = opts.Enum("auth", "auto", authMechanisms...)
	cfg.InsecureAuth = opts.Bool("insecure_auth", false)
	caFile := opts.String("tls_ca", "")
	skipVerify := opts.Bool("insecure_skip_verify", false)
	serverName := opts.String("tls_server_name", "")
	cfg.LocalName = opts.String("local_name", "")
	cfg.DialTimeout = opts.Duration("dial_timeout", DefaultDialTimeout)
	cfg.Timeout = opts.Duration("timeout", DefaultTimeout)
	cfg.MaxConns = int(opts.Int("max_conns", DefaultMaxConns, 1, 10000))
	if opts.Has("max_idle") {
		// 0 in the URL means none; in SMTPConfig, 0 is the default and none is negative.
		if cfg.MaxIdle = int(opts.Int("max_idle", 0, 0, 10000)); cfg.MaxIdle == 0 {
			cfg.MaxIdle = -1
		}
	}
	cfg.MaxLifetime = opts.Duration("max_lifetime", DefaultMaxLifetime)
	cfg.IdleTimeout = opts.Duration("idle_timeout", DefaultIdleTimeout)
	if err := opts.Err(); err != nil {
		return nil, err
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, fmt.Errorf("no server in URL (want %s://[user:password@]host[:port])", u.Scheme)
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("%s:// takes no path (got %q)", u.Scheme, u.Path)
	}
	port := u.Port()
	if port == "" {
		port = DefaultSMTPPort
		if implicit {
			port = DefaultSMTPSPort
		}
	}
	cfg.Addr = net.JoinHostPort(u.Hostname(), port)
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	if caFile != "" || skipVerify || serverName != "" {
		tc := &tls.Config{ServerName: serverName, InsecureSkipVerify: skipVerify, MinVersion: tls.VersionTLS12}
		if caFile != "" {
			pem, err := os.ReadFile(caFile)
			if err != nil {
				return nil, &registry.OptionError{Option: "tls_ca", Value: caFile, Reason: err.Error()}
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, &registry.OptionError{Option: "tls_ca", Value: caFile, Reason: "no PEM certificate in the file"}
			}
		}
		cfg.TLSConfig = tc
	}
	d, err := NewSMTP(cfg)
	if err != nil {
		return nil, err
	}
	if skipVerify {
		d.cfg.Logger.Warn("mail: insecure_skip_verify=true: the SMTP server's certificate is not checked; anyone on the path can read the mail and the password (tests only)",
			"server", cfg.Addr)
	}
	return d, nil
}

// NewSMTP returns an SMTP driver; it connects on the first send.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" {
		return nil, fmt.Errorf("%w: SMTP address %q (want host:port)", ErrInvalidOption, cfg.Addr)
	}
	switch cfg.StartTLS {
	case "":
		cfg.StartTLS = StartTLSRequired
	case StartTLSRequired, StartTLSOpportunistic, StartTLSOff:
	default:
		return nil, fmt.Errorf("%w: StartTLS %q (want required, opportunistic or off)", ErrInvalidOption, cfg.StartTLS)
	}
	cfg.Auth = strings.ToLower(cfg.Auth)
	if cfg.Auth == "" {
		cfg.Auth = "auto"
	}
	valid := false
	for _, m := range authMechanisms {
		valid = valid || m == cfg.Auth
	}
	if !valid {
		return nil, fmt.Errorf("%w: Auth %q (want one of %s)", ErrInvalidOption, cfg.Auth, strings.Join(authMechanisms, ", "))
	}
	if cfg.LocalName == "" {
		cfg.LocalName = localName()
	} else if strings.ContainsAny(cfg.LocalName, "\r\n \t") {
		return nil, fmt.Errorf("%w: LocalName %q", ErrInvalidOption, cfg.LocalName)
	}
	cfg.DialTimeout = orDefault(cfg.DialTimeout, DefaultDialTimeout)
	cfg.Timeout = orDefault(cfg.Timeout, DefaultTimeout)
	cfg.MaxLifetime = orDefault(cfg.MaxLifetime, DefaultMaxLifetime)
	cfg.IdleTimeout = orDefault(cfg.IdleTimeout, DefaultIdleTimeout)
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	switch {
	case cfg.MaxIdle == 0:
		cfg.MaxIdle = cfg.MaxConns
	case cfg.MaxIdle < 0:
		cfg.MaxIdle = 0
	}
	cfg.MaxIdle = min(cfg.MaxIdle, cfg.MaxConns)
	if cfg.TLSConfig == nil {
		cfg.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		cfg.TLSConfig = cfg.TLSConfig.Clone()
	}
	if cfg.TLSConfig.ServerName == "" {
		cfg.TLSConfig.ServerName = host
	}
	if cfg.Dial == nil {
		dialer := &net.Dialer{}
		cfg.Dial = dialer.DialContext
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	d := &SMTP{cfg: cfg, host: host}
	d.pool = newPool(d, cfg.MaxConns, cfg.MaxIdle)
	return d, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func localName() string {
	h, err := os.Hostname()
	if err != nil || h == "" || strings.ContainsAny(h, "\r\n \t") {
		return "localhost"
	}
	return h
}

// Capabilities implements Driver.
func (*SMTP) Capabilities() Capabilities { return Capabilities{Name: "smtp"} }

// Stats returns the driver's connection counters.
func (d *SMTP) Stats() SMTPStats {
	return SMTPStats{Dials: d.dials.Load(), Reuses: d.reuses.Load(), Discards: d.discards.Load(),
		Retries: d.retries.Load(), Idle: d.pool.idleCount()}
}

// Send implements Driver.
func (d *SMTP) Send(ctx context.Context, env *Envelope) error {
	fresh := false
	for attempt := 0; ; attempt++ {
		c, err := d.pool.get(ctx, fresh)
		if err != nil {
			return err
		}
		res := c.transact(ctx, env)
		d.pool.put(c, !res.broken)
		if res.err == nil || !res.broken || res.maybeAccepted || attempt > 0 || ctx.Err() != nil {
			return res.err
		}
		// The connection broke before the server could have accepted the message: nothing was
		// delivered, so one more try on a new connection cannot duplicate it.
		d.retries.Add(1)
		d.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "mail: smtp connection broke before the message was accepted; retrying on a new connection",
			slog.String("server", d.cfg.Addr), slog.String("message_id", env.MessageID), slog.Any("error", res.err))
		fresh = true
	}
}

// Ping checks the server: a NOOP on a pooled (health-checked) or new connection.
func (d *SMTP) Ping(ctx context.Context) error {
	c, err := d.pool.get(ctx, false)
	if err != nil {
		return err
	}
	err = c.do(ctx, "NOOP", "", c.cl.Noop)
	d.pool.put(c, !c.broken)
	return err
}

// Close closes the pool: idle connections get a QUIT; connections in use close when their send
// ends. Sends after Close fail with ErrClosed.
func (d *SMTP) Close() error {
	d.pool.close()
	return nil
}

// conn is one SMTP session.
type conn struct {
	d        *SMTP
	wire     *wireConn
	cl       *smtp.Client
	created  time.Time
	lastUsed time.Time
	broken   bool // unusable: a connection error, or a command aborted by its context
}

// dial connects, upgrades to TLS and authenticates, as configured.
func (d *SMTP) dial(ctx context.Context) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.DialTimeout)
	defer cancel()
	raw, err := d.cfg.Dial(ctx, "tcp", d.cfg.Addr)
	if err != nil {
		return nil, d.connErr(ctx, "connect", err)
	}
	d.dials.Add(1)
	c := &conn{d: d, wire: &wireConn{Conn: raw, timeout: d.cfg.Timeout}, created: time.Now()}
	if err := c.handshake(ctx); err != nil {
		c.wire.abort()
		_ = c.wire.Close()
		return nil, err
	}
	return c, nil
}

func (c *conn) handshake(ctx context.Context) error {
	d := c.d
	stop := context.AfterFunc(ctx, c.wire.abort)
	defer stop()
	var nc net.Conn = c.wire
	isTLS := false
	if d.cfg.ImplicitTLS {
		tc := tls.Client(c.wire, d.cfg.TLSConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return d.connErr(ctx, "TLS handshake", err)
		}
		nc, isTLS = tc, true
	}
	cl, err := smtp.NewClient(nc, d.host)
	if err != nil {
		return d.classify(ctx, "greeting", "", err)
	}
	c.cl = cl
	cl.SkipSMTPUTF8(true) // envelopes are ASCII: domains are punycode
	if err := c.do(ctx, "EHLO", "", func() error { return cl.Hello(d.cfg.LocalName) }); err != nil {
		return err
	}
	if !d.cfg.ImplicitTLS && d.cfg.StartTLS != StartTLSOff {
		if ok, _ := cl.Extension("STARTTLS"); ok {
			if err := c.do(ctx, "STARTTLS", "", func() error { return cl.StartTLS(d.cfg.TLSConfig) }); err != nil {
				return err
			}
			isTLS = true
		} else if d.cfg.StartTLS == StartTLSRequired {
			return fmt.Errorf("%w: %s", ErrTLSRequired, d.cfg.Addr)
		}
	}
	if d.cfg.Username != "" {
		if !isTLS && !d.cfg.InsecureAuth {
			return fmt.Errorf("%w: %s", ErrInsecureAuth, d.cfg.Addr)
		}
		a, err := c.authMechanism()
		if err != nil {
			return err
		}
		if err := c.do(ctx, "AUTH", "", func() error { return cl.Auth(a) }); err != nil {
			return err
		}
	}
	return nil
}

func (c *conn) authMechanism() (smtp.Auth, error) {
	d := c.d
	ok, list := c.cl.Extension("AUTH")
	if !ok {
		return nil, fmt.Errorf("%w: %s offers no AUTH, and a username is configured", ErrAuth, d.cfg.Addr)
	}
	offered := make(map[string]bool)
	for _, m := range strings.Fields(strings.ToUpper(list)) {
		offered[m] = true
	}
	mech := d.cfg.Auth
	if mech == "auto" {
		mech = ""
		for _, m := range []string{"plain", "login", "cram-md5"} {
			if offered[strings.ToUpper(m)] {
				mech = m
				break
			}
		}
		if mech == "" {
			return nil, fmt.Errorf("%w: %s offers %q; auth=auto uses PLAIN, LOGIN or CRAM-MD5 (name another with auth=)", ErrAuth, d.cfg.Addr, list)
		}
	} else if !offered[strings.ToUpper(mech)] {
		return nil, fmt.Errorf("%w: %s does not offer %s (it offers %q)", ErrAuth, d.cfg.Addr, strings.ToUpper(mech), list)
	}
	u, p := d.cfg.Username, d.cfg.Password
	switch mech {
	case "plain":
		return smtp.PlainAuth("", u, p, d.host, true), nil
	case "login":
		return smtp.LoginAuth(u, p, d.host, true), nil
	case "cram-md5":
		return smtp.CRAMMD5Auth(u, p), nil
	case "xoauth2":
		return smtp.XOAuth2Auth(u, p), nil
	case "scram-sha-1":
		return smtp.ScramSHA1Auth(u, p), nil
	default:
		return smtp.ScramSHA256Auth(u, p), nil
	}
}

// result is the outcome of one transaction.
type result struct {
	err error
	// broken: the connection cannot be reused.
	broken bool
	// maybeAccepted: the whole message and its final "." went out and the connection broke
	// before the reply: the server may have accepted it.
	maybeAccepted bool
}

// transact runs MAIL, RCPT..., DATA for env. A recipient refused for good (5xx) is left out
// and the others get the message, with a *RecipientsError as the result. A recipient refused for
// now (4xx), or every recipient refused, ends the transaction (RSET) before DATA: nothing is
// delivered, so a retry of a temporary failure reaches everyone once.
func (c *conn) transact(ctx context.Context, env *Envelope) result {
	c.lastUsed = time.Now()
	if err := c.do(ctx, "MAIL", "", func() error { return c.cl.Mail("<" + env.From + ">") }); err != nil {
		return c.abandon(ctx, err)
	}
	var refused []*SMTPError
	for _, to := range env.To {
		err := c.do(ctx, "RCPT", to, func() error { return c.cl.Rcpt("<" + to + ">") })
		if err == nil {
			continue
		}
		var se *SMTPError
		if !errors.As(err, &se) || se.Temporary() {
			// A broken connection, or a refusal for now: the whole message waits.
			if se != nil {
				err = refusedError(se, append(refused, se))
			}
			return c.abandon(ctx, err)
		}
		refused = append(refused, se)
	}
	if len(refused) == len(env.To) {
		return c.abandon(ctx, refusedError(refused[0], refused))
	}
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	if err := c.do(ctx, "DATA", "", func() (err error) { w, err = c.cl.Data(); return err }); err != nil {
		return c.abandon(ctx, err)
	}
	if err := c.do(ctx, "DATA", "", func() error { _, err := w.Write(env.Data); return err }); err != nil {
		return result{err: err, broken: true}
	}
	err := c.do(ctx, "DATA", "", w.Close)
	if err != nil && c.broken {
		return result{err: err, broken: true, maybeAccepted: !c.wire.writeFailed.Load()}
	}
	if err == nil && len(refused) > 0 {
		// Delivered: never retried, even if the connection is unusable now.
		return result{err: &RecipientsError{Refused: refused, Accepted: len(env.To) - len(refused)}, broken: c.broken, maybeAccepted: true}
	}
	return result{err: err, broken: c.broken}
}

// abandon ends a transaction the server refused part of: RSET, so the connection can be reused.
func (c *conn) abandon(ctx context.Context, err error) result {
	if !c.broken {
		if rerr := c.do(ctx, "RSET", "", c.cl.Reset); rerr != nil {
			c.broken = true
		}
	}
	return result{err: err, broken: c.broken}
}

// do runs one command under ctx, and turns its error into an *SMTPError (a server reply) or a
// connection error, marking the connection broken for the latter.
func (c *conn) do(ctx context.Context, command, rcpt string, f func() error) error {
	if c.broken {
		return fmt.Errorf("%w: smtp %s: connection already broken", ErrConnection, command)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, c.wire.abort)
	err := f()
	if !stop() || c.wire.aborted.Load() {
		c.broken = true
	}
	if err == nil {
		return nil
	}
	err = c.d.classify(ctx, command, rcpt, err)
	var se *SMTPError
	if !errors.As(err, &se) {
		c.broken = true
	}
	return err
}

// classify turns a go-mail/textproto error into an *SMTPError for a server reply, ctx's error
// when ctx ended the command, or a connection error.
func (d *SMTP) classify(ctx context.Context, command, rcpt string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		return newSMTPError(command, rcpt, te.Code, te.Msg)
	}
	return d.connErr(ctx, command, err)
}

func (d *SMTP) connErr(ctx context.Context, what string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("mail: smtp %s %s: %w", d.cfg.Addr, what, context.Cause(ctx))
	}
	if isCertificateError(err) {
		// A certificate the configuration does not trust: retrying this message will not change
		// it (a worker pauses on it instead: see isOutage).
		return fmt.Errorf("mail: smtp %s %s: TLS certificate: %w", d.cfg.Addr, what, err)
	}
	return fmt.Errorf("%w: smtp %s %s: %w", ErrConnection, d.cfg.Addr, what, err)
}

// isCertificateError reports whether err is the server's TLS certificate failing verification:
// expired, from an unknown authority, or for another host.
func isCertificateError(err error) bool {
	var cve *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	var invalidErr x509.CertificateInvalidError
	return errors.As(err, &cve) || errors.As(err, &hostErr) || errors.As(err, &authErr) || errors.As(err, &invalidErr)
}

// quit ends a healthy session politely; close drops a broken one.
func (c *conn) quit() {
	if c.broken || c.cl == nil {
		c.close()
		return
	}
	c.wire.timeout = min(c.wire.timeout, 5*time.Second)
	_ = c.cl.Quit()
	c.close()
}

func (c *conn) close() {
	if c.cl != nil {
		_ = c.cl.Close()
		return
	}
	_ = c.wire.Close()
}

// wireConn is the TCP connection under the SMTP session (and under TLS). It gives every read
// and write its own deadline (the command timeout), lets a context abort a blocked call, and
// records whether a write failed, which tells whether a message's final "." reached the wire.
type wireConn struct {
	net.Conn
	timeout     time.Duration
	aborted     atomic.Bool
	writeFailed atomic.Bool
}

var past = time.Unix(1, 0)

func (w *wireConn) abort() {
	w.aborted.Store(true)
	_ = w.Conn.SetDeadline(past)
}

func (w *wireConn) Read(p []byte) (int, error) {
	_ = w.Conn.SetReadDeadline(time.Now().Add(w.timeout))
	if w.aborted.Load() {
		_ = w.Conn.SetReadDeadline(past)
	}
	return w.Conn.Read(p)
}

func (w *wireConn) Write(p []byte) (int, error) {
	_ = w.Conn.SetWriteDeadline(time.Now().Add(w.timeout))
	if w.aborted.Load() {
		_ = w.Conn.SetWriteDeadline(past)
	}
	n, err := w.Conn.Write(p)
	if err != nil {
		w.writeFailed.Store(true)
	}
	return n, err
}
