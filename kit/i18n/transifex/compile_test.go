package transifex_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stackkit/stackkit/kit/i18n"
	"github.com/stackkit/stackkit/kit/i18n/transifex"
	"github.com/stackkit/stackkit/kit/i18n/transifex/txtest"
)

func TestPullCompileWritesMO(t *testing.T) {
	e := newEnv(t, "", nil)
	writeFile(t, e.root, deFile, "old")
	rep := e.pull(t, transifex.PullOptions{Compile: true})
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	mo := readFile(t, e.root, "locale/de/LC_MESSAGES/web.mo")
	f, err := i18n.ReadMO([]byte(mo), "web.mo")
	if err != nil {
		t.Fatal(err)
	}
	// Unchanged files are skipped, but not when their MO file is missing.
	if r := result(t, e.pull(t, transifex.PullOptions{Compile: true}), web, "de"); r.Status != transifex.StatusUnchanged {
		t.Fatalf("second pull: %v", r)
	}
	if err := os.Remove(filepath.Join(e.root, "locale/de/LC_MESSAGES/web.mo")); err != nil {
		t.Fatal(err)
	}
	if r := result(t, e.pull(t, transifex.PullOptions{Compile: true}), web, "de"); r.Status != transifex.StatusWritten || !exists(e.root, "locale/de/LC_MESSAGES/web.mo") {
		t.Fatalf("pull without the MO: %v", r)
	}
	var got []string
	for _, m := range f.Messages {
		got = append(got, m.ID+"="+m.Str[0])
	}
	if strings.Join(got, ",") != "Goodbye=Tschüss,Hello=Hallo" && strings.Join(got, ",") != "Hello=Hallo,Goodbye=Tschüss" {
		t.Fatalf("MO holds %v", got)
	}
}

func TestPullCompileFailureWritesNothing(t *testing.T) {
	e := newEnv(t, "", nil)
	writeFile(t, e.root, deFile, "old")
	// Parsable, but the translation drops the placeholder its go-format msgid has.
	bad := string(po("de", "Hallo", "Tschüss")) + "\n#, go-format\nmsgid \"%d files\"\nmsgstr \"Dateien\"\n"
	e.srv.SetTranslation(web, "de", []byte(bad), txtest.Stats{Total: 3, Translated: 3})
	rep := e.pull(t, transifex.PullOptions{Compile: true})
	r := result(t, rep, web, "de")
	if r.Status != transifex.StatusFailed || !errors.Is(r.Err, transifex.ErrInvalidFile) || !strings.Contains(r.Err.Error(), "compile") {
		t.Fatalf("de: %v", r)
	}
	if got := readFile(t, e.root, deFile); got != "old" {
		t.Fatalf("PO replaced: %q", got)
	}
	if exists(e.root, "locale/de/LC_MESSAGES/web.mo") {
		t.Fatal("MO written")
	}
	// Without --compile the same file is accepted: it parses.
	if r := result(t, e.pull(t, transifex.PullOptions{}), web, "de"); r.Status != transifex.StatusWritten {
		t.Fatalf("without compile: %v", r)
	}
}

func TestPullParallelWorkersAndProgress(t *testing.T) {
	e := newEnv(t, "", []txtest.Option{txtest.WithJobPolls(3)})
	langs := []string{"de", "fr", "pt_BR"}
	for i := range 12 {
		l := fmt.Sprintf("x%02d", i)
		langs = append(langs, l)
	}
	e.srv.AddProject(project, "en", langs...)
	for _, l := range langs[3:] {
		e.srv.SetTranslation(web, l, po(l, "H-"+l, "B-"+l), txtest.Stats{Total: 2, Translated: 2})
	}
	var mu sync.Mutex
	var started, ended, lastDone, total int
	rep := e.pull(t, transifex.PullOptions{All: true, Workers: 5, Progress: func(ev transifex.Event) {
		mu.Lock()
		defer mu.Unlock()
		if ev.Result == nil {
			started++
		} else {
			ended++
			lastDone, total = ev.Done, ev.Total
		}
	}})
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	if n := rep.Count(transifex.StatusWritten); n != 15 {
		t.Fatalf("written %d", n)
	}
	if started != 15 || ended != 15 || lastDone != 15 || total != 15 {
		t.Errorf("progress: started %d ended %d done %d/%d", started, ended, lastDone, total)
	}
	for _, l := range langs[3:] {
		if got := readFile(t, e.root, "locale/"+l+"/LC_MESSAGES/web.po"); !strings.Contains(got, "H-"+l) {
			t.Errorf("%s: %q", l, got)
		}
	}
}

func TestCorruptStateIsReportedAndIgnored(t *testing.T) {
	e := newEnv(t, "", nil)
	writeFile(t, e.root, deFile, "old")
	writeFile(t, e.root, transifex.DefaultStateFile, "{not json")
	rep := e.pull(t, transifex.PullOptions{})
	if rep.StateError == nil {
		t.Error("no state error")
	}
	if r := result(t, rep, web, "de"); r.Status != transifex.StatusWritten {
		t.Fatalf("de: %v", r)
	}
	// The state was rewritten, so the next pull skips.
	rep = e.pull(t, transifex.PullOptions{})
	if rep.StateError != nil || result(t, rep, web, "de").Status != transifex.StatusUnchanged {
		t.Fatalf("after rewrite: %v %v", rep.StateError, rep.Results)
	}
}
