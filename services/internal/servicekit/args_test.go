package servicekit_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/services/internal/servicekit"
)

func TestArgs(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		code           int
		ok             bool
		stdout, stderr string
	}{
		{nil, servicekit.ExitOK, true, "", ""},
		{[]string{"--help"}, servicekit.ExitOK, false, "Usage: svc", ""},
		{[]string{"-h"}, servicekit.ExitOK, false, "Usage: svc", ""},
		{[]string{"serve"}, servicekit.ExitConfig, false, "", `svc: unexpected argument "serve": svc takes no arguments`},
		{[]string{"--addr=:9000"}, servicekit.ExitConfig, false, "", `unexpected argument "--addr=:9000"`},
	} {
		var stdout, stderr bytes.Buffer
		code, ok := servicekit.Args("svc", tc.args, "Usage: svc\n", &stdout, &stderr)
		if code != tc.code || ok != tc.ok {
			t.Errorf("%q: code %d ok %v, want %d %v", tc.args, code, ok, tc.code, tc.ok)
		}
		if (tc.stdout == "") != (stdout.Len() == 0) || !strings.Contains(stdout.String(), tc.stdout) {
			t.Errorf("%q: stdout %q, want %q", tc.args, stdout.String(), tc.stdout)
		}
		if (tc.stderr == "") != (stderr.Len() == 0) || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("%q: stderr %q, want %q", tc.args, stderr.String(), tc.stderr)
		}
	}
}
