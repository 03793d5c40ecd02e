// Command httpload serves GET /hello ("hello", text/plain) for bench/load.sh's loopback load
// test, either from bare net/http or from Stackkit's server and default middleware stack:
//
//	httpload -stack bare -addr 127.0.0.1:18080
//	httpload -stack kit  -addr 127.0.0.1:18081
//
// -stack bare is what a bare net/http program runs: an http.Server with the ServeMux and nothing
// else (no timeouts, no middleware). -stack kit is kithttp.NewServer (its timeouts and header
// limit) around kithttp.DefaultStack with AllowedHosts {"example.com"}, no-op OpenTelemetry
// providers and a disabled access logger, as in BenchmarkHTTPStack's stack=kit; kit-logging
// writes the access log as JSON to io.Discard. -stack kit-stack is the same middleware on bare
// net/http's http.Server, to tell the stack's cost from the server's; -stack bare-headers is
// bare net/http sending the response headers kit adds, to tell the middleware's cost from that
// of the bytes it adds to every response. Requests must carry Host: example.com.
//
// It listens on loopback only, stops on SIGTERM or SIGINT, and stops by itself after -max
// (default 5 minutes) so that a load test that fails half-way leaves nothing running.
package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	kithttp "github.com/stackkit/stackkit/kit/http"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

func main() {
	stack := flag.String("stack", "bare", "bare, bare-headers, kit, kit-logging or kit-stack")
	addr := flag.String("addr", "127.0.0.1:18080", "loopback address to listen on")
	maxRun := flag.Duration("max", 5*time.Minute, "stop after this long whatever happens")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "httpload:", err)
			os.Exit(1)
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	if err := run(*stack, *addr, *maxRun); err != nil {
		fmt.Fprintln(os.Stderr, "httpload:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(stack, addr string, maxRun time.Duration) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %s: only loopback addresses are served", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, maxRun)
	defer cancel()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, _ *http.Request) {
		w.Header()["Content-Type"] = []string{"text/plain; charset=utf-8"}
		_, _ = w.Write([]byte("hello"))
	})

	switch stack {
	case "bare":
		return serveBare(ctx, l, mux)
	case "bare-headers":
		return serveBare(ctx, l, withKitHeaders(mux))
	case "kit", "kit-logging", "kit-stack":
		logger := slog.New(slog.DiscardHandler)
		if stack == "kit-logging" {
			logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
		}
		mw, err := kithttp.DefaultStack(kithttp.StackConfig{
			Logger:         logger,
			AllowedHosts:   []string{"example.com"},
			TracerProvider: tracenoop.NewTracerProvider(),
			MeterProvider:  metricnoop.NewMeterProvider(),
		})
		if err != nil {
			return err
		}
		if stack == "kit-stack" {
			return serveBare(ctx, l, mw(mux))
		}
		srv := kithttp.NewServer(mw(mux),
			kithttp.WithListener(l),
			kithttp.WithSignals(false), // ctx carries the signals, without the drain delay
			kithttp.WithDrainDelay(0),
			kithttp.WithShutdownTimeout(5*time.Second),
			kithttp.WithLogger(slog.New(slog.DiscardHandler)))
		return srv.Run(ctx)
	}
	return fmt.Errorf("-stack %q: want bare, bare-headers, kit, kit-logging or kit-stack", stack)
}

// withKitHeaders sets the response headers kit's default stack adds to /hello over plain HTTP
// (a new 128-bit request ID, the four security headers, Vary), and nothing else: what sending
// those bytes costs, without the middleware.
func withKitHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
		binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
		var id [32]byte
		hex.Encode(id[:], b[:])
		h["X-Request-Id"] = []string{string(id[:])}
		h["X-Content-Type-Options"] = []string{"nosniff"}
		h["Referrer-Policy"] = []string{"same-origin"}
		h["Cross-Origin-Opener-Policy"] = []string{"same-origin"}
		h["X-Frame-Options"] = []string{"DENY"}
		h["Vary"] = []string{"Accept-Encoding"}
		next.ServeHTTP(w, r)
	})
}

// serveBare serves h as a bare net/http program does, until ctx is done.
func serveBare(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
