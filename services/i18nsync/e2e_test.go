package i18nsync_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/i18n"
	"github.com/stackkit/stackkit/kit/i18n/transifex"
	"github.com/stackkit/stackkit/kit/i18n/transifex/txsync"
	"github.com/stackkit/stackkit/kit/i18n/transifex/txtest"
	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/storage"
	"github.com/stackkit/stackkit/services/i18nsync"
	"golang.org/x/text/language"
)

// TestEndToEnd: a sync request on NATS, the service pulling from the Transifex imitation, the
// catalogs stored as a version in kit/storage, and a running translator in "another service"
// (its own queue connection, its own storage handle on file://) subscribed to the
// catalogs-updated event, serving each new translation without a restart.
func TestEndToEnd(t *testing.T) {
	for _, backend := range []string{"file", "mem"} {
		t.Run(backend, func(t *testing.T) {
			sp := newSpace(t)
			clock := txtest.NewClock()
			tx := newTransifex(t, txtest.WithNow(clock.Now))
			storeURL := "mem://"
			dir := t.TempDir()
			if backend == "file" {
				storeURL = "file://" + dir
			}
			cfg, err := i18nsync.ConfigFromEnv(environ(map[string]string{
				"KIT_QUEUE_URL": sp.url, "KIT_STORAGE_URL": storeURL, "KIT_HTTP_ADDR": "127.0.0.1:0",
				"KIT_TX_CONFIG": writeTxConfig(t), "KIT_TX_REST_HOSTNAME": tx.URL(),
				"KIT_I18N_SUBJECT": sp.subject("sync"), "KIT_I18N_EVENT_SUBJECT": sp.subject("updated"),
				"KIT_I18N_BACKOFF": "50ms", "KIT_I18N_MAX_DELIVERIES": "2",
			}))
			if err != nil {
				t.Fatal(err)
			}
			getenv := func(k string) string {
				return map[string]string{"KIT_TRANSIFEX_TOKEN": tx.Token, "HOME": dir, "OTEL_SDK_DISABLED": "true"}[k]
			}
			ctx := context.Background()
			svc, err := i18nsync.Open(ctx, cfg, quiet(), getenv, i18nsync.WithClientOptions(transifex.WithClock(clock)))
			if err != nil {
				t.Fatal(err)
			}
			defer svc.Close()
			runCtx, stop := context.WithCancel(ctx)
			runErr := make(chan error, 1)
			go func() { runErr <- svc.Run(runCtx) }()
			defer func() {
				stop()
				if err := <-runErr; err != nil {
					t.Errorf("Run: %v", err)
				}
			}()
			<-svc.Ready()

			// The other service: its own queue connection and, on file://, its own storage.
			events, err := queue.Open(ctx, sp.url, queue.WithLogger(quiet()))
			if err != nil {
				t.Fatal(err)
			}
			defer events.Close()
			store := svc.Store // mem:// lives in one process: the same store
			if backend == "file" {
				if store, err = storage.Open(ctx, storeURL); err != nil {
					t.Fatal(err)
				}
				defer store.Close()
			}
			// Two replicas of the other service, each with its own consumer on the limits stream
			// (every consumer gets every announcement), removed by the server once the replica is
			// gone (InactiveThreshold): both must serve each new version.
			follow := func(name string) (*i18n.Translator, *txsync.Follower, func()) {
				set, _ := i18n.NewSet(language.English)
				tr := i18n.NewTranslator(set)
				f := txsync.NewFollower(tr, store, txsync.FollowerOptions{Subject: sp.subject("updated"), Domain: "web", Logger: quiet()})
				followCtx, stopFollow := context.WithCancel(ctx)
				followed := make(chan error, 1)
				ready := make(chan struct{})
				go func() {
					followed <- f.Run(followCtx, events, name, queue.InactiveThreshold(time.Hour), queue.Ready(func() { close(ready) }))
				}()
				select {
				case <-ready:
				case err := <-followed:
					t.Fatalf("follower %s stopped before it was ready: %v", name, err)
				}
				return tr, f, func() {
					stopFollow()
					if err := <-followed; err != nil {
						t.Errorf("follower %s: %v", name, err)
					}
				}
			}
			tr, f, stop1 := follow("web-1")
			defer stop1()
			tr2, f2, stop2 := follow("web-2")
			defer stop2()
			if got := tr.Locale("de").T("Hello"); got != "Hello" {
				t.Fatalf("before any sync: %q", got)
			}

			publish := func(r txsync.Request) {
				t.Helper()
				m, err := r.Message(sp.subject("sync"), 0)
				if err != nil {
					t.Fatal(err)
				}
				if err := events.Publish(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
			publish(txsync.Request{Reason: "e2e"})
			eventually(t, "de served", 20*time.Second, func() bool { return tr.Locale("de").T("Hello") == "Hallo" })
			eventually(t, "de served by the second replica", 20*time.Second, func() bool { return tr2.Locale("de").T("Hello") == "Hallo" })
			v1 := f.Version()
			if f2.Version() != v1 {
				t.Errorf("replicas on versions %q and %q", v1, f2.Version())
			}
			if got := tr.Locale("fr").T("Hello"); got != "Bonjour" {
				t.Errorf("fr: %q", got)
			}
			if backend == "file" {
				mo := filepath.Join(dir, "i18n", v1, "locale", "de", "LC_MESSAGES", "web.mo")
				if _, err := os.Stat(mo); err != nil {
					t.Errorf("catalog not on disk: %v", err)
				}
				cur, err := os.ReadFile(filepath.Join(dir, "i18n", "current"))
				if err != nil || strings.TrimSpace(string(cur)) != v1 {
					t.Errorf("i18n/current = %q, %v; want %s", cur, err, v1)
				}
			}

			// A translator changes a string: the running translator serves it, no restart.
			clock.Advance(time.Hour)
			tx.SetTranslation(web, "de", po("de", "Servus"), txtest.Stats{Total: 1, Translated: 1})
			publish(txsync.Request{Resources: []string{"shop.web"}, Reason: "e2e again"})
			eventually(t, "the new de served", 20*time.Second, func() bool { return tr.Locale("de").T("Hello") == "Servus" })
			eventually(t, "the new de served by the second replica", 20*time.Second, func() bool { return tr2.Locale("de").T("Hello") == "Servus" })
			if v2 := f.Version(); v2 <= v1 {
				t.Fatalf("version %q after %q", v2, v1)
			}
			if n := tx.Count(http.MethodGet, "/resource_language_stats"); n != 2 {
				t.Errorf("%d pulls for two requests", n)
			}
		})
	}
}
