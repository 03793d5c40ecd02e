package servicekit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	kithttp "github.com/stackkit/stackkit/kit/http"
	"github.com/stackkit/stackkit/kit/http/health"
)

// Server is a service's HTTP server (probes, metrics, its own endpoints) with one background
// worker, and the drain that stops them on shutdown: the worker first, while probes and metrics
// are still served, then the HTTP server.
type Server struct {
	Name    string       // the service's name: the prefix of its log messages
	Addr    string       // the HTTP listen address
	Handler http.Handler // serves everything, Health's endpoints included
	Health  *health.Health
	Logger  *slog.Logger
	// DrainDelay is the least time the HTTP server keeps serving after ctx is done, with /readyz
	// answering 503 and every response closing its connection (HTTP/2: GOAWAY), so that load
	// balancers stop routing to it before it closes. It runs alongside the worker's drain: the
	// server closes when both are over. 0 suits a service whose port only probes and Prometheus
	// reach; one that serves requests routed through a Service or an ingress (a webhook) wants
	// some seconds (kit/http's default is 5s).
	DrainDelay      time.Duration
	ShutdownTimeout time.Duration // closing the HTTP server once the worker has drained and DrainDelay passed

	WorkerName string                          // the worker's name in kit/http's errors
	Work       func(ctx context.Context) error // runs until ctx is cancelled, then finishes what is in flight
	Ready      <-chan struct{}                 // closed once Work consumes: "<Name>: consuming" is logged
	ReadyAttrs []any                           // the attributes of that log line

	DrainTimeout time.Duration // how long the work in flight gets to finish after ctx is done
	DrainMessage string        // logged when the drain starts, with "timeout" and DrainAttrs()
	DrainAttrs   func() []any  // optional: more attributes for DrainMessage, read when it starts
	// DrainTimedOut is called when the work still runs after DrainTimeout; the HTTP server is then
	// shut down and Run returns DrainTimedOut's error (it may log and return nil).
	DrainTimedOut func() error
}

// Run serves and works until ctx is done, or the server or the worker stops on its own. Then it
// drains: /readyz turns 503 and responses close their connections, Work's context is cancelled
// and Run waits up to DrainTimeout for it to return, and at least DrainDelay, before closing the
// HTTP server. It returns the server's error and DrainTimedOut's, joined.
func (s Server) Run(ctx context.Context) error {
	logger := s.Logger
	// The worker's context is its own: a cancelled ctx stops it first, while the HTTP server keeps
	// serving probes and metrics; the server stops once the worker has drained.
	workerCtx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorker()
	workerDone := make(chan struct{})
	runDone := make(chan struct{})
	var srv *kithttp.Server
	srv = kithttp.NewServer(s.Handler, kithttp.WithAddr(s.Addr), kithttp.WithHealth(s.Health),
		kithttp.WithLogger(logger), kithttp.WithSignals(false), kithttp.WithDrainDelay(s.DrainDelay),
		kithttp.WithShutdownTimeout(s.ShutdownTimeout),
		kithttp.WithWorker(s.WorkerName, func(sctx context.Context) error {
			defer close(workerDone)
			defer srv.Shutdown()
			// The server shutting down for its own reasons (it could not serve) stops the worker.
			defer context.AfterFunc(sctx, stopWorker)()
			go func() {
				select {
				case <-s.Ready:
					logger.Info(s.Name+": consuming", s.ReadyAttrs...)
				case <-workerCtx.Done():
				}
			}()
			return s.Work(workerCtx)
		}))

	var drainErr error
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		select {
		case <-ctx.Done():
		case <-workerDone:
			return
		case <-runDone:
			return
		}
		attrs := []any{"timeout", s.DrainTimeout.String(), "drain_delay", s.DrainDelay.String()}
		if s.DrainAttrs != nil {
			attrs = append(attrs, s.DrainAttrs()...)
		}
		logger.Info(s.DrainMessage, attrs...)
		srv.Drain() // /readyz 503, responses close their connections; the drain delay starts
		stopWorker()
		t := time.NewTimer(s.DrainTimeout)
		defer t.Stop()
		select {
		case <-workerDone:
			logger.Info(s.Name + ": drained")
		case <-runDone:
			// The server stopped first; the worker may have returned at the same moment.
			select {
			case <-workerDone:
				logger.Info(s.Name + ": drained")
			default:
			}
		case <-t.C:
			if s.DrainTimedOut != nil {
				drainErr = s.DrainTimedOut()
			}
			srv.Shutdown()
		}
	}()

	err := srv.Run(context.WithoutCancel(ctx))
	if opErr := (*net.OpError)(nil); errors.As(err, &opErr) && opErr.Op == "listen" {
		err = fmt.Errorf("KIT_HTTP_ADDR: %w", err) // the port in use, or an address not of this host
	}
	close(runDone)
	<-drained
	if err = errors.Join(err, drainErr); err != nil {
		return err
	}
	logger.Info(s.Name + ": stopped")
	return nil
}
