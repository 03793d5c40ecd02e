// Command mailer sends the mail Stackkit applications queue: it consumes KIT_QUEUE_URL's mail
// subject and sends each message through KIT_MAIL_URL, serving /healthz, /readyz and /metrics on
// KIT_HTTP_ADDR, and drains on SIGTERM. See services/mailer/README.md for every variable.
//
//	KIT_QUEUE_URL=nats://127.0.0.1:4222 KIT_MAIL_URL='smtp://127.0.0.1:1025?starttls=off' mailer
package main

import (
	"os"

	"github.com/stackkit/stackkit/services/mailer"
)

func main() { os.Exit(mailer.Main()) }
