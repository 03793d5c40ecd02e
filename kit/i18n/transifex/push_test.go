package transifex_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stackkit/stackkit/kit/i18n/transifex"
	"github.com/stackkit/stackkit/kit/i18n/transifex/txtest"
)

func (e *env) push(t *testing.T, o transifex.PushOptions) *transifex.Report {
	t.Helper()
	rep, err := transifex.Push(context.Background(), e.client, e.cfg, o)
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	return rep
}

func TestPushSourceReportsCounts(t *testing.T) {
	e := newEnv(t, "", nil)
	writeFile(t, e.root, "locale/en/LC_MESSAGES/web.po", string(sourcePO)+"\nmsgid \"New\"\nmsgstr \"\"\n")
	rep := e.push(t, transifex.PushOptions{})
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	r := result(t, rep, web, "")
	if r.Status != transifex.StatusWritten || r.Source == nil || r.Source.Created != 1 || r.Source.Skipped != 2 || r.Source.Deleted != 0 {
		t.Fatalf("source push: %v %+v", r, r.Source)
	}
	if got := string(e.srv.Source(web)); got != readFile(t, e.root, "locale/en/LC_MESSAGES/web.po") {
		t.Fatalf("server has %q", got)
	}
}

func TestPushCreatesMissingResourceAndPushesTranslations(t *testing.T) {
	e := newEnv(t, `
[o:acme:p:shop:r:mail]
file_filter = mail/<lang>.po
source_file = mail/en.po
source_lang = en
type = PO
resource_name = Mail templates
`, nil)
	writeFile(t, e.root, "mail/en.po", string(sourcePO))
	writeFile(t, e.root, "mail/de.po", string(po("de", "Hallo", "")))
	writeFile(t, e.root, "mail/pt-br.po", string(po("pt_BR", "Olá", "Tchau")))
	rep := e.push(t, transifex.PushOptions{Resources: []string{"shop.mail"}, Source: true, Translations: true})
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	src := result(t, rep, mail, "")
	if src.Status != transifex.StatusWritten || src.Reason != "resource created" || src.Source.Created != 2 {
		t.Fatalf("source: %v %+v", src, src.Source)
	}
	if n := e.srv.Count(http.MethodPost, "/resources"); n != 1 {
		t.Errorf("%d resource creations", n)
	}
	de := result(t, rep, mail, "de")
	if de.Status != transifex.StatusWritten || de.Translation.Created != 1 {
		t.Errorf("de: %v %+v", de, de.Translation)
	}
	// The local pt-br file goes up as pt_BR (lang_map), and the source file is not a translation.
	pt := result(t, rep, mail, "pt_BR")
	if pt.Status != transifex.StatusWritten || pt.Translation.Created != 2 || string(e.srv.Translation(mail, "pt_BR")) != readFile(t, e.root, "mail/pt-br.po") {
		t.Errorf("pt_BR: %v %+v", pt, pt.Translation)
	}
	for _, r := range rep.Results {
		if r.Language == "en" {
			t.Errorf("the source language was pushed as a translation: %v", r)
		}
	}
	// -l limits the translations.
	rep = e.push(t, transifex.PushOptions{Resources: []string{"shop.mail"}, Translations: true, Languages: []string{"de"}})
	if len(rep.Results) != 1 || rep.Results[0].Language != "de" {
		t.Errorf("-l de pushed %v", rep.Results)
	}
}

func TestPushFailedJobReportsDetail(t *testing.T) {
	e := newEnv(t, "", nil)
	e.srv.FailJob(web, "", txtest.ErrorObject{Code: "parse_error", Detail: "Line 3: unterminated string"})
	rep := e.push(t, transifex.PushOptions{Source: true, Translations: true})
	r := result(t, rep, web, "")
	if r.Status != transifex.StatusFailed || !errors.Is(r.Err, transifex.ErrJobFailed) {
		t.Fatalf("source: %v", r)
	}
	if rep.Err() == nil {
		t.Fatal("no error")
	}
	// No translations for a resource whose source failed.
	if r := result(t, rep, web, "*"); r.Status != transifex.StatusSkipped {
		t.Errorf("translations: %v", r)
	}
}
