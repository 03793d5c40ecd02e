package i18nsync_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/i18n/transifex/txtest"
)

const (
	project = "o:acme:p:shop"
	web     = "o:acme:p:shop:r:web"
)

const txConfig = `[main]
host = https://www.transifex.com

[o:acme:p:shop:r:web]
file_filter = locale/<lang>/LC_MESSAGES/web.po
source_file = locale/en/LC_MESSAGES/web.po
source_lang = en
type = PO
`

func po(lang, hello string) []byte {
	return []byte(`msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Language: ` + lang + `\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

msgid "Hello"
msgstr "` + hello + `"
`)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTransifex starts the imitation with project shop (en -> de, fr) and resource web.
func newTransifex(t *testing.T, opts ...txtest.Option) *txtest.Server {
	t.Helper()
	srv := txtest.New(t, opts...)
	srv.AddProject(project, "en", "de", "fr")
	srv.AddResource(web, "PO", []byte("msgid \"\"\nmsgstr \"\"\n\"Content-Type: text/plain; charset=UTF-8\\n\"\n\nmsgid \"Hello\"\nmsgstr \"\"\n"))
	srv.SetTranslation(web, "de", po("de", "Hallo"), txtest.Stats{Total: 1, Translated: 1})
	srv.SetTranslation(web, "fr", po("fr", "Bonjour"), txtest.Stats{Total: 1, Translated: 1})
	return srv
}

// writeTxConfig writes .tx/config in a new directory and returns its path.
func writeTxConfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), ".tx", "config")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(txConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// space is a test's own NATS subject space: stream SPACE (subjects space.>, limits retention,
// so catalogs-updated events reach every follower) and SPACE_DEAD, deleted when the test ends.
type space struct {
	name    string
	url     string
	natsURL string
}

func newSpace(t *testing.T) *space {
	t.Helper()
	natsURL := testenv.Get(t, "KIT_TEST_NATS_URL")
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "i18nsync" + hex.EncodeToString(b[:])
	u, err := url.Parse(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("stream", strings.ToUpper(name))
	q.Set("subjects", name+".>")
	q.Set("retention", "limits")
	q.Set("max_age", "1h")
	u.RawQuery = q.Encode()
	s := &space{name: name, url: u.String(), natsURL: natsURL}
	t.Cleanup(func() {
		nc, err := natsgo.Connect(natsURL)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, st := range []string{strings.ToUpper(name), strings.ToUpper(name) + "_DEAD"} {
			if err := js.DeleteStream(ctx, st); err != nil && !strings.Contains(err.Error(), "not found") {
				t.Errorf("cleanup: delete stream %s: %v", st, err)
			}
		}
	})
	return s
}

func (s *space) subject(token string) string { return s.name + "." + token }

// consumerState reports the worker consumer's messages not yet delivered and not yet acked.
func (s *space) consumerState(t *testing.T, consumer string) (pending uint64, ackPending int) {
	t.Helper()
	nc, err := natsgo.Connect(s.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, strings.ToUpper(s.name), consumer)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.NumPending, info.NumAckPending
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

func environ(kv map[string]string) []string {
	out := make([]string, 0, len(kv))
	for k, v := range kv {
		out = append(out, k+"="+v)
	}
	return out
}
