package i18nsync_test

import (
	"errors"
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
