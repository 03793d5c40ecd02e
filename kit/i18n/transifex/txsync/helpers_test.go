package txsync_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/i18n"
	"github.com/stackkit/stackkit/kit/i18n/transifex"
	"github.com/stackkit/stackkit/kit/i18n/transifex/txsync"
	"github.com/stackkit/stackkit/kit/i18n/transifex/txtest"
	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/storage"
	"golang.org/x/text/language"
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

var sourcePO = []byte(`msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Language: en\n"

msgid "Hello"
msgstr ""
`)

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

// env is the imitation Transifex, a memory queue, mem:// storage and a worker.
type env struct {
	srv    *txtest.Server
	clock  *txtest.Clock
	client *transifex.Client
	cfg    *transifex.Config
	q      *queue.Queue
	store  *storage.Storage
	worker *txsync.Worker
}

type envOptions struct {
	transport http.RoundTripper
	worker    txsync.Options
}

func newEnv(t *testing.T, eo envOptions) *env {
	t.Helper()
	clock := txtest.NewClock()
	srv := txtest.New(t, txtest.WithNow(clock.Now))
	srv.AddProject(project, "en", "de", "fr")
	srv.AddResource(web, "PO", sourcePO)
	srv.SetTranslation(web, "de", po("de", "Hallo"), txtest.Stats{Total: 1, Translated: 1})
	srv.SetTranslation(web, "fr", po("fr", "Bonjour"), txtest.Stats{Total: 1, Translated: 1})
	copts := []transifex.Option{transifex.WithBaseURL(srv.URL()), transifex.WithClock(clock), transifex.WithLogger(quiet())}
	if eo.transport != nil {
		copts = append(copts, transifex.WithHTTPClient(&http.Client{Transport: eo.transport}))
	}
	client, err := transifex.New(srv.Token, copts...)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := transifex.ParseConfig([]byte(txConfig), ".tx/config")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q, err := queue.Open(ctx, "memory://", queue.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	store, err := storage.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	o := eo.worker
	if o.Logger == nil {
		o.Logger = quiet()
	}
	w, err := txsync.NewWorker(client, cfg, store, q, o)
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, clock: clock, client: client, cfg: cfg, q: q, store: store, worker: w}
}

// run runs fn in the background until the test ends, and fails the test if it returns an
// error other than a clean stop.
func run(t *testing.T, fn func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && err != queue.ErrClosed {
			t.Errorf("background run: %v", err)
		}
	})
}

// startWorker runs the worker's consumer and waits until it is subscribed.
func (e *env) startWorker(t *testing.T, opts ...queue.ConsumeOption) {
	t.Helper()
	ready := make(chan struct{})
	var once sync.Once
	w := e.worker
	run(t, func(ctx context.Context) error {
		o := append([]queue.ConsumeOption{queue.Concurrency(16), queue.Ready(func() { once.Do(func() { close(ready) }) })}, opts...)
		return e.q.Consume(ctx, txsync.DefaultConsumer, txsync.DefaultRequestSubject, w.Handle, o...)
	})
	<-ready
}

// follower builds a translator (English, no catalogs) followed on the queue.
func (e *env) follower(t *testing.T, domain string) (*i18n.Translator, *txsync.Follower) {
	t.Helper()
	tr := newTranslator(t)
	f := txsync.NewFollower(tr, e.store, txsync.FollowerOptions{Domain: domain, Logger: quiet()})
	ready := make(chan struct{})
	var once sync.Once
	run(t, func(ctx context.Context) error {
		return f.Run(ctx, e.q, "follower", queue.Ready(func() { once.Do(func() { close(ready) }) }))
	})
	<-ready
	return tr, f
}

// newTranslator is an English translator without catalogs.
func newTranslator(t *testing.T) *i18n.Translator {
	t.Helper()
	set, err := i18n.NewSet(language.English)
	if err != nil {
		t.Fatal(err)
	}
	return i18n.NewTranslator(set)
}

func (e *env) request(t *testing.T, r txsync.Request) string {
	t.Helper()
	m, err := r.Message(txsync.DefaultRequestSubject, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.q.Publish(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// pulls counts the pulls the imitation saw: each begins with one statistics listing.
func (e *env) pulls() int { return e.srv.Count(http.MethodGet, "/resource_language_stats") }

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

func translate(tr *i18n.Translator, lang, msgid string) string { return tr.Locale(lang).T(msgid) }
