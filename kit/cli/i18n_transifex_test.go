package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stackkit/stackkit/kit/cli"
	"github.com/stackkit/stackkit/kit/i18n/transifex/txtest"
)

const txWeb = "o:acme:p:shop:r:web"

func txPO(lang, hello string) string {
	return "msgid \"\"\nmsgstr \"\"\n\"Content-Type: text/plain; charset=UTF-8\\n\"\n\"Language: " + lang + "\\n\"\n\nmsgid \"Hello\"\nmsgstr \"" + hello + "\"\n"
}

// txProject starts the imitation and a project directory using it; the token is in
// KIT_TRANSIFEX_TOKEN and HOME has no .transifexrc.
func txProject(t *testing.T) (*txtest.Server, string, []string) {
	t.Helper()
	srv := txtest.New(t, txtest.WithJobPolls(0))
	srv.AddProject("o:acme:p:shop", "en", "de", "fr")
	srv.AddResource(txWeb, "PO", []byte(txPO("en", "")))
	srv.SetTranslation(txWeb, "de", []byte(txPO("de", "Hallo")), txtest.Stats{Total: 1, Translated: 1})
	srv.SetTranslation(txWeb, "fr", []byte(txPO("fr", "Bonjour")), txtest.Stats{Total: 1, Translated: 1})
	root := t.TempDir()
	writeFiles(t, filepath.Join(root, ".tx"), map[string]string{"config": "[main]\nhost = https://www.transifex.com\n\n[" + txWeb + "]\nfile_filter = locale/<lang>.po\nsource_file = locale/en.po\nsource_lang = en\ntype = PO\n"})
	writeFiles(t, filepath.Join(root, "locale"), map[string]string{"en.po": txPO("en", ""), "de.po": "old"})
	t.Setenv("HOME", t.TempDir())
	t.Setenv("TX_TOKEN", "")
	t.Setenv("KIT_TRANSIFEX_TOKEN", srv.Token)
	return srv, root, []string{"--config", filepath.Join(root, ".tx", "config"), "--rest-hostname", srv.URL(), "--rate", "1000"}
}

func runCmd(cmd *cobra.Command, args ...string) result {
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	code := cli.ExecuteContext(context.Background(), cmd, args)
	return result{code, out.String(), errOut.String()}
}

func TestI18nPull(t *testing.T) {
	srv, root, flags := txProject(t)
	r := runCmd(cli.I18nPullCommand(), append(flags, "--compile")...)
	if r.code != 0 || !strings.Contains(r.stdout, "written   "+txWeb+" [de] locale/de.po") || !strings.Contains(r.stdout, "pull: 1 written, 0 unchanged, 1 skipped, 0 failed") {
		t.Fatalf("pull: %+v", r)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "locale", "de.po")); !strings.Contains(string(b), "Hallo") {
		t.Fatalf("de.po = %q", b)
	}
	if _, err := os.Stat(filepath.Join(root, "locale", "de.mo")); err != nil {
		t.Fatalf("--compile wrote no MO: %v", err)
	}
	if strings.Contains(r.stdout+r.stderr, srv.Token) {
		t.Fatal("the token was printed")
	}
	// Not a terminal: plain lines, no progress escapes.
	if strings.Contains(r.stdout+r.stderr, "\r") {
		t.Errorf("progress line written to a non-terminal: %q", r.stderr)
	}
	r = runCmd(cli.I18nPullCommand(), append(flags, "--all", "-l", "de,fr")...)
	if r.code != 0 || !strings.Contains(r.stdout, "1 written, 1 unchanged") {
		t.Fatalf("second pull: %+v", r)
	}
}

func TestI18nPullFailureExitsNonZero(t *testing.T) {
	srv, root, flags := txProject(t)
	srv.FailJob(txWeb, "de", txtest.ErrorObject{Code: "compilation_error", Detail: "Could not compile the file"})
	r := runCmd(cli.I18nPullCommand(), flags...)
	if r.code != 1 || !strings.Contains(r.stdout, "failed    "+txWeb+" [de]") || !strings.Contains(r.stdout, "Could not compile the file") || !strings.Contains(r.stderr, "1 of 2 failed") {
		t.Fatalf("pull: %+v", r)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "locale", "de.po")); string(b) != "old" {
		t.Fatalf("old file replaced: %q", b)
	}
}

func TestI18nPullUnauthorized(t *testing.T) {
	_, _, flags := txProject(t)
	t.Setenv("KIT_TRANSIFEX_TOKEN", "1/wrong-token-value")
	r := runCmd(cli.I18nPullCommand(), flags...)
	if r.code != 1 || !strings.Contains(r.stderr, "authentication failed") || !strings.Contains(r.stderr, "KIT_TRANSIFEX_TOKEN") {
		t.Fatalf("pull: %+v", r)
	}
	if strings.Contains(r.stdout+r.stderr, "wrong-token-value") {
		t.Fatal("the token was printed")
	}
	t.Setenv("KIT_TRANSIFEX_TOKEN", "")
	if r := runCmd(cli.I18nPullCommand(), flags...); r.code != 1 || !strings.Contains(r.stderr, "no API token") {
		t.Fatalf("no token: %+v", r)
	}
}

func TestI18nPullUsageErrors(t *testing.T) {
	_, _, flags := txProject(t)
	for _, args := range [][]string{{"--mode", "fuzzy"}, {"--minimum-perc", "120"}, {"--workers", "0"}, {"extra"}} {
		if r := runCmd(cli.I18nPullCommand(), append(flags, args...)...); r.code != 2 {
			t.Errorf("%v: %+v", args, r)
		}
	}
	r := runCmd(cli.I18nPullCommand(), "--help")
	for _, want := range []string{".tx/config", "--minimum-perc", "--all", "--compile", "lang_map", "KIT_TRANSIFEX_TOKEN", "onlyreviewed"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestI18nPush(t *testing.T) {
	srv, root, flags := txProject(t)
	writeFiles(t, filepath.Join(root, "locale"), map[string]string{
		"en.po": txPO("en", "") + "\nmsgid \"Bye\"\nmsgstr \"\"\n",
		"de.po": txPO("de", "Hallo!"),
	})
	r := runCmd(cli.I18nPushCommand(), append(flags, "-s", "-t")...)
	if r.code != 0 || !strings.Contains(r.stdout, "written   "+txWeb+" [source] locale/en.po (1 created, 0 updated, 0 deleted, 1 unchanged)") ||
		!strings.Contains(r.stdout, "[de] locale/de.po (0 created, 1 updated)") {
		t.Fatalf("push: %+v", r)
	}
	if !strings.Contains(string(srv.Translation(txWeb, "de")), "Hallo!") {
		t.Fatal("the translation did not reach the server")
	}
}
