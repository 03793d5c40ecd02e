package i18n

import (
	"bytes"
	"strings"
	"testing"
)

func TestMergeMatchesMsgmerge(t *testing.T) {
	want := runTool(t, "msgmerge", "--previous", "-q", "testdata/merge/de.po", "testdata/merge/messages.pot")
	def := parseFile(t, "testdata/merge/de.po")
	ref := parseFile(t, "testdata/merge/messages.pot")
	got := Merge(def, ref).Bytes()
	if !bytes.Equal(withoutGoFormat(got), want) {
		t.Errorf("differs from msgmerge --previous:\n%s", lineDiff(string(withoutGoFormat(got)), string(want)))
	}
}

func TestSimilarity(t *testing.T) {
	if s := similarity("Delete this file", "Delete these files", 0); s < 0.8 || s > 0.95 {
		t.Errorf("near strings: %v", s)
	}
	if s := similarity("Welcome", "Goodbye and thanks for all the fish", 0); s >= fuzzyThreshold {
		t.Errorf("far strings: %v", s)
	}
}

func TestNewPO(t *testing.T) {
	ref := parseFile(t, "testdata/merge/messages.pot")
	po := NewPO(ref, "ru")
	if po.Language() != "ru" || !strings.HasPrefix(po.HeaderField("Plural-Forms"), "nplurals=3;") || po.Header.Fuzzy() {
		t.Fatalf("header: %q", po.Header.Str[0])
	}
	for _, m := range po.Messages {
		if m.Translated() || (m.Plural && len(m.Str) != 3) {
			t.Errorf("entry %q: %q", m.ID, m.Str)
		}
	}
	if _, err := Compile(po); err != nil {
		t.Errorf("a new catalog must compile: %v", err)
	}
	if po := NewPO(ref, "xx"); po.HeaderField("Plural-Forms") != "" {
		t.Errorf("unknown language got %q", po.HeaderField("Plural-Forms"))
	}
}
