// Package testenv gives Stackkit's integration tests the addresses of the real servers they talk
// to, from the KIT_TEST_* variables that `make services` writes.
//
// When a variable is unset, a test skips, unless CI=true, where it fails: in CI every backend
// must run. Skips are appended to the file named by KIT_TEST_SKIPLOG, so `make test` can end with
// one line naming what did not run.
package testenv

import (
	"fmt"
	"os"
	"strconv"
	"testing"
)

// CI reports whether the tests run under CI=true, where a missing server is a failure.
func CI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// Get returns the value of the KIT_TEST_* variable name, or skips the test (fails it under CI)
// naming the variable and what sets it.
func Get(t testing.TB, name string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	Unavailable(t, name, name+" is not set")
	return ""
}

// Unavailable ends the test because a server it needs is not there: a failure under CI=true, a
// recorded skip otherwise.
func Unavailable(t testing.TB, what, why string) {
	t.Helper()
	msg := fmt.Sprintf("%s: %s; run `make services` (or set it to a server of yours)", what, why)
	if CI() {
		t.Fatal(msg + " [CI=true: unavailable servers fail the run]")
	}
	if log := os.Getenv("KIT_TEST_SKIPLOG"); log != "" {
		if f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			fmt.Fprintf(f, "%s\t%s\n", what, why)
			_ = f.Close()
		}
	}
	t.Skip(msg)
}
