// Command web is the support desk, Stackkit's reference service, and its own manage.py: kitctl's
// commands are built in, with the service's migrations embedded.
//
//	web migrate up   # apply the embedded migrations to KIT_DATABASE_URL
//	web check        # every configured backend ready, every migration applied
//
// See services/web/README.md.
package main

import (
	"os"

	"github.com/stackkit/stackkit/kit/cli"
	"github.com/stackkit/stackkit/services/web"
)

func main() { os.Exit(cli.Execute(web.Command())) }
