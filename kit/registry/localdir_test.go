package registry_test

import (
	"errors"
	"io/fs"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/kit/registry"
)

func TestFileMode(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  fs.FileMode
		err   string // part of the error; "" for none
	}{
		{"", 0o644, ""},
		{"file_mode=0640", 0o640, ""},
		{"file_mode=600", 0o600, ""},
		{"file_mode=0400", 0o644, "must give the owner at least rw- (0600)"},
		{"file_mode=0999", 0o644, "not an octal permission"},
		{"file_mode=01777", 0o644, "not an octal permission"},
		{"file_mode=rw", 0o644, "not an octal permission"},
	} {
		o := options(t, tc.query)
		got := o.FileMode("file_mode", 0o644, 0o600)
		err := o.Err()
		if got != tc.want {
			t.Errorf("%q: FileMode = %04o, want %04o", tc.query, got, tc.want)
		}
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: unexpected error %v", tc.query, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, registry.ErrInvalidOption)):
			t.Errorf("%q: error %v, want one containing %q and wrapping ErrInvalidOption", tc.query, err, tc.err)
		}
	}
}

func TestLocalDir(t *testing.T) {
	for raw, want := range map[string]string{
		"file:///var/lib/app/": filepath.FromSlash("/var/lib/app"),
		"file://.kit/media":    filepath.FromSlash(".kit/media"),
		"file://data":          "data",
		"file://./a/../b":      "b",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		got, err := registry.LocalDir(u, "storage directory")
		if err != nil || got != want {
			t.Errorf("LocalDir(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for raw, msg := range map[string]string{
		"file:":         "no storage directory in URL",
		"file:rel/dir":  `storage directory "rel/dir" is not after file://`,
		"file:///a%00b": "storage directory name contains NUL",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := registry.LocalDir(u, "storage directory"); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("LocalDir(%q) error = %v, want one containing %q", raw, err, msg)
		}
	}
}
