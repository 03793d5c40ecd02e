package transifex_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/kit/i18n/transifex"
)

func TestParseConfig(t *testing.T) {
	cfg, err := transifex.ParseConfig([]byte(`# written by tx
[main]
host = https://www.transifex.com
lang_map = pt_BR: pt-br, zh_CN:zh-hans

[o:acme:p:shop:r:web]
file_filter  = locale/<lang>/LC_MESSAGES/django.po
source_file  = locale/en/LC_MESSAGES/django.po
source_lang  = en
type         = PO
minimum_perc = 80
lang_map     = pt_BR: pt_BR
trans.fr     = other/fr.po
resource_name = Web

; comment
[o:acme.inc:p:app:r:js]
file_filter: js/<lang>.po
lang_map = de_DE: de,
    fr_FR: fr
`), "cfg")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != transifex.DefaultHost || cfg.LangMap["pt_BR"] != "pt-br" || cfg.LangMap["zh_CN"] != "zh-hans" {
		t.Fatalf("main: %+v", cfg)
	}
	if len(cfg.Resources) != 2 {
		t.Fatalf("resources: %+v", cfg.Resources)
	}
	js, w := cfg.Resources[0], cfg.Resources[1]
	if js.ID != "o:acme.inc:p:app:r:js" || js.Organization != "acme.inc" || js.MinimumPerc != -1 || js.LangMap["fr_FR"] != "fr" || js.LangMap["de_DE"] != "de" {
		t.Errorf("js: %+v", js)
	}
	if w.Slug != "web" || w.Project != "shop" || w.ProjectID() != "o:acme:p:shop" || w.Type != "PO" || w.MinimumPerc != 80 ||
		w.SourceLang != "en" || w.Overrides["fr"] != "other/fr.po" || w.ResourceName != "Web" {
		t.Errorf("web: %+v", w)
	}
	// The resource's lang_map overrides [main]'s.
	if got := cfg.LocalLanguage(&w, "pt_BR"); got != "pt_BR" {
		t.Errorf("web pt_BR -> %q", got)
	}
	if got := cfg.LocalLanguage(&js, "pt_BR"); got != "pt-br" {
		t.Errorf("js pt_BR -> %q", got)
	}
	if got := cfg.RemoteLanguage(&js, "pt-br"); got != "pt_BR" {
		t.Errorf("js pt-br <- %q", got)
	}
	if got := w.TranslationPath("fr"); got != "other/fr.po" {
		t.Errorf("fr path %q", got)
	}
	if got := w.TranslationPath("de"); got != "locale/de/LC_MESSAGES/django.po" {
		t.Errorf("de path %q", got)
	}
	sel, err := cfg.SelectResources([]string{"app.*"})
	if err != nil || len(sel) != 1 || sel[0].Slug != "js" {
		t.Errorf("select app.*: %v %v", sel, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	cases := map[string]string{
		"no main":         "[o:a:p:b:r:c]\nfile_filter = <lang>.po\n",
		"no host":         "[main]\n",
		"old section":     "[main]\nhost = h\n[proj.res]\nfile_filter = <lang>.po\n",
		"bad id":          "[main]\nhost = h\n[o:a:p:b]\nfile_filter = <lang>.po\n",
		"no lang":         "[main]\nhost = h\n[o:a:p:b:r:c]\nfile_filter = x.po\n",
		"two langs":       "[main]\nhost = h\n[o:a:p:b:r:c]\nfile_filter = <lang>/<lang>.po\n",
		"no filter":       "[main]\nhost = h\n[o:a:p:b:r:c]\ntype = PO\n",
		"bad perc":        "[main]\nhost = h\n[o:a:p:b:r:c]\nfile_filter = <lang>.po\nminimum_perc = lots\n",
		"bad lang_map":    "[main]\nhost = h\nlang_map = pt_BR\n",
		"key before sect": "host = h\n[main]\n",
		"duplicate":       "[main]\nhost = h\n[main]\nhost = h\n",
		"absolute filter": "[main]\nhost = h\n[o:a:p:b:r:c]\nfile_filter = /abs/<lang>.po\n",
		"broken header":   "[main\nhost = h\n",
	}
	for name, text := range cases {
		if _, err := transifex.ParseConfig([]byte(text), "cfg"); !errors.Is(err, transifex.ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestFindConfigSearchesParents(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, ".tx/config", txConfig)
	deep := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := transifex.FindConfig(deep)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := transifex.LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.EvalSymlinks(root); cfg.Root != root && cfg.Root != want {
		t.Errorf("root %q, want %q", cfg.Root, root)
	}
	if _, err := transifex.FindConfig(t.TempDir()); !errors.Is(err, transifex.ErrConfig) {
		t.Errorf("no config: %v", err)
	}
}

func TestFindTranslations(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"locale/en/LC_MESSAGES/web.po", "locale/de/LC_MESSAGES/web.po", "locale/fr/LC_MESSAGES/other.po", "locale/x.txt", "alt/it.po"} {
		writeFile(t, root, f, "x")
	}
	r := &transifex.ResourceConfig{FileFilter: "locale/<lang>/LC_MESSAGES/web.po", SourceFile: "locale/en/LC_MESSAGES/web.po",
		Overrides: map[string]string{"it": "alt/it.po", "es": "alt/missing.po"}}
	got, err := transifex.FindTranslations(os.DirFS(root), r)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["de"] != "locale/de/LC_MESSAGES/web.po" || got["it"] != "alt/it.po" {
		t.Fatalf("found %v", got)
	}
}

func TestResolveCredentials(t *testing.T) {
	dir := t.TempDir()
	rc := filepath.Join(dir, ".transifexrc")
	writeFile(t, dir, ".transifexrc", `[https://www.transifex.com]
rest_hostname = https://rest.example.test
token = rc-token-secret

[https://old.example.test]
hostname = https://old.example.test
username = api
password = old-password-secret

[https://empty.example.test]
rest_hostname = https://rest.empty.test
`)
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	cfg := &transifex.Config{Host: transifex.DefaultHost}

	c, err := transifex.ResolveCredentials(cfg, transifex.CredentialOptions{Getenv: getenv, RCFile: rc})
	if err != nil || c.Token != "rc-token-secret" || c.RestHostname != "https://rest.example.test" || !strings.Contains(c.Source, ".transifexrc") {
		t.Fatalf("rc: %v %v", c, err)
	}
	if strings.Contains(c.String(), "secret") {
		t.Errorf("String shows the token: %s", c)
	}
	env["TX_TOKEN"] = "tx-token"
	if c, _ = transifex.ResolveCredentials(cfg, transifex.CredentialOptions{Getenv: getenv, RCFile: rc}); c.Token != "tx-token" || c.Source != "TX_TOKEN" || c.RestHostname != "https://rest.example.test" {
		t.Errorf("TX_TOKEN: %v", c)
	}
	env["KIT_TRANSIFEX_TOKEN"] = "kit-token"
	if c, _ = transifex.ResolveCredentials(cfg, transifex.CredentialOptions{Getenv: getenv, RCFile: rc}); c.Token != "kit-token" || c.Source != "KIT_TRANSIFEX_TOKEN" {
		t.Errorf("KIT_TRANSIFEX_TOKEN: %v", c)
	}
	clear(env)
	if c, _ = transifex.ResolveCredentials(&transifex.Config{Host: "https://old.example.test"}, transifex.CredentialOptions{Getenv: getenv, RCFile: rc}); c.Token != "old-password-secret" || c.RestHostname != transifex.DefaultRestHostname {
		t.Errorf("username = api: %v", c)
	}
	_, err = transifex.ResolveCredentials(&transifex.Config{Host: "https://empty.example.test"}, transifex.CredentialOptions{Getenv: getenv, RCFile: rc})
	if !errors.Is(err, transifex.ErrConfig) || !strings.Contains(err.Error(), "has no token") {
		t.Errorf("empty section: %v", err)
	}
	_, err = transifex.ResolveCredentials(cfg, transifex.CredentialOptions{Getenv: getenv, RCFile: filepath.Join(dir, "none")})
	if !errors.Is(err, transifex.ErrConfig) || !strings.Contains(err.Error(), "KIT_TRANSIFEX_TOKEN") {
		t.Errorf("no token: %v", err)
	}
	// A malformed rc names the line, never its text.
	writeFile(t, dir, "bad", "[x]\ntoken-without-equals-secret\n")
	_, err = transifex.ResolveCredentials(cfg, transifex.CredentialOptions{Getenv: getenv, RCFile: filepath.Join(dir, "bad")})
	if err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), ":2:") {
		t.Errorf("bad rc: %v", err)
	}
}
