package nats

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/registry"
)

// DefaultURL is the local default queue: an embedded NATS server with JetStream persisted in
// .kit/nats under the working directory, reachable only from this process.
const DefaultURL = "nats+embedded://.kit/nats"

// DefaultDir is the embedded server's directory when the URL names none.
const DefaultDir = ".kit/nats"

// EmbeddedConfig is the embedded server's configuration.
type EmbeddedConfig struct {
	// Dir holds JetStream's files. It is locked while the server runs: a second server on the
	// same directory, in this process or another, fails to start.
	Dir string
	// Listen, when set ("127.0.0.1:0" for a random port), also serves NATS clients on TCP, so
	// other processes (kitctl, say) can reach the queue; see [Driver.ClientURL]. It has no
	// authentication: keep it on loopback. By default the server listens on nothing and this
	// process connects in memory.
	Listen string
	// MaxStore and MaxMemory bound JetStream's file and memory storage (0: unlimited).
	MaxStore, MaxMemory int64
	// SyncAlways makes the server fsync every write: a machine crash loses nothing, at a cost in
	// speed. By default writes reach the OS at once (a process crash loses nothing) and are
	// synced every two minutes.
	SyncAlways bool
}

func openEmbedded(ctx context.Context, u *url.URL, opts *registry.Options) (queue.Driver, error) {
	r := &reader{Options: opts}
	ec := EmbeddedConfig{Dir: u.Host + u.Path}
	if u.Opaque != "" {
		ec.Dir = u.Opaque
	}
	if ec.Dir == "" {
		ec.Dir = DefaultDir
	}
	ec.Listen = r.String("listen", "")
	if ec.Listen != "" {
		if _, port, err := net.SplitHostPort(ec.Listen); err != nil {
			r.fail("listen", ec.Listen, "not host:port (want e.g. 127.0.0.1:0 for a random loopback port)")
		} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			r.fail("listen", ec.Listen, "bad port")
		}
	}
	ec.MaxStore = r.Size("max_store", 0)
	ec.MaxMemory = r.Size("max_memory", 0)
	ec.SyncAlways = r.Bool("sync_always", false)
	cfg := readConfig(r)
	timeout := apiTimeout(r)
	if err := r.err(); err != nil {
		return nil, err
	}
	return NewEmbedded(ctx, ec, cfg, jetstream.WithDefaultTimeout(timeout))
}

// NewEmbedded starts a NATS server with JetStream in this process, persisted in ec.Dir, and
// returns a driver connected to it in memory. Closing the driver shuts the server down.
func NewEmbedded(ctx context.Context, ec EmbeddedConfig, cfg Config, opts ...jetstream.JetStreamOpt) (*Driver, error) {
	if ec.Dir == "" {
		ec.Dir = DefaultDir
	}
	dir, err := filepath.Abs(ec.Dir)
	if err != nil {
		return nil, err
	}
	if cfg.NoCreate {
		// Create nothing: not the directory, nor the server's store in it (which has the streams).
		if _, err := os.Stat(filepath.Join(dir, server.JetStreamStoreDir)); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: embedded NATS directory %s holds no JetStream store (create=false: nothing is created)", queue.ErrNotFound, ec.Dir)
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	sopts := &server.Options{
		ServerName:         "kit-embedded",
		JetStream:          true,
		StoreDir:           dir,
		JetStreamMaxStore:  ec.MaxStore,
		JetStreamMaxMemory: ec.MaxMemory,
		SyncAlways:         ec.SyncAlways,
		DontListen:         ec.Listen == "",
		NoSigs:             true,
		HTTPPort:           0,
	}
	if ec.Listen != "" {
		host, port, _ := net.SplitHostPort(ec.Listen)
		sopts.Host = host
		sopts.Port, _ = strconv.Atoi(port)
		if sopts.Port == 0 {
			sopts.Port = server.RANDOM_PORT
		}
	}
	ns, err := server.NewServer(sopts)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("embedded NATS in %s: %w", dir, err)
	}
	start := &startFailure{}
	ns.SetLoggerV2(slogLogger{slog.Default().With("component", "nats-server"), start}, false, false, false)
	ns.Start()
	shutdown := func() error {
		ns.Shutdown()
		ns.WaitForShutdown()
		unlock()
		return nil
	}
	wait := 30 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		wait = time.Until(dl)
	}
	// A listener that cannot listen (the port in use) is reported only through the logger's
	// Fatalf; ReadyForConnections would wait out its whole timeout. Wait in short steps instead
	// and return that error as soon as it comes.
	for deadline := time.Now().Add(wait); !ns.ReadyForConnections(50 * time.Millisecond); {
		err := start.err()
		if err == nil && time.Now().After(deadline) {
			err = fmt.Errorf("not ready after %s", wait.Round(time.Millisecond))
		}
		if err == nil && ctx.Err() != nil {
			err = ctx.Err()
		}
		if err != nil {
			_ = shutdown()
			return nil, fmt.Errorf("embedded NATS in %s: %w", dir, err)
		}
	}
	if err := start.started(); err != nil { // reported, yet the server is ready
		slog.Default().Error("embedded NATS: "+err.Error(), "component", "nats-server")
	}
	nc, err := natsgo.Connect(ns.ClientURL(), natsgo.InProcessServer(ns), natsgo.Name("kit-queue"),
		natsgo.MaxReconnects(-1), natsgo.ReconnectBufSize(-1))
	if err != nil {
		_ = shutdown()
		return nil, fmt.Errorf("embedded NATS in %s: connect: %w", dir, err)
	}
	d, err := NewDriver(ctx, nc, cfg, opts...)
	if err != nil {
		nc.Close()
		_ = shutdown()
		return nil, err
	}
	d.ownsConn = true
	d.server = ns
	d.onClose = shutdown
	return d, nil
}

// Server returns the embedded server, or nil for a driver connected to a server elsewhere.
func (d *Driver) Server() *server.Server { return d.server }

// ClientURL returns the URL other processes can reach the embedded server at, when it listens on
// TCP (EmbeddedConfig.Listen), or "" otherwise.
func (d *Driver) ClientURL() string {
	if d.server == nil || d.server.Addr() == nil {
		return ""
	}
	return d.server.ClientURL()
}

// slogLogger sends the embedded server's log to slog: notices at debug level (the server is
// chatty at startup), warnings and errors as such. A fatal error while the server starts is
// returned by Open instead of logged.
type slogLogger struct {
	l     *slog.Logger
	start *startFailure
}

func (s slogLogger) Noticef(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s slogLogger) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s slogLogger) Fatalf(format string, v ...any) {
	if !s.start.catch(format, v) {
		s.l.Error(fmt.Sprintf(format, v...))
	}
}
func (s slogLogger) Errorf(format string, v ...any) { s.l.Error(fmt.Sprintf(format, v...)) }
func (s slogLogger) Debugf(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s slogLogger) Tracef(format string, v ...any) {}

// startFailure holds the first fatal error the embedded server reports while it starts.
type startFailure struct {
	mu    sync.Mutex
	done  bool // started: fatal errors are logged from now on
	first error
}

// catch keeps a fatal error reported before the server started, and says whether it did. The
// server's listener errors come as "Error listening on port: %s, %q" with the *net.OpError as an
// argument: that error ("listen tcp 127.0.0.1:4222: bind: address already in use") is kept.
func (f *startFailure) catch(format string, v []any) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return false
	}
	if f.first == nil {
		f.first = fmt.Errorf(format, v...)
		for _, a := range v {
			if err, ok := a.(error); ok {
				f.first = err
				break
			}
		}
	}
	return true
}

func (f *startFailure) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.first
}

// started ends the start: it returns what was caught meanwhile, for the caller to log.
func (f *startFailure) started() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.done = true
	return f.first
}

var errDirLocked = errors.New("in use by another embedded NATS server")
