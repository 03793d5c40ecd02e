package servicekit

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/stackkit/stackkit/kit/registry"
)

// Exit codes of a service process.
const (
	ExitOK      = 0
	ExitFailure = 1 // a runtime failure: a server unreachable at start, a drain that timed out
	ExitConfig  = 2 // a configuration error: a bad variable, URL or URL option
)

// ExitCode maps a service's error to its exit code: ExitConfig for [ErrConfig], the registry's
// URL errors (unknown scheme or option, invalid URL) and any of configErrs; ExitFailure for any
// other error; ExitOK for nil.
func ExitCode(err error, configErrs ...error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrConfig), errors.Is(err, registry.ErrInvalidOption),
		errors.Is(err, registry.ErrUnknownScheme), errors.Is(err, registry.ErrInvalidURL):
		return ExitConfig
	}
	for _, c := range configErrs {
		if errors.Is(err, c) {
			return ExitConfig
		}
	}
	return ExitFailure
}

// NewLogger returns a service's logger: JSON lines on w at level.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// Main is a service process: given the configuration's log level and error (configErr, from
// reading the environment), it logs JSON to stderr, makes that logger the default, and calls run
// with a context cancelled by SIGTERM or SIGINT; a second signal ends the process at once. It
// logs "<name>: cannot start" (configuration errors) or "<name>: failed" and returns the exit
// code that exitCode gives run's error.
func Main(name string, level slog.Level, configErr error, run func(context.Context, *slog.Logger) error, exitCode func(error) int) int {
	logger := NewLogger(os.Stderr, level)
	if configErr != nil {
		logger.Error(name+": cannot start", "error", configErr.Error())
		return ExitConfig
	}
	slog.SetDefault(logger) // the embedded NATS server and libraries without a logger option log here
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	// After the first signal the default behaviour returns: a second SIGINT or SIGTERM ends the
	// process at once, without waiting for the drain.
	go func() { <-ctx.Done(); stop() }()
	if err := run(ctx, logger); err != nil {
		code := exitCode(err)
		msg := name + ": failed"
		if code == ExitConfig {
			msg = name + ": cannot start"
		}
		logger.Error(msg, "error", err.Error())
		return code
	}
	return ExitOK
}

// CloseWithin calls closeFn, giving up after timeout: the process is exiting. A failure is logged
// as a warning with message msg, a timeout as msg+" timed out".
func CloseWithin(logger *slog.Logger, msg string, timeout time.Duration, closeFn func() error) {
	done := make(chan error, 1)
	go func() { done <- closeFn() }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			logger.Warn(msg, "error", err.Error())
		}
	case <-t.C:
		logger.Warn(msg+" timed out", "timeout", timeout.String())
	}
}
