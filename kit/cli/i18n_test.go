package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/kit/i18n"
	"golang.org/x/text/language"
)

const i18nGoSource = `package app

import (
	"context"

	"github.com/stackkit/stackkit/kit/i18n"
)

var errGone = i18n.Lazy("The page is gone")

func page(ctx context.Context, name string, n int) []string {
	return []string{
		// Translators: greeting on the home page
		i18n.T(ctx, "Hello, %s!", name),
		i18n.N(ctx, "%d file", "%d files", n, n),
		i18n.P(ctx, "verb", "Post"),
		i18n.T(ctx, "Delete this file"),
	}
}
`

func readPO(t *testing.T, path string) *i18n.POFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := i18n.ParsePOBytes(data, path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func find(f *i18n.POFile, key string) *i18n.Message {
	for _, m := range f.Messages {
		if m.Key() == key {
			return m
		}
	}
	return nil
}

func TestI18nWorkflow(t *testing.T) {
	dir := t.TempDir()
	locale := filepath.Join(dir, "locale")
	writeFiles(t, dir, map[string]string{"app.go": i18nGoSource})
	writeFiles(t, filepath.Join(dir, "templates"), map[string]string{"home.html": `<h1>{{t .Ctx "Welcome"}}</h1>`})

	// extract: the .pot, and new .po files for de and ru.
	r := kitctl(t, []string{"i18n", "extract", "--source", dir, "--locale-dir", locale, "--lang", "de", "--lang", "ru"})
	if r.code != 0 {
		t.Fatalf("extract: %+v", r)
	}
	pot := readPO(t, filepath.Join(locale, "messages.pot"))
	if len(pot.Messages) != 6 || find(pot, "Hello, %s!") == nil || find(pot, "verb\x04Post") == nil || find(pot, "Welcome") == nil {
		t.Fatalf("pot: %s", pot.Bytes())
	}
	if m := find(pot, "Hello, %s!"); m.ExtractedComments == nil || !m.HasFlag("go-format") {
		t.Errorf("pot entry: %+v", m)
	}
	dePath := filepath.Join(locale, "de", "LC_MESSAGES", "messages.po")
	de := readPO(t, dePath)
	if de.Language() != "de" || de.HeaderField("Plural-Forms") != "nplurals=2; plural=(n != 1);" || de.Stats().Untranslated != 6 {
		t.Fatalf("new de.po: %s", de.Bytes())
	}
	ru := readPO(t, filepath.Join(locale, "ru", "LC_MESSAGES", "messages.po"))
	if m := find(ru, "%d file"); m == nil || len(m.Str) != 3 {
		t.Fatalf("ru plural forms: %+v", m)
	}

	// translate de, compile, load.
	for _, m := range de.Messages {
		switch m.ID {
		case "Hello, %s!":
			m.Str = []string{"Hallo, %s!"}
		case "%d file":
			m.Str = []string{"%d Datei", "%d Dateien"}
		case "Delete this file":
			m.Str = []string{"Diese Datei löschen"}
		case "Welcome":
			m.Str = []string{"Willkommen"}
		}
	}
	if err := os.WriteFile(dePath, de.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r = kitctl(t, []string{"i18n", "compile", "--locale-dir", locale})
	if r.code != 0 || !strings.Contains(r.stdout, "messages.po: 4 messages") {
		t.Fatalf("compile: %+v", r)
	}
	set, err := i18n.LoadSet(os.DirFS(locale), mustTag("en"))
	if err != nil {
		t.Fatal(err)
	}
	if got := i18n.NewTranslator(set).Locale("de").T("Hello, %s!", "Ana"); got != "Hallo, Ana!" {
		t.Errorf("compiled catalog: %q", got)
	}

	// stats
	r = kitctl(t, []string{"i18n", "stats", "--locale-dir", locale})
	if r.code != 0 || !strings.Contains(r.stdout, "de        messages  4           0      2             0         67%") {
		t.Errorf("stats: %+v", r)
	}

	// The code changes: a message edited, one removed. extract merges as msgmerge does.
	src := strings.Replace(i18nGoSource, `i18n.T(ctx, "Delete this file")`, `i18n.T(ctx, "Delete these files")`, 1)
	src = strings.Replace(src, `i18n.P(ctx, "verb", "Post"),`, ``, 1)
	writeFiles(t, dir, map[string]string{"app.go": src})
	if err := os.Remove(filepath.Join(dir, "templates", "home.html")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KIT_LOCALE_DIR", locale)
	r = kitctl(t, []string{"i18n", "extract", "--source", dir})
	if r.code != 0 {
		t.Fatalf("second extract: %+v", r)
	}
	de = readPO(t, dePath)
	if m := find(de, "Delete these files"); m == nil || !m.Fuzzy() || m.Str[0] != "Diese Datei löschen" || m.PrevID != "Delete this file" {
		t.Errorf("changed message: %+v", m)
	}
	if m := find(de, "Welcome"); m == nil || !m.Obsolete {
		t.Errorf("removed message: %+v", m)
	}
	if m := find(de, "Hello, %s!"); m == nil || m.Str[0] != "Hallo, %s!" || m.Fuzzy() {
		t.Errorf("kept message: %+v", m)
	}
	if find(de, "verb\x04Post") != nil {
		t.Error("a removed untranslated message should be dropped")
	}
	// Running extract again with nothing changed leaves the files alone.
	before, _ := os.ReadFile(filepath.Join(locale, "messages.pot"))
	r = kitctl(t, []string{"i18n", "extract", "--source", dir})
	after, _ := os.ReadFile(filepath.Join(locale, "messages.pot"))
	if r.code != 0 || string(before) != string(after) || !strings.Contains(r.stdout, "unchanged") {
		t.Errorf("idempotent extract: %+v", r)
	}
}

func TestI18nCompileErrors(t *testing.T) {
	locale := t.TempDir()
	good := "msgid \"\"\nmsgstr \"Language: de\\nPlural-Forms: nplurals=2; plural=(n != 1);\\n\"\n\nmsgid \"a\"\nmsgstr \"b\"\n"
	bad := "msgid \"\"\nmsgstr \"Language: fr\\nPlural-Forms: nplurals=2; plural=(n > 1);\\n\"\n\n#, go-format\nmsgid \"Hello, %s\"\nmsgstr \"Bonjour, %d\"\n"
	writeFiles(t, filepath.Join(locale, "de", "LC_MESSAGES"), map[string]string{"messages.po": good})
	writeFiles(t, filepath.Join(locale, "fr", "LC_MESSAGES"), map[string]string{"messages.po": bad, "messages.mo": "old"})
	r := kitctl(t, []string{"i18n", "compile", "--locale-dir", locale})
	frPO := filepath.Join(locale, "fr", "LC_MESSAGES", "messages.po")
	if r.code != 1 || !strings.Contains(r.stderr, frPO+":6: msgstr formats argument 1 with %d where msgid has %s") {
		t.Fatalf("bad format: %+v", r)
	}
	if b, _ := os.ReadFile(filepath.Join(locale, "fr", "LC_MESSAGES", "messages.mo")); string(b) != "old" {
		t.Error("a failed compile replaced the old .mo")
	}
	if _, err := os.Stat(filepath.Join(locale, "de", "LC_MESSAGES", "messages.mo")); err != nil {
		t.Errorf("the good catalog was not compiled: %v", err)
	}
	// Syntax errors name file:line too.
	writeFiles(t, filepath.Join(locale, "fr", "LC_MESSAGES"), map[string]string{"messages.po": "msgid \"a\"\nmsgstr \"b\n"})
	if r := kitctl(t, []string{"i18n", "compile", "--locale-dir", locale}); r.code != 1 || !strings.Contains(r.stderr, frPO+":2:") {
		t.Errorf("syntax error: %+v", r)
	}
	if r := kitctl(t, []string{"i18n", "compile", "--locale-dir", filepath.Join(locale, "none")}); r.code != 1 {
		t.Errorf("missing dir: %+v", r)
	}
	if r := kitctl(t, []string{"i18n", "compil"}); r.code != 2 || !strings.Contains(r.stderr, "did you mean compile") {
		t.Errorf("typo: %+v", r)
	}
	if r := kitctl(t, []string{"i18n", "extract", "--lang", "../x", "--locale-dir", locale, "--source", locale}); r.code != 2 {
		t.Errorf("bad --lang: %+v", r)
	}
}

func mustTag(s string) language.Tag { return language.MustParse(s) }
