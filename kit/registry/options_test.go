package registry_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/registry"
)

func options(t *testing.T, query string) *registry.Options {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	return registry.NewOptions(q)
}

func TestOptionsTyped(t *testing.T) {
	o := options(t, "prefix=app&ttl=90s&max_size=64MiB&pool=8&tls=on&mode=wal&verbose")
	if got := o.String("prefix", ""); got != "app" {
		t.Errorf("String = %q", got)
	}
	if got := o.Duration("ttl", 0); got != 90*time.Second {
		t.Errorf("Duration = %v", got)
	}
	if got := o.Size("max_size", 0); got != 64<<20 {
		t.Errorf("Size = %d", got)
	}
	if got := o.Int("pool", 0, 1, 100); got != 8 {
		t.Errorf("Int = %d", got)
	}
	if got := o.Bool("tls", false); !got {
		t.Errorf("Bool(on) = false")
	}
	if got := o.Bool("verbose", false); !got {
		t.Errorf("bare Bool = false")
	}
	if got := o.Enum("mode", "delete", "wal", "delete"); got != "wal" {
		t.Errorf("Enum = %q", got)
	}
	if got := o.Duration("absent", 5*time.Second); got != 5*time.Second {
		t.Errorf("default Duration = %v", got)
	}
	if err := o.Err(); err != nil {
		t.Fatalf("Err() = %v", err)
	}
}

func TestOptionsErrors(t *testing.T) {
	o := options(t, "prefx=app&ttl=30&size=12XB&pool=0&tls=maybe&mode=fast&dup=1&dup=2&password=hunter2&extra=1")
	o.String("prefix", "")
	o.Duration("ttl", 0)
	o.Size("size", 0)
	o.Int("pool", 1, 1, 10)
	o.Bool("tls", false)
	o.Enum("mode", "wal", "wal", "delete")
	o.String("dup", "")
	o.Int("password", 0, 0, 10)
	err := o.Err()
	if !errors.Is(err, registry.ErrInvalidOption) {
		t.Fatalf("Err() = %v, want ErrInvalidOption", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`option "prefx": unknown option (valid options: dup, mode, password, pool, prefix, size, tls, ttl)`,
		`option "extra": unknown option`,
		`option "ttl"="30": duration needs a unit`,
		`option "size"="12XB": not a size`,
		`option "pool"="0": out of range [1, 10]`,
		`option "tls"="maybe": not a boolean`,
		`option "mode"="fast": must be one of wal, delete`,
		`option "dup": given 2 times`,
		`option "password"="xxxxx": not an integer`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not contain %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "hunter2") {
		t.Errorf("error leaks a secret option value:\n%s", msg)
	}
	var oe *registry.OptionError
	if !errors.As(err, &oe) {
		t.Errorf("errors.As(*OptionError) failed")
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "512": 512, "1B": 1, "10KB": 10_000, "10kb": 10_000, "64KiB": 65536, "1.5GiB": 1610612736,
		"2 MiB": 2 << 20, "3TB": 3e12,
	} {
		got, err := registry.ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1.5", "1e3", "10 XB", "1..2KB", "9999999999TiB"} {
		if _, err := registry.ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) succeeded", in)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for _, in := range []string{"5", "-1s", "1 minute", "", "0.5"} {
		if _, err := registry.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", in)
		}
	}
	if d, err := registry.ParseDuration("0"); err != nil || d != 0 {
		t.Errorf("ParseDuration(0) = %v, %v", d, err)
	}
}

func FuzzOptions(f *testing.F) {
	f.Add("ttl=5s&size=1KiB&n=3&b=yes&e=a")
	f.Add("ttl=-5s&size=1e400&n=99999999999999999999&b=&e=&e=")
	f.Add("%zz=1&ttl=5")
	f.Fuzz(func(t *testing.T, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		o := registry.NewOptions(q)
		ttl := o.Duration("ttl", time.Second)
		size := o.Size("size", 1)
		n := o.Int("n", 5, 0, 1000)
		o.Bool("b", false)
		e := o.Enum("e", "a", "a", "b")
		err = o.Err()
		if ttl < 0 || size < 0 || n < 0 || n > 1000 || (e != "a" && e != "b") {
			t.Fatalf("out-of-contract value: ttl=%v size=%d n=%d e=%q", ttl, size, n, e)
		}
		if err == nil {
			for name := range q {
				switch name {
				case "ttl", "size", "n", "b", "e":
				default:
					t.Fatalf("unknown option %q accepted", name)
				}
			}
		} else if !errors.Is(err, registry.ErrInvalidOption) {
			t.Fatalf("error does not wrap ErrInvalidOption: %v", err)
		}
	})
}
