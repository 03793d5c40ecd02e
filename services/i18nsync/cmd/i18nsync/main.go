// Command i18nsync keeps services' translations in step with Transifex: it consumes sync
// requests on KIT_QUEUE_URL (from kitctl i18n sync, its timer or Transifex's webhooks), pulls the
// projects of KIT_TX_CONFIG, stores each new catalog version in KIT_STORAGE_URL and announces it,
// serving /healthz, /readyz, /metrics and the webhook on KIT_HTTP_ADDR, and drains on SIGTERM.
// See services/i18nsync/README.md for every variable.
//
//	KIT_QUEUE_URL=nats://127.0.0.1:4222 KIT_STORAGE_URL=file://var/i18n KIT_TX_CONFIG=.tx/config i18nsync
package main

import (
	"os"

	"github.com/stackkit/stackkit/services/i18nsync"
)

func main() { os.Exit(i18nsync.Main()) }
