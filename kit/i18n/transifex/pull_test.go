package transifex_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/i18n/transifex"
	"github.com/stackkit/stackkit/kit/i18n/transifex/txtest"
)

const deFile = "locale/de/LC_MESSAGES/web.po"

func TestPullWritesLanguagesThatHaveALocalFile(t *testing.T) {
	e := newEnv(t, "", nil)
	writeFile(t, e.root, deFile, "old")
	rep := e.pull(t, transifex.PullOptions{})
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	if r := result(t, rep, web, "de"); r.Status != transifex.StatusWritten || r.Path != deFile {
		t.Fatalf("de: %v", r)
	}
	if got := readFile(t, e.root, deFile); got != string(po("de", "Hallo", "Tschüss")) {
		t.Fatalf("de file = %q", got)
	}
	for _, l := range []string{"fr", "pt_BR"} {
		if r := result(t, rep, web, l); r.Status != transifex.StatusSkipped || !strings.Contains(r.Reason, "--all") {
			t.Errorf("%s: %v", l, r)
		}
	}
	if exists(e.root, "locale/fr/LC_MESSAGES/web.po") {
		t.Error("fr was created without --all")
	}
	// The source language is never pulled as a translation.
	for _, r := range rep.Results {
		if r.Language == "en" {
			t.Errorf("source language in results: %v", r)
		}
	}
	if !exists(e.root, transifex.DefaultStateFile) {
		t.Error("no pull state written")
	}
}

func TestPullAllCreatesFilesWithLangMap(t *testing.T) {
	e := newEnv(t, "", nil)
	rep := e.pull(t, transifex.PullOptions{All: true})
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	if n := rep.Count(transifex.StatusWritten); n != 3 {
		t.Fatalf("written %d, want 3: %v", n, rep.Results)
	}
	// lang_map pt_BR: pt-br names the local directory.
	if got := readFile(t, e.root, "locale/pt-br/LC_MESSAGES/web.po"); !strings.Contains(got, "Olá") {
		t.Fatalf("pt-br file = %q", got)
	}
	if r := result(t, rep, web, "pt_BR"); r.LocalLanguage != "pt-br" {
		t.Errorf("pt_BR local language %q", r.LocalLanguage)
	}
}

func TestPullLanguagesFlagAndOverride(t *testing.T) {
	e := newEnv(t, "trans.fr = translations/french.po\n", nil)
	rep := e.pull(t, transifex.PullOptions{Languages: []string{"fr", "pt-br"}})
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, e.root, "translations/french.po"); !strings.Contains(got, "Bonjour") {
		t.Fatalf("trans.fr override not used: %q", got)
	}
	if !exists(e.root, "locale/pt-br/LC_MESSAGES/web.po") {
		t.Error("-l pt-br (a local code) did not pull pt_BR")
	}
	for _, r := range rep.Results {
		if r.Language == "de" {
			t.Errorf("de pulled without being asked for: %v", r)
		}
	}
	// A language the project lacks is a failure, not a silent skip.
	rep = e.pull(t, transifex.PullOptions{Languages: []string{"xx"}})
	if r := result(t, rep, web, "xx"); r.Status != transifex.StatusFailed || !errors.Is(r.Err, transifex.ErrNotFound) {
		t.Fatalf("xx: %v", r)
	}
}

func TestPullSkipsUnchangedByStateNotModTime(t *testing.T) {
	e := newEnv(t, "", nil)
	rep := e.pull(t, transifex.PullOptions{All: true})
	if n := rep.Count(transifex.StatusWritten); n != 3 {
		t.Fatalf("first pull wrote %d", n)
	}
	jobs := e.srv.Count(http.MethodPost, "/resource_translations_async_downloads")

	rep = e.pull(t, transifex.PullOptions{All: true})
	if n := rep.Count(transifex.StatusUnchanged); n != 3 {
		t.Fatalf("second pull: %d unchanged: %v", n, rep.Results)
	}
	if n := e.srv.Count(http.MethodPost, "/resource_translations_async_downloads"); n != jobs {
		t.Fatalf("second pull created %d download jobs", n-jobs)
	}

	// A remote change (last update and counts) is pulled again; the others stay skipped.
	e.srv.SetTranslation(web, "fr", po("fr", "Salut", "Au revoir"), txtest.Stats{LastUpdate: e.clock.Now().Add(time.Hour), Total: 2, Translated: 2, Reviewed: 2})
	// A local edit is overwritten: the state remembers the bytes written, not a timestamp.
	writeFile(t, e.root, deFile, "edited")
	rep = e.pull(t, transifex.PullOptions{All: true})
	if r := result(t, rep, web, "fr"); r.Status != transifex.StatusWritten {
		t.Errorf("changed fr: %v", r)
	}
	if r := result(t, rep, web, "de"); r.Status != transifex.StatusWritten {
		t.Errorf("locally edited de: %v", r)
	}
	if r := result(t, rep, web, "pt_BR"); r.Status != transifex.StatusUnchanged {
		t.Errorf("pt_BR: %v", r)
	}
	// Another mode is another file.
	rep = e.pull(t, transifex.PullOptions{All: true, Mode: "reviewed"})
	if n := rep.Count(transifex.StatusWritten); n != 3 {
		t.Errorf("mode change rewrote %d files", n)
	}
	// --force pulls everything.
	rep = e.pull(t, transifex.PullOptions{All: true, Mode: "reviewed", Force: true})
	if n := rep.Count(transifex.StatusWritten); n != 3 {
		t.Errorf("--force wrote %d files", n)
	}
	// The mode travels to the API.
	var sawReviewed bool
	for _, r := range e.srv.Requests() {
		if r.Method == http.MethodPost && strings.Contains(string(r.Body), `"mode":"reviewed"`) {
			sawReviewed = true
		}
	}
	if !sawReviewed {
		t.Error("no download job asked for mode reviewed")
	}
}

func TestPullMinimumPerc(t *testing.T) {
	e := newEnv(t, "minimum_perc = 60\n", nil)
	rep := e.pull(t, transifex.PullOptions{All: true})
	// pt_BR is 50% translated.
	if r := result(t, rep, web, "pt_BR"); r.Status != transifex.StatusSkipped || !strings.Contains(r.Reason, "minimum") {
		t.Errorf("pt_BR: %v", r)
	}
	if r := result(t, rep, web, "de"); r.Status != transifex.StatusWritten {
		t.Errorf("de: %v", r)
	}
	// --minimum-perc overrides the config; reviewed mode counts reviewed strings (fr: 1 of 2).
	zero, sixty := 0, 60
	rep = e.pull(t, transifex.PullOptions{All: true, MinimumPerc: &zero})
	if r := result(t, rep, web, "pt_BR"); r.Status != transifex.StatusWritten {
		t.Errorf("pt_BR with --minimum-perc 0: %v", r)
	}
	rep = e.pull(t, transifex.PullOptions{All: true, Mode: "reviewed", MinimumPerc: &sixty})
	if r := result(t, rep, web, "fr"); r.Status != transifex.StatusSkipped {
		t.Errorf("fr reviewed 50%%: %v", r)
	}
}

func TestPullPaginationFollowsNextLinks(t *testing.T) {
	e := newEnv(t, `
[o:acme:p:shop:r:mail]
file_filter = mail/<lang>.po
source_file = mail/en.po
type = PO
`, []txtest.Option{txtest.WithPageSize(3)})
	e.srv.AddResource(mail, "PO", sourcePO)
	e.srv.SetTranslation(mail, "de", po("de", "Hallo!", "Tschüss!"), txtest.Stats{Total: 2, Translated: 2})
	rep := e.pull(t, transifex.PullOptions{All: true})
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	// 2 resources x 4 languages = 8 statistics on pages of 3.
	if n := e.srv.Count(http.MethodGet, "/resource_language_stats"); n != 3 {
		t.Errorf("%d statistics pages fetched, want 3", n)
	}
	if n := rep.Count(transifex.StatusWritten); n != 6 {
		t.Errorf("written %d, want 6: %v", n, rep.Results)
	}
	if got := readFile(t, e.root, "mail/de.po"); !strings.Contains(got, "Hallo!") {
		t.Errorf("mail/de.po = %q", got)
	}
	cursors := 0
	for _, r := range e.srv.Requests() {
		if strings.Contains(r.RawQuery, "page%5Bcursor%5D=") {
			cursors++
		}
	}
	if cursors != 2 {
		t.Errorf("%d requests carried the cursor, want 2", cursors)
	}
}

func TestPullMissingResourceFails(t *testing.T) {
	e := newEnv(t, `
[o:acme:p:shop:r:gone]
file_filter = gone/<lang>.po
type = PO
`, nil)
	writeFile(t, e.root, deFile, "old")
	rep := e.pull(t, transifex.PullOptions{})
	r := result(t, rep, "o:acme:p:shop:r:gone", "")
	if r.Status != transifex.StatusFailed || !errors.Is(r.Err, transifex.ErrNotFound) {
		t.Fatalf("missing resource: %v", r)
	}
	if rep.Err() == nil {
		t.Fatal("Report.Err is nil with a missing resource")
	}
	if result(t, rep, web, "de").Status != transifex.StatusWritten {
		t.Error("the other resource was not pulled")
	}
	// Only that resource, by -r: the project's statistics are filtered to it, and it 404s.
	rep = e.pull(t, transifex.PullOptions{Resources: []string{"shop.gone"}})
	if r := result(t, rep, "o:acme:p:shop:r:gone", ""); !errors.Is(r.Err, transifex.ErrNotFound) {
		t.Fatalf("-r shop.gone: %v", r)
	}
	if _, err := transifex.Pull(context.Background(), e.client, e.cfg, transifex.PullOptions{Resources: []string{"shop.nope"}}); !errors.Is(err, transifex.ErrConfig) {
		t.Fatalf("-r naming no configured resource: %v", err)
	}
}

func TestPullRejectsBadOptions(t *testing.T) {
	e := newEnv(t, "", nil)
	for _, o := range []transifex.PullOptions{{Mode: "fuzzy"}, {MinimumPerc: new(101)}} {
		if _, err := transifex.Pull(context.Background(), e.client, e.cfg, o); !errors.Is(err, transifex.ErrConfig) {
			t.Errorf("%+v: %v", o, err)
		}
	}
}
