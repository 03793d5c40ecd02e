package transifex_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/i18n/transifex"
	"github.com/stackkit/stackkit/kit/i18n/transifex/txtest"
)

const (
	project = "o:acme:p:shop"
	web     = "o:acme:p:shop:r:web"
	mail    = "o:acme:p:shop:r:mail"
)

const txConfig = `[main]
host = https://www.transifex.com
lang_map = pt_BR: pt-br

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

msgid "Goodbye"
msgstr ""
`)

func po(lang, hello, bye string) []byte {
	return []byte(`msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Language: ` + lang + `\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

msgid "Hello"
msgstr "` + hello + `"

msgid "Goodbye"
msgstr "` + bye + `"
`)
}

type env struct {
	srv    *txtest.Server
	clock  *txtest.Clock
	client *transifex.Client
	cfg    *transifex.Config
	root   string
}

// newEnv starts the imitation with project shop (en -> de, fr, pt_BR), resource web translated
// in all three, and a project directory with .tx/config and extra config text appended.
func newEnv(t *testing.T, extraConfig string, srvOpts []txtest.Option, opts ...transifex.Option) *env {
	t.Helper()
	clock := txtest.NewClock()
	srv := txtest.New(t, append([]txtest.Option{txtest.WithNow(clock.Now)}, srvOpts...)...)
	srv.AddProject(project, "en", "de", "fr", "pt_BR")
	srv.AddResource(web, "PO", sourcePO)
	srv.SetTranslation(web, "de", po("de", "Hallo", "Tschüss"), txtest.Stats{Total: 2, Translated: 2})
	srv.SetTranslation(web, "fr", po("fr", "Bonjour", "Au revoir"), txtest.Stats{Total: 2, Translated: 2, Reviewed: 1})
	srv.SetTranslation(web, "pt_BR", po("pt_BR", "Olá", "Tchau"), txtest.Stats{Total: 2, Translated: 1})
	root := t.TempDir()
	writeFile(t, root, ".tx/config", txConfig+extraConfig)
	writeFile(t, root, "locale/en/LC_MESSAGES/web.po", string(sourcePO))
	c, err := transifex.New(srv.Token, append([]transifex.Option{
		transifex.WithBaseURL(srv.URL()), transifex.WithClock(clock), transifex.WithLogger(quietLogger()),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := transifex.LoadConfig(filepath.Join(root, ".tx", "config"))
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, clock: clock, client: c, cfg: cfg, root: root}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func writeFile(t *testing.T, root, name, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, root, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func exists(root, name string) bool {
	_, err := os.Stat(filepath.Join(root, filepath.FromSlash(name)))
	return err == nil
}

func (e *env) pull(t *testing.T, o transifex.PullOptions) *transifex.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := transifex.Pull(ctx, e.client, e.cfg, o)
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	return rep
}

func result(t *testing.T, rep *transifex.Report, resource, lang string) transifex.Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.Resource == resource && r.Language == lang {
			return r
		}
	}
	var all []string
	for _, r := range rep.Results {
		all = append(all, r.String())
	}
	t.Fatalf("no result for %s [%s]; results:\n%s", resource, lang, strings.Join(all, "\n"))
	return transifex.Result{}
}
