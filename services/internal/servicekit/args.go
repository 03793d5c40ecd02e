package servicekit

import (
	"fmt"
	"io"
)

// Args handles a service binary's command line. A service takes no arguments, being configured
// from the environment only: -h, -help or --help prints usage on stdout (exit ExitOK); any other
// argument is a usage error naming it on stderr (exit ExitConfig), so that `mailer --help` or a
// mistyped flag never starts a server listening on every interface. ok is true when the
// service should start; otherwise the process exits with code.
func Args(name string, args []string, usage string, stdout, stderr io.Writer) (code int, ok bool) {
	if len(args) == 0 {
		return ExitOK, true
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return ExitOK, false
	}
	fmt.Fprintf(stderr, "%s: unexpected argument %q: %s takes no arguments, it is configured from the environment (%s --help lists the variables)\n",
		name, args[0], name, name)
	return ExitConfig, false
}
