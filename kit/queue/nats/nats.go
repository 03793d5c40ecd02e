// Package nats registers the nats:// and nats+embedded:// schemes with kit/queue, on NATS
// JetStream (nats.go's jetstream package).
//
//	import _ "github.com/stackkit/stackkit/kit/queue/nats"
//
//	q, err := queue.Open(ctx, "nats://app:secret@nats:4222?stream=ORDERS&subjects=orders.>")
//	q, err := queue.Open(ctx, nats.DefaultURL) // an embedded server persisted in .kit/nats
//
// One URL is one work stream (a subject space) and its dead-letter stream. Opening connects and
// creates the streams, or updates them to the URL's options, so a typo or a setting the server
// refuses fails at startup. A consumer is a JetStream durable pull consumer, created or updated
// by Consume; the portable queue fetches only as many messages as it has free handlers, retries
// with NakWithDelay on its own backoff schedule, and moves messages to the dead-letter stream
// itself (see README.md for why).
//
// nats+embedded:// runs a NATS server inside the process, with JetStream persisted in a local
// directory and no TCP port unless asked for, so a single process gets durable queues with no
// server to run.
package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/registry"
)

func init() {
	queue.Register("nats", openNATS)
	queue.Register("nats+embedded", openEmbedded)
}

// metaDeadLetter is the consumer metadata key (and description prefix, for servers before 2.10,
// which have no metadata) that records a consumer's dead-letter subject, so DeadLetters finds it
// by consumer name.
const (
	metaDeadLetter   = "kit.dead_letter"
	descDeadLetter   = "kit/queue consumer; dead letters on "
	headerMsgID      = "Nats-Msg-Id"
	headerOriginalID = "Kit-Dead-Id" // a dead letter's original message ID
	defaultAPIPrefix = "$JS.API."
)

// Driver is the JetStream queue driver. It is safe for concurrent use.
type Driver struct {
	nc  *natsgo.Conn
	js  jetstream.JetStream
	cfg Config

	ownsConn bool
	server   *server.Server // the embedded server, if any
	onClose  func() error   // the embedded server's shutdown

	mu   sync.Mutex
	dead jetstream.Stream // the dead-letter stream, with its current subjects in CachedInfo

	strays  sync.WaitGroup // goroutines releasing messages that arrived after a fetch was abandoned
	strayMu sync.Mutex     // orders strays.Go against Close setting closed, so Wait never races an Add
	closing chan struct{}
	closed  atomic.Bool
}

var _ queue.Driver = (*Driver)(nil)

func openNATS(ctx context.Context, u *url.URL, opts *registry.Options) (queue.Driver, error) {
	r := &reader{Options: opts}
	servers, connOpts := connOptions(u, r)
	cfg := readConfig(r)
	timeout := apiTimeout(r)
	if u.Path != "" && u.Path != "/" {
		r.fail("path", u.Path, "nats:// takes no path; name the stream with ?stream=")
	}
	if err := r.err(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		// natsgo.Connect takes no context: the caller's deadline caps each dial's connect_timeout.
		connOpts = append(connOpts, func(o *natsgo.Options) error {
			o.Timeout = max(min(o.Timeout, time.Until(dl)), time.Millisecond)
			return nil
		})
	}
	nc, err := natsgo.Connect(strings.Join(servers, ","), connOpts...)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	d, err := NewDriver(ctx, nc, cfg, jetstream.WithDefaultTimeout(timeout))
	if err != nil {
		nc.Close()
		return nil, err
	}
	d.ownsConn = true
	return d, nil
}

// NewDriver returns a driver over a connection you made yourself; hand it to queue.New. It creates
// or updates the streams cfg describes (unless cfg.NoCreate). Closing the driver does not close
// nc.
func NewDriver(ctx context.Context, nc *natsgo.Conn, cfg Config, opts ...jetstream.JetStreamOpt) (*Driver, error) {
	cfg.setDefaults()
	js, err := jetstream.New(nc, opts...)
	if err != nil {
		return nil, err
	}
	d := &Driver{nc: nc, js: js, cfg: cfg, closing: make(chan struct{})}
	if err := d.ensureStreams(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// Conn returns the NATS connection, for what the portable API does not cover.
func (d *Driver) Conn() *natsgo.Conn { return d.nc }

// JetStream returns the JetStream context.
func (d *Driver) JetStream() jetstream.JetStream { return d.js }

// Config returns the driver's configuration, defaults filled in.
func (d *Driver) Config() Config { c := d.cfg; c.Subjects = slices.Clone(c.Subjects); return c }

// Capabilities describes JetStream to the portable type.
func (d *Driver) Capabilities() queue.Capabilities {
	return queue.Capabilities{Name: "nats", DedupWindow: d.cfg.DedupWindow}
}

// Publish stores m in the work stream; m.ID becomes Nats-Msg-Id, which the stream de-duplicates
// within its duplicate window.
func (d *Driver) Publish(ctx context.Context, m *queue.Message) error {
	return d.publish(ctx, m.Subject, m)
}

func (d *Driver) publish(ctx context.Context, subject string, m *queue.Message) error {
	msg := &natsgo.Msg{Subject: subject, Data: m.Data, Header: natsgo.Header(m.Header)} // a copy already (see queue.Driver)
	var opts []jetstream.PublishOpt
	if m.ID != "" {
		opts = append(opts, jetstream.WithMsgID(m.ID))
	}
	if _, err := d.js.PublishMsg(ctx, msg, opts...); err != nil {
		return d.mapErr(err, subject)
	}
	return nil
}

// mapErr turns nats errors into portable ones, or explains them.
func (d *Driver) mapErr(err error, subject string) error {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, natsgo.ErrConnectionClosed) && d.closed.Load():
		return fmt.Errorf("%w: %w", queue.ErrClosed, err)
	case errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, jetstream.ErrConsumerNotFound):
		return fmt.Errorf("%w: %w", queue.ErrNotFound, err)
	case subject == "" && errors.Is(err, natsgo.ErrNoResponders):
		// A pull from a consumer the server does not have (a restarted server without its
		// store, a deleted consumer) finds no one to answer.
		return fmt.Errorf("%w: consumer gone or JetStream unavailable: %w", queue.ErrNotFound, err)
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, natsgo.ErrNoResponders):
		return fmt.Errorf("no stream stores subject %q (stream %s stores %s; is JetStream up, and has the stream a leader?): %w",
			subject, d.cfg.Stream, strings.Join(d.cfg.Subjects, ", "), err)
	case errors.Is(err, natsgo.ErrReconnectBufExceeded), errors.Is(err, natsgo.ErrDisconnected):
		return fmt.Errorf("not connected to NATS (reconnecting): %w", err)
	case errors.As(err, &apiErr):
		switch apiErr.ErrorCode {
		case 10099, 10100, 10065, 10058, 10052:
			// Work-queue consumers overlapping, subjects overlapping another stream, a stream
			// name in use with another configuration, a setting that cannot change.
			return fmt.Errorf("%w: %w", queue.ErrConflict, err)
		case jetstream.JSErrCodeConsumerNotFound, jetstream.JSErrCodeMessageNotFound, jetstream.JSErrCodeStreamNotFound:
			return fmt.Errorf("%w: %w", queue.ErrNotFound, err)
		}
	case errors.Is(err, jetstream.ErrConsumerNotFound), errors.Is(err, jetstream.ErrStreamNotFound), errors.Is(err, jetstream.ErrMsgNotFound):
		return fmt.Errorf("%w: %w", queue.ErrNotFound, err)
	}
	return err
}

// Subscribe creates or updates the durable pull consumer c.Name on the work stream.
func (d *Driver) Subscribe(ctx context.Context, c queue.ConsumerConfig) (queue.Subscription, error) {
	if !slices.ContainsFunc(d.cfg.Subjects, func(s string) bool { return subsetOf(c.Subject, s) }) {
		return nil, fmt.Errorf("%w: subject: %q is not within stream %s's subjects (%s)",
			queue.ErrInvalidOption, c.Subject, d.cfg.Stream, strings.Join(d.cfg.Subjects, ", "))
	}
	// ctx is the consumer's whole life (Consume passes its own): bound the API requests by the
	// API timeout, or a request lost in a cluster's leader election would block until ctx ends.
	dctx, cancel := d.apiContext(ctx)
	err := d.ensureDeadSubject(dctx, c.DeadLetter)
	cancel()
	if err != nil {
		return nil, err
	}
	cctx, cancel := d.apiContext(ctx)
	defer cancel()
	cons, err := d.js.CreateOrUpdateConsumer(cctx, d.cfg.Stream, jetstream.ConsumerConfig{
		Durable:       c.Name,
		Description:   descDeadLetter + c.DeadLetter,
		FilterSubject: c.Subject,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		// The portable queue counts deliveries and dead-letters; the server's MaxDeliver would
		// only strand a message in the stream.
		MaxDeliver:    -1,
		MaxAckPending: c.MaxAckPending,
		// The server removes the consumer after this long without a pull (0: never).
		InactiveThreshold: c.InactiveThreshold,
		Replicas:          0, // inherit the stream's
		Metadata:          map[string]string{metaDeadLetter: c.DeadLetter},
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer %q on stream %s: %w", c.Name, d.cfg.Stream, d.mapErr(err, c.Subject))
	}
	return &subscription{d: d, cons: cons}, nil
}

// DeleteConsumer deletes the durable consumer.
func (d *Driver) DeleteConsumer(ctx context.Context, name string) error {
	if err := d.js.DeleteConsumer(ctx, d.cfg.Stream, name); err != nil {
		return d.mapErr(err, "")
	}
	return nil
}

// Purge removes the work stream's messages on subject, through the purge API directly: nats.go's
// Stream.Purge does not report how many it removed.
func (d *Driver) Purge(ctx context.Context, subject string) (int, error) {
	req, _ := json.Marshal(map[string]string{"filter": subject})
	ctx, cancel := withDefaultTimeout(ctx, d.js.Options().DefaultTimeout)
	defer cancel()
	resp, err := d.nc.RequestWithContext(ctx, d.apiPrefix()+"STREAM.PURGE."+d.cfg.Stream, req)
	if err != nil {
		return 0, d.mapErr(err, subject)
	}
	var r struct {
		Success bool                `json:"success"`
		Purged  uint64              `json:"purged"`
		Error   *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return 0, fmt.Errorf("purge: bad response: %w", err)
	}
	if r.Error != nil {
		return 0, d.mapErr(r.Error, subject)
	}
	return int(r.Purged), nil
}

func (d *Driver) apiPrefix() string {
	if p := d.js.Options().APIPrefix; p != "" {
		return p
	}
	return defaultAPIPrefix
}

// apiContext bounds one JetStream API call by the API timeout, even when ctx has a later deadline
// (jetstream applies its default timeout only to a context without one).
func (d *Driver) apiContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.js.Options().DefaultTimeout)
}

func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	if d <= 0 {
		d = 5 * time.Second
	}
	return context.WithTimeout(ctx, d)
}

// DefaultDeadLetter returns DeadPrefix+"."+consumer.
func (d *Driver) DefaultDeadLetter(consumer string) string { return d.cfg.DeadPrefix + "." + consumer }

// PublishDead stores m in the dead-letter stream on subject. Its Nats-Msg-Id is the work stream
// sequence, so dead-lettering the same message twice (a crash between storing it and acking it)
// stores it once, while two messages that share an ID are both kept; the original ID travels in
// a header of its own.
func (d *Driver) PublishDead(ctx context.Context, subject string, m *queue.Message) error {
	if m.Header == nil {
		m.Header = queue.Header{}
	}
	if m.ID != "" {
		m.Header.Set(headerOriginalID, m.ID)
	}
	m.ID = ""
	if m.Seq != 0 {
		m.ID = "kit-dead." + d.cfg.Stream + "." + strconv.FormatUint(m.Seq, 10)
	}
	return d.publish(ctx, subject, m)
}

// deadSubjectOf returns the dead-letter subject recorded on the consumer, or the default one.
func (d *Driver) deadSubjectOf(ctx context.Context, consumer string) (string, error) {
	cons, err := d.js.Consumer(ctx, d.cfg.Stream, consumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return d.DefaultDeadLetter(consumer), nil
	}
	if err != nil {
		return "", d.mapErr(err, "")
	}
	if s := deadSubjectIn(cons.CachedInfo().Config); s != "" {
		return s, nil
	}
	return d.DefaultDeadLetter(consumer), nil
}

// DeadLetters walks the dead-letter stream's messages on the consumer's dead-letter subject with
// "next message for subject" gets, one request each.
func (d *Driver) DeadLetters(ctx context.Context, consumer string) iter.Seq2[*queue.Message, error] {
	return func(yield func(*queue.Message, error) bool) {
		subject, err := d.deadSubjectOf(ctx, consumer)
		if err != nil {
			yield(nil, err)
			return
		}
		dead, err := d.deadStream(ctx)
		if err != nil {
			yield(nil, err)
			return
		}
		for seq := uint64(1); ; {
			raw, err := dead.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				return
			}
			if err != nil {
				yield(nil, d.mapErr(err, subject))
				return
			}
			h := queue.Header(raw.Header).Canonical()
			id := h.Get(headerOriginalID)
			h.Del(headerMsgID)
			h.Del(headerOriginalID)
			m := &queue.Message{ID: id, Subject: raw.Subject, Header: h, Data: raw.Data, Published: raw.Time, Seq: raw.Sequence}
			if !yield(m, nil) {
				return
			}
			seq = raw.Sequence + 1
		}
	}
}

// DeleteDead deletes the dead letter at seq.
func (d *Driver) DeleteDead(ctx context.Context, seq uint64) (bool, error) {
	dead, err := d.deadStream(ctx)
	if err != nil {
		return false, err
	}
	if err := dead.DeleteMsg(ctx, seq); err != nil {
		var apiErr *jetstream.APIError
		if errors.Is(err, jetstream.ErrMsgNotFound) || errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeMessageNotFound {
			return false, nil
		}
		return false, d.mapErr(err, "")
	}
	return true, nil
}

// Ping asks the server for the account's JetStream information: it answers only when JetStream
// does.
func (d *Driver) Ping(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx, d.js.Options().DefaultTimeout)
	defer cancel()
	if _, err := d.js.AccountInfo(ctx); err != nil {
		return d.mapErr(err, "")
	}
	return nil
}

// Close closes the connection it opened (and the embedded server).
func (d *Driver) Close() error {
	d.strayMu.Lock()
	already := d.closed.Swap(true)
	if !already {
		close(d.closing)
	}
	d.strayMu.Unlock()
	if already {
		return nil
	}
	d.strays.Wait()
	var errs []error
	if d.ownsConn {
		if err := d.nc.Drain(); err != nil && !errors.Is(err, natsgo.ErrConnectionClosed) {
			errs = append(errs, err)
		}
		waitClosed(d.nc, 5*time.Second)
	}
	if d.onClose != nil {
		errs = append(errs, d.onClose())
	}
	return errors.Join(errs...)
}

// waitClosed waits for a draining connection to close.
func waitClosed(nc *natsgo.Conn, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for !nc.IsClosed() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !nc.IsClosed() {
		nc.Close()
	}
}

// subsetOf reports whether every subject matching pattern sub also matches pattern sup.
func subsetOf(sub, sup string) bool {
	a, b := strings.Split(sub, "."), strings.Split(sup, ".")
	for i, y := range b {
		if y == ">" {
			return len(a) > i
		}
		if i >= len(a) {
			return false
		}
		x := a[i]
		switch {
		case x == ">":
			return false
		case y == "*":
		case x == "*" || x != y:
			return false
		}
	}
	return len(a) == len(b)
}
