package cli_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/i18n/transifex/txsync"
	"github.com/stackkit/stackkit/kit/queue"
	natsq "github.com/stackkit/stackkit/kit/queue/nats"
)

// TestI18nSyncQueuesARequest: kitctl i18n sync publishes a request the worker decodes, on the
// worker's subject; the same scope within a --window is one message.
func TestI18nSyncQueuesARequest(t *testing.T) {
	ctx := context.Background()
	base := testenv.Get(t, "KIT_TEST_NATS_URL")
	stream := "KITCTL_I18N_" + strings.ToUpper(uniquePrefix()[7:])
	space := strings.ToLower(stream)
	qURL := base + "?stream=" + stream + "&subjects=" + space + ".>&storage=memory"
	q, err := queue.Open(ctx, qURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		js := q.Driver().(*natsq.Driver).JetStream()
		for _, s := range []string{stream, stream + "_DEAD"} {
			if err := js.DeleteStream(ctx, s); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				t.Errorf("delete stream %s: %v", s, err)
			}
		}
		_ = q.Close()
	})
	t.Setenv("KIT_QUEUE_URL", qURL)
	subject := space + ".sync"
	r := kitctl(t, []string{"i18n", "sync", "--subject", subject, "-r", "shop.web", "-l", "de,fr", "--force", "--reason", "release 4.2"})
	if r.code != 0 || !strings.Contains(r.stdout, "queued sync request i18nsync-") || !strings.Contains(r.stdout, "resources shop.web, languages de,fr, forced") {
		t.Fatalf("%+v", r)
	}
	for range 3 { // debounced: one message
		if r := kitctl(t, []string{"i18n", "sync", "--subject", subject, "--window", "1m"}); r.code != 0 {
			t.Fatalf("%+v", r)
		}
	}
	var mu sync.Mutex
	var got []txsync.Request
	consume(t, q, subject, 2, func(m *queue.Message) error {
		req, err := txsync.DecodeRequest(m.Data)
		if err != nil {
			t.Errorf("%s: %v", m.Data, err)
		}
		mu.Lock()
		got = append(got, req)
		mu.Unlock()
		return nil
	})
	if n, _ := q.Purge(ctx, subject); n != 0 {
		t.Fatalf("%d more messages: the windowed requests were not one", n)
	}
	first := got[0]
	if strings.Join(first.Resources, ",") != "shop.web" || strings.Join(first.Languages, ",") != "de,fr" || !first.Force || first.Reason != "release 4.2" {
		t.Fatalf("request read back as %+v", first)
	}
	if got[1].NotBefore.IsZero() || len(got[1].Resources) != 0 {
		t.Fatalf("windowed request %+v", got[1])
	}
}

func TestI18nSyncUsageErrors(t *testing.T) {
	t.Setenv("KIT_QUEUE_URL", "")
	dir := t.TempDir()
	cfg := filepath.Join(dir, ".tx", "config")
	writeFiles(t, filepath.Dir(cfg), map[string]string{"config": "[main]\nhost = https://www.transifex.com\n\n[o:acme:p:shop:r:web]\nfile_filter = locale/<lang>/web.po\n"})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"i18n", "sync"}, "--queue-url (or KIT_QUEUE_URL) is required"},
		{[]string{"i18n", "sync", "--queue-url", "memory://"}, "a memory queue lives in this process only"},
		{[]string{"i18n", "sync", "--queue-url", "nats://127.0.0.1:1", "--config", cfg, "-r", "shop.wbe"}, `no resource in .tx/config matches "shop.wbe"`},
		{[]string{"i18n", "sync", "--queue-url", "nats://127.0.0.1:1", "-l", "../de"}, "invalid sync request"},
		{[]string{"i18n", "sync", "--queue-url", "nats://127.0.0.1:1?bogus=1"}, "bogus"},
	} {
		r := kitctl(t, c.args)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
	_ = os.Remove(cfg)
}
