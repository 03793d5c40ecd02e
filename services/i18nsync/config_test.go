package i18nsync_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/services/i18nsync"
)

func TestConfigFromEnv(t *testing.T) {
	c, err := i18nsync.ConfigFromEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.QueueURL != i18nsync.DefaultQueueURL || c.EventsURL != c.QueueURL || c.WebhookSecret != "" || c.Interval != 0 {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = i18nsync.ConfigFromEnv([]string{"KIT_QUEUE_URL=nats://q:4222", "KIT_I18N_INTERVAL=15m", "KIT_I18N_BACKOFF=1s, 5s"})
	if err != nil || c.EventsURL != "nats://q:4222" || c.Interval != 15*time.Minute || len(c.Backoff) != 2 {
		t.Fatalf("%+v %v", c, err)
	}
	_, err = i18nsync.ConfigFromEnv([]string{
		"KIT_I18N_MODE=best", "KIT_I18N_KEEP=0", "KIT_I18N_SUBJECT=a b", "KIT_TX_WEBHOOK_SECRET=tooshort",
		"KIT_TX_WEBHOK_URL=x", "KIT_I18N_INTERVAL=10s", "KIT_LOG_LEVEL=loud",
	})
	if !errors.Is(err, i18nsync.ErrConfig) {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{"KIT_I18N_MODE", "KIT_I18N_KEEP", "KIT_I18N_SUBJECT", "KIT_TX_WEBHOOK_SECRET: is shorter",
		"KIT_TX_WEBHOK_URL: unknown variable", "KIT_I18N_INTERVAL", "KIT_LOG_LEVEL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "tooshort") {
		t.Error("the webhook secret is in the error")
	}
}

// TestConfigHTTP: the drain delay defaults to kit/http's 5s when the webhook is served (requests
// come through a Service), to 0 when only probes reach the port; both settings are read from
// KIT_HTTP_DRAIN_DELAY and KIT_HTTP_SHUTDOWN_TIMEOUT, and bad values name their variable.
func TestConfigHTTP(t *testing.T) {
	c, err := i18nsync.ConfigFromEnv(nil)
	if err != nil || c.HTTPDrainDelay != 0 || c.HTTPShutdownTimeout != 5*time.Second || c.HTTPAddr != ":8080" {
		t.Errorf("without the webhook: drain %s, shutdown %s, addr %q, %v", c.HTTPDrainDelay, c.HTTPShutdownTimeout, c.HTTPAddr, err)
	}
	c, err = i18nsync.ConfigFromEnv([]string{"KIT_TX_WEBHOOK_SECRET=0123456789abcdef0123"})
	if err != nil || c.HTTPDrainDelay != 5*time.Second {
		t.Errorf("with the webhook: drain %s, %v", c.HTTPDrainDelay, err)
	}
	c, err = i18nsync.ConfigFromEnv([]string{"KIT_TX_WEBHOOK_SECRET=0123456789abcdef0123", "KIT_HTTP_DRAIN_DELAY=0s", "KIT_HTTP_SHUTDOWN_TIMEOUT=10s"})
	if err != nil || c.HTTPDrainDelay != 0 || c.HTTPShutdownTimeout != 10*time.Second {
		t.Errorf("set: drain %s, shutdown %s, %v", c.HTTPDrainDelay, c.HTTPShutdownTimeout, err)
	}
	_, err = i18nsync.ConfigFromEnv([]string{"KIT_HTTP_DRAIN_DELAY=soon", "KIT_HTTP_SHUTDOWN_TIMEOUT=0"})
	if !errors.Is(err, i18nsync.ErrConfig) || !strings.Contains(fmt.Sprint(err), "KIT_HTTP_DRAIN_DELAY") || !strings.Contains(fmt.Sprint(err), "KIT_HTTP_SHUTDOWN_TIMEOUT") {
		t.Errorf("bad values: %v", err)
	}
}
