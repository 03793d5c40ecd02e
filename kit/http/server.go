// Package http serves a Stackkit service over HTTP with production defaults: timeouts on every
// phase of a request, graceful shutdown for Kubernetes, health endpoints, and a default
// middleware stack (request IDs, panic recovery, access logs, OpenTelemetry, security headers,
// allowed hosts, cross-origin protection, body limits, compression) built from plain
// func(http.Handler) http.Handler pieces in kit/http/middleware.
//
//	import kithttp "github.com/stackkit/stackkit/kit/http"
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("GET /orders/{id}", getOrder)
//	h := health.New()
//	h.Add("database", db.Check(bdb))
//	stack, err := kithttp.DefaultStack(kithttp.StackConfig{AllowedHosts: []string{".example.com"}, Health: h})
//	srv := kithttp.NewServer(stack(mux), kithttp.WithHealth(h))
//	err = srv.Run(ctx) // returns nil after a graceful shutdown on SIGTERM or SIGINT
package http

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stackkit/stackkit/kit/http/health"
)

// Defaults. They follow from Kubernetes' default 30s termination grace period: drain 5s, then
// give in-flight requests 20s, leaving room before SIGKILL.
const (
	DefaultAddr              = ":8080"
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultDrainDelay        = 5 * time.Second
	DefaultShutdownTimeout   = 20 * time.Second
)

// Server runs an http.Server and the background workers of a service under one lifecycle.
type Server struct {
	handler         http.Handler
	addr            string
	listener        net.Listener
	tlsConfig       *tls.Config
	certFile        string
	keyFile         string
	h2c             bool
	readHeader      time.Duration
	read            time.Duration
	write           time.Duration
	idle            time.Duration
	maxHeaderBytes  int
	drainDelay      time.Duration
	shutdownTimeout time.Duration
	signals         bool
	logger          *slog.Logger
	health          *health.Health
	workers         []worker
	onShutdown      []func()

	srv        *http.Server
	draining   atomic.Bool // responses say Connection: close (HTTP/2: GOAWAY)
	drainOnce  sync.Once
	drainStart time.Time // set by drainOnce
	ready      chan struct{}
	stop       chan struct{}
	stopOnce   sync.Once
}

type worker struct {
	name string
	run  func(context.Context) error
}

// Option configures a Server.
type Option func(*Server)

// WithAddr sets where to listen: "host:port", ":port", or "unix:/path/to.sock" (default ":8080").
func WithAddr(addr string) Option { return func(s *Server) { s.addr = addr } }

// WithListener serves on l instead of listening on the address (socket activation, tests).
func WithListener(l net.Listener) Option { return func(s *Server) { s.listener = l } }

// WithTLS serves HTTPS, with HTTP/2, from a certificate and key file.
func WithTLS(certFile, keyFile string) Option {
	return func(s *Server) { s.certFile, s.keyFile = certFile, keyFile }
}

// WithTLSConfig serves HTTPS with HTTP/2 using cfg (certificates in cfg).
func WithTLSConfig(cfg *tls.Config) Option { return func(s *Server) { s.tlsConfig = cfg } }

// WithH2C also accepts unencrypted HTTP/2 (h2c), for a proxy in front that speaks HTTP/2 to the
// service. Never expose h2c to the internet directly.
func WithH2C(on bool) Option { return func(s *Server) { s.h2c = on } }

// WithTimeouts sets the read-header, read, write and idle timeouts; 0 keeps a default. A handler
// that streams longer than the write timeout extends its own deadline with
// http.ResponseController.SetWriteDeadline.
func WithTimeouts(readHeader, read, write, idle time.Duration) Option {
	return func(s *Server) {
		s.readHeader = cmpOr(readHeader, s.readHeader)
		s.read = cmpOr(read, s.read)
		s.write = cmpOr(write, s.write)
		s.idle = cmpOr(idle, s.idle)
	}
}

func cmpOr(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

// WithMaxHeaderBytes limits the request line and headers (default 64 KiB); larger requests get 431.
func WithMaxHeaderBytes(n int) Option { return func(s *Server) { s.maxHeaderBytes = n } }

// WithDrainDelay sets how long, after SIGTERM, the server keeps serving while readiness reports
// unready, so load balancers and kube-proxy stop routing to it (default 5s). Connections stay
// open meanwhile; each response tells its client to close the connection (HTTP/1.1 Connection:
// close, HTTP/2 GOAWAY). SIGINT (Ctrl-C) skips the delay.
func WithDrainDelay(d time.Duration) Option { return func(s *Server) { s.drainDelay = d } }

// WithShutdownTimeout bounds how long in-flight requests and workers get to finish (default 20s);
// connections still open then are closed.
func WithShutdownTimeout(d time.Duration) Option { return func(s *Server) { s.shutdownTimeout = d } }

// WithSignals turns handling of SIGTERM and SIGINT on or off (default on).
func WithSignals(on bool) Option { return func(s *Server) { s.signals = on } }

// WithLogger sets the logger; the default is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.logger = l } }

// WithHealth makes shutdown turn h unready before anything else.
func WithHealth(h *health.Health) Option { return func(s *Server) { s.health = h } }

// WithWorker runs fn beside the HTTP server, under the same lifecycle: its context is cancelled
// after the HTTP server has drained, and Run waits for it to return. A worker that fails (returns
// a non-nil error other than context.Canceled) shuts the whole server down, and Run returns its
// error.
func WithWorker(name string, fn func(ctx context.Context) error) Option {
	return func(s *Server) { s.workers = append(s.workers, worker{name, fn}) }
}

// OnShutdown registers fn to be called when shutdown begins, to tell long-lived connections
// (WebSockets, server-sent events) to finish; http.Server.Shutdown does not wait for hijacked
// connections.
func OnShutdown(fn func()) Option {
	return func(s *Server) { s.onShutdown = append(s.onShutdown, fn) }
}

// NewServer returns a Server for handler.
func NewServer(handler http.Handler, opts ...Option) *Server {
	s := &Server{
		handler: handler, addr: DefaultAddr,
		readHeader: DefaultReadHeaderTimeout, read: DefaultReadTimeout, write: DefaultWriteTimeout,
		idle: DefaultIdleTimeout, maxHeaderBytes: DefaultMaxHeaderBytes,
		drainDelay: DefaultDrainDelay, shutdownTimeout: DefaultShutdownTimeout,
		signals: true, logger: slog.Default(),
		ready: make(chan struct{}), stop: make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Ready is closed once the server is listening; Addr is valid from then on.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the address the server listens on, once Ready is closed.
func (s *Server) Addr() net.Addr {
	if s.listener == nil {
		return nil
	}
	return s.listener.Addr()
}

// Shutdown starts a graceful shutdown, as SIGTERM does; Run returns when it is complete.
func (s *Server) Shutdown() { s.stopOnce.Do(func() { close(s.stop) }) }

// Drain starts the first step of a shutdown without the rest: readiness turns unready and every
// response closes its connection, while the server keeps serving and accepting until Shutdown
// (or a signal). The drain delay counts from the first call: a Shutdown later waits only what
// is left of it. It is for a caller that decides itself when to stop serving, such as a service
// whose workers finish their work first while probes and metrics are still served.
func (s *Server) Drain() {
	s.drainOnce.Do(func() {
		s.drainStart = time.Now()
		if s.health != nil {
			s.health.Drain()
		}
		s.draining.Store(true)
	})
}

func (s *Server) listen() error {
	if s.listener != nil {
		return nil
	}
	network, address := "tcp", s.addr
	if path, ok := strings.CutPrefix(s.addr, "unix:"); ok {
		network, address = "unix", path
		// A socket file left by a crashed process would make Listen fail.
		if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			_ = os.Remove(path)
		}
	}
	l, err := net.Listen(network, address)
	if err != nil {
		return fmt.Errorf("http: %w", err) // "listen tcp 127.0.0.1:8080: bind: address already in use"
	}
	s.listener = l
	return nil
}

// drainHandler is the handler, which once the drain starts asks every client to close its
// connection after the response. net/http's HTTP/1 server then closes the connection once the
// response is written (after the client has read it), and its HTTP/2 server turns the header into
// a graceful GOAWAY: streams already open finish, new ones go to a new connection. The header is
// set before the handler runs, so a response already under way keeps its connection open; the
// next request on it gets the header.
func (s *Server) drainHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		s.handler.ServeHTTP(w, r)
	})
}

// Run listens, serves until ctx is cancelled, Shutdown is called, a signal arrives (SIGTERM or
// SIGINT, unless WithSignals(false)) or a worker fails, then shuts down gracefully:
//
//  1. readiness turns unready (WithHealth), and every response from then on closes its
//     connection (Connection: close, or GOAWAY on HTTP/2), so clients move to other replicas one
//     response at a time; connections keep being served, new ones accepted;
//  2. after the drain delay (SIGTERM only), the listener and idle connections close and in-flight
//     requests get the shutdown timeout to finish; OnShutdown callbacks tell long-lived
//     connections to close;
//  3. workers are cancelled and awaited; connections still open at the deadline are closed.
//
// Run returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	if err := s.listen(); err != nil {
		return err
	}
	s.srv = &http.Server{
		Handler:           s.drainHandler(),
		ReadHeaderTimeout: s.readHeader,
		ReadTimeout:       s.read,
		WriteTimeout:      s.write,
		IdleTimeout:       s.idle,
		MaxHeaderBytes:    s.maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		TLSConfig:         s.tlsConfig,
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	if s.tlsConfig != nil || s.certFile != "" {
		protocols.SetHTTP2(true)
	}
	protocols.SetUnencryptedHTTP2(s.h2c)
	s.srv.Protocols = protocols
	for _, fn := range s.onShutdown {
		s.srv.RegisterOnShutdown(fn)
	}

	var sigs chan os.Signal
	if s.signals {
		sigs = make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
		defer signal.Stop(sigs)
	}

	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	workerErr := make(chan error, len(s.workers))
	var workers sync.WaitGroup
	for _, w := range s.workers {
		workers.Go(func() {
			err := w.run(workCtx)
			if err != nil && !errors.Is(err, context.Canceled) {
				workerErr <- fmt.Errorf("http: worker %s: %w", w.name, err)
			}
		})
	}

	serveErr := make(chan error, 1)
	go func() {
		var err error
		if s.tlsConfig != nil || s.certFile != "" {
			err = s.srv.ServeTLS(s.listener, s.certFile, s.keyFile)
		} else {
			err = s.srv.Serve(s.listener)
		}
		serveErr <- err
	}()
	s.logger.InfoContext(ctx, "http: serving", "addr", s.listener.Addr().String(),
		"drain_delay", s.drainDelay.String(), "shutdown_timeout", s.shutdownTimeout.String())
	close(s.ready)

	drain := s.drainDelay
	var runErr error
	select {
	case <-ctx.Done():
		s.logger.InfoContext(ctx, "http: shutting down", "reason", "context cancelled")
	case <-s.stop:
		s.logger.InfoContext(ctx, "http: shutting down", "reason", "Shutdown called")
	case sig := <-sigs:
		s.logger.InfoContext(ctx, "http: shutting down", "signal", sig.String())
		if sig == os.Interrupt {
			drain = 0
		}
	case err := <-workerErr:
		s.logger.ErrorContext(ctx, "http: shutting down", "reason", "worker failed", "error", err)
		runErr, drain = err, 0
	case err := <-serveErr:
		cancelWork()
		workers.Wait()
		return fmt.Errorf("http: serve: %w", err)
	}

	// 1. Unready, and every response closes its connection: clients reconnect elsewhere after
	// their next response. Keep-alives are not switched off here: net/http would close every
	// idle connection at once, and a client sending on one in the same instant gets no response.
	stopping := time.Now()
	s.Drain()
	// 2. Keep serving while load balancers notice, counting from Drain if it was called earlier.
	if drain > 0 && s.drainStart.Before(stopping) {
		drain = (drain - time.Since(s.drainStart)).Round(time.Millisecond)
	}
	if drain > 0 {
		s.logger.InfoContext(ctx, "http: draining", "delay", drain.String())
		timer := time.NewTimer(drain)
		select {
		case <-timer.C:
		case sig := <-sigs: // a second signal: stop waiting
			timer.Stop()
			s.logger.InfoContext(ctx, "http: drain delay cut short", "signal", sig.String())
		}
	}
	// 3. Stop accepting, let in-flight requests finish.
	s.logger.InfoContext(ctx, "http: closing the listener, finishing requests in flight", "timeout", s.shutdownTimeout.String())
	deadline, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.shutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(deadline); err != nil {
		s.logger.WarnContext(ctx, "http: in-flight requests did not finish in time; closing their connections",
			"timeout", s.shutdownTimeout.String(), "error", err)
		_ = s.srv.Close()
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		runErr = errors.Join(runErr, fmt.Errorf("http: serve: %w", err))
	}
	// 4. Workers last: in-flight requests may have handed them work.
	cancelWork()
	done := make(chan struct{})
	go func() { workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-deadline.Done():
		runErr = errors.Join(runErr, fmt.Errorf("http: workers did not stop within the shutdown timeout %s", s.shutdownTimeout))
	}
	// Collect worker failures without closing the channel: an abandoned worker may still send.
	for pending := true; pending; {
		select {
		case err := <-workerErr:
			if !errors.Is(runErr, err) {
				runErr = errors.Join(runErr, err)
			}
		default:
			pending = false
		}
	}
	s.logger.InfoContext(ctx, "http: stopped")
	return runErr
}
