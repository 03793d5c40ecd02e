package registry

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidOption is wrapped by every error about a URL query option: unknown, repeated or malformed.
var ErrInvalidOption = errors.New("invalid option")

// OptionError describes one bad query option.
type OptionError struct {
	Option string // the query parameter's name
	Value  string // its value, redacted when the option is secret
	Reason string // what is wrong, e.g. `not a duration (want e.g. "5s", "1m30s")`
}

func (e *OptionError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("option %q: %s", e.Option, e.Reason)
	}
	return fmt.Sprintf("option %q=%q: %s", e.Option, e.Value, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalidOption) match.
func (e *OptionError) Unwrap() error { return ErrInvalidOption }

// Options reads the query options of a backend URL strictly. Each accessor both reads an option and
// declares it valid; after reading every option it supports, the opener calls [Options.Err], which
// reports malformed values and any option that was given but never read, listing the valid ones:
//
//	opts := registry.NewOptions(u.Query())
//	prefix := opts.String("prefix", "")
//	ttl := opts.Duration("default_ttl", 5*time.Minute)
//	size := opts.Size("max_size", 64<<20)
//	if err := opts.Err(); err != nil {
//		return nil, err // option "defualt_ttl": unknown option (valid options: default_ttl, max_size, prefix)
//	}
//
// Options is not safe for concurrent use; it is meant to live for the duration of one open call.
type Options struct {
	values url.Values
	known  map[string]bool
	errs   []error
}

// NewOptions returns an Options over a URL's query values.
func NewOptions(values url.Values) *Options {
	return &Options{values: values, known: make(map[string]bool)}
}

// Has reports whether the option was given, and declares it valid.
func (o *Options) Has(name string) bool {
	o.known[name] = true
	_, ok := o.values[name]
	return ok
}

// raw returns the single value of name, declaring it valid. Giving an option twice is an error,
// since which one wins would be a guess.
func (o *Options) raw(name string) (string, bool) {
	o.known[name] = true
	vs, ok := o.values[name]
	if !ok {
		return "", false
	}
	if len(vs) > 1 {
		o.fail(name, "", fmt.Sprintf("given %d times; give it once", len(vs)))
		return "", false
	}
	return vs[0], true
}

func (o *Options) fail(name, value, reason string) {
	if IsSecretParam(name) && value != "" {
		value = redacted
	}
	o.errs = append(o.errs, &OptionError{Option: name, Value: value, Reason: reason})
}

// String returns the option's value, or def when it is absent.
func (o *Options) String(name, def string) string {
	if v, ok := o.raw(name); ok {
		return v
	}
	return def
}

// Strings returns every value of a repeatable option (?host=a&host=b), or nil when absent.
func (o *Options) Strings(name string) []string {
	o.known[name] = true
	return slices.Clone(o.values[name])
}

// Enum returns the option's value, which must be one of allowed, or def when it is absent.
func (o *Options) Enum(name, def string, allowed ...string) string {
	v, ok := o.raw(name)
	if !ok {
		return def
	}
	if !slices.Contains(allowed, v) {
		o.fail(name, v, "must be one of "+strings.Join(allowed, ", "))
		return def
	}
	return v
}

// Bool returns the option as a boolean: true/false, 1/0, yes/no or on/off (any case). A bare
// "?name" with no value means true.
func (o *Options) Bool(name string, def bool) bool {
	v, ok := o.raw(name)
	if !ok {
		return def
	}
	b, err := ParseBool(v)
	if err != nil {
		o.fail(name, v, err.Error())
		return def
	}
	return b
}

// Int returns the option as an integer within [min, max].
func (o *Options) Int(name string, def, min, max int64) int64 {
	v, ok := o.raw(name)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		o.fail(name, v, "not an integer")
		return def
	}
	if n < min || n > max {
		o.fail(name, v, fmt.Sprintf("out of range [%d, %d]", min, max))
		return def
	}
	return n
}

// Duration returns the option as a non-negative duration in Go syntax ("250ms", "5s", "1h30m").
// A bare number is rejected unless it is 0, because "30" could mean seconds or milliseconds.
func (o *Options) Duration(name string, def time.Duration) time.Duration {
	v, ok := o.raw(name)
	if !ok {
		return def
	}
	d, err := ParseDuration(v)
	if err != nil {
		o.fail(name, v, err.Error())
		return def
	}
	return d
}

// Size returns the option as a byte count: a plain number of bytes, or a number with a unit
// B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), any case.
func (o *Options) Size(name string, def int64) int64 {
	v, ok := o.raw(name)
	if !ok {
		return def
	}
	n, err := ParseSize(v)
	if err != nil {
		o.fail(name, v, err.Error())
		return def
	}
	return n
}

// Valid returns the options declared so far, sorted.
func (o *Options) Valid() []string {
	names := make([]string, 0, len(o.known))
	for n := range o.known {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Err reports every malformed option, then every option that was given but not declared by an
// accessor, naming it and listing the valid ones. Call it after reading all supported options.
// The returned error wraps [ErrInvalidOption] and each [*OptionError].
func (o *Options) Err() error {
	errs := slices.Clone(o.errs)
	var unknown []string
	for name := range o.values {
		if !o.known[name] {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	if len(unknown) > 0 {
		valid := "none"
		if v := o.Valid(); len(v) > 0 {
			valid = strings.Join(v, ", ")
		}
		for _, name := range unknown {
			errs = append(errs, &OptionError{Option: name, Reason: "unknown option (valid options: " + valid + ")"})
		}
	}
	return errors.Join(errs...)
}

// ParseBool parses true/false, 1/0, yes/no, on/off in any case; the empty string is true, so a
// bare "?verbose" switches an option on.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "", "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, errors.New("not a boolean (want true or false)")
}

// ParseDuration parses a non-negative Go duration. It rejects bare numbers other than 0.
func ParseDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		if _, numErr := strconv.ParseFloat(s, 64); numErr == nil {
			return 0, errors.New(`duration needs a unit (want e.g. "500ms", "30s", "5m")`)
		}
		return 0, errors.New(`not a duration (want e.g. "500ms", "30s", "5m")`)
	}
	if d < 0 {
		return 0, errors.New("duration must not be negative")
	}
	return d, nil
}

var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// ParseSize parses a byte count such as "512", "64KiB", "10MB" or "1.5GiB".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := sizeUnits[unit]
	if num == "" || !ok {
		return 0, errors.New(`not a size (want bytes, or a number with B, KB, MB, GB, KiB, MiB or GiB, e.g. "64MiB")`)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, errors.New(`not a size (want e.g. "512", "10MB", "64MiB")`)
	}
	v := f * mult
	if v >= math.MaxInt64 {
		return 0, errors.New("size too large")
	}
	if v != math.Trunc(v) {
		return 0, errors.New("size is not a whole number of bytes")
	}
	return int64(v), nil
}
