// Command kitctl is Stackkit's operations CLI: database migrations today, then cache, mail,
// storage and translation commands. Run "kitctl --help".
package main

import (
	"os"

	"github.com/stackkit/stackkit/kit/cli"
)

func main() { os.Exit(cli.Main()) }
