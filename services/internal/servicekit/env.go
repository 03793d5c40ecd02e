package servicekit

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stackkit/stackkit/kit/registry"
)

// ErrConfig is wrapped by every configuration error: the process exits with ExitConfig.
var ErrConfig = errors.New("configuration error")

// Env reads a service's configuration variables, collecting every bad value so that one start
// reports them all, each naming its variable. A reader method returns its default for an unset
// (or blank) variable and for a bad one. Values are quoted in errors only by the typed readers
// (numbers, durations, levels): read secrets and URLs with [Env.String], which never fails.
//
//	e := servicekit.ParseEnv(os.Environ())
//	n := e.Int("KIT_MAIL_CONCURRENCY", 4, 1, 1000)
//	e.RejectUnknown(known, "KIT_MAIL_")
//	if err := e.Err(); err != nil { ... } // wraps ErrConfig
type Env struct {
	vars map[string]string
	errs []error
}

// ParseEnv returns an Env over environ ("NAME=value" pairs, as os.Environ returns).
func ParseEnv(environ []string) *Env {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	return &Env{vars: vars}
}

// Get returns name's value as it is set ("" when unset).
func (e *Env) Get(name string) string { return e.vars[name] }

// Fail records that name is bad, for reason.
func (e *Env) Fail(name, reason string) {
	e.errs = append(e.errs, fmt.Errorf("%s: %s", name, reason))
}

// String returns name's value with surrounding space trimmed, or def when that is empty.
func (e *Env) String(name, def string) string {
	if v := strings.TrimSpace(e.vars[name]); v != "" {
		return v
	}
	return def
}

// Int returns name's value as a whole number from lo to hi.
func (e *Env) Int(name string, def, lo, hi int) int {
	v := strings.TrimSpace(e.vars[name])
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		e.Fail(name, fmt.Sprintf("%q: want a whole number from %d to %d", v, lo, hi))
		return def
	}
	return n
}

// Duration returns name's value as a duration of at least lo, in registry.ParseDuration's syntax.
func (e *Env) Duration(name string, def, lo time.Duration) time.Duration {
	v := strings.TrimSpace(e.vars[name])
	if v == "" {
		return def
	}
	d, err := registry.ParseDuration(v)
	if err != nil {
		e.Fail(name, fmt.Sprintf("%q: %v", v, err))
		return def
	}
	if d < lo {
		e.Fail(name, fmt.Sprintf("%q: must be at least %s", v, lo))
		return def
	}
	return d
}

// Durations returns name's value as a comma-separated list of durations (a retry schedule), or a
// copy of def.
func (e *Env) Durations(name string, def []time.Duration) []time.Duration {
	v := strings.TrimSpace(e.vars[name])
	if v == "" {
		return slices.Clone(def)
	}
	var out []time.Duration
	for part := range strings.SplitSeq(v, ",") {
		d, err := registry.ParseDuration(strings.TrimSpace(part))
		if err != nil {
			e.Fail(name, fmt.Sprintf("%q: %q: %v (want a comma-separated list such as %s)", v, strings.TrimSpace(part), err, durationsExample(def)))
			return slices.Clone(def)
		}
		out = append(out, d)
	}
	return out
}

// durationsExample writes the first three of def as an example of the list syntax.
func durationsExample(def []time.Duration) string {
	if len(def) == 0 {
		return "5s,30s,2m"
	}
	var parts []string
	for _, d := range def[:min(3, len(def))] {
		s := d.String()
		s = strings.TrimSuffix(s, "m0s")
		if s != d.String() {
			s += "m"
		}
		if t := strings.TrimSuffix(s, "h0m"); t != s {
			s = t + "h"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ",")
}

// HTTP is a service's HTTP server settings, shared by every service and read by [Env.HTTP].
type HTTP struct {
	Addr            string        // KIT_HTTP_ADDR: where to listen
	DrainDelay      time.Duration // KIT_HTTP_DRAIN_DELAY: [Server.DrainDelay]
	ShutdownTimeout time.Duration // KIT_HTTP_SHUTDOWN_TIMEOUT: [Server.ShutdownTimeout]
}

// HTTP reads KIT_HTTP_ADDR, KIT_HTTP_DRAIN_DELAY (0 or more) and KIT_HTTP_SHUTDOWN_TIMEOUT (at
// least 100ms), each defaulting to def's value.
func (e *Env) HTTP(def HTTP) HTTP {
	return HTTP{
		Addr:            e.String("KIT_HTTP_ADDR", def.Addr),
		DrainDelay:      e.Duration("KIT_HTTP_DRAIN_DELAY", def.DrainDelay, 0),
		ShutdownTimeout: e.Duration("KIT_HTTP_SHUTDOWN_TIMEOUT", def.ShutdownTimeout, 100*time.Millisecond),
	}
}

// Level returns name's value (def when unset) as a slog level: debug, info, warn or error.
func (e *Env) Level(name, def string) slog.Level {
	var l slog.Level
	if v := e.String(name, def); v != "" {
		if err := l.UnmarshalText([]byte(v)); err != nil {
			e.Fail(name, fmt.Sprintf("%q: want debug, info, warn or error", v))
			return 0
		}
	}
	return l
}

// RejectUnknown fails every set variable that starts with one of prefixes (such as "KIT_MAIL_")
// but is not in known: a typo must not be silently ignored. The error lists the known names.
func (e *Env) RejectUnknown(known []string, prefixes ...string) {
	for k := range e.vars {
		if slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(k, p) }) && !slices.Contains(known, k) {
			e.Fail(k, "unknown variable (known: "+strings.Join(known, ", ")+")")
		}
	}
}

// Err returns nil, or every failure, sorted, joined and wrapped with [ErrConfig].
func (e *Env) Err() error {
	if len(e.errs) == 0 {
		return nil
	}
	errs := slices.Clone(e.errs)
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
}
