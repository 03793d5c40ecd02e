package extract

import (
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/i18n"
)

func TestDir(t *testing.T) {
	pot, warnings, err := Dir("testdata/app", Options{Now: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), Project: "app 1.0"})
	if err != nil {
		t.Fatal(err)
	}
	got := string(pot.Bytes())
	want := `# SOME DESCRIPTIVE TITLE.
# Copyright (C) YEAR THE PACKAGE'S COPYRIGHT HOLDER
# This file is distributed under the same license as the PACKAGE package.
# FIRST AUTHOR <EMAIL@ADDRESS>, YEAR.
#
#, fuzzy
msgid ""
msgstr ""
"Project-Id-Version: app 1.0\n"
"Report-Msgid-Bugs-To: \n"
"POT-Creation-Date: 2026-11-23 10:00+0000\n"
"PO-Revision-Date: YEAR-MO-DA HO:MI+ZONE\n"
"Last-Translator: FULL NAME <EMAIL@ADDRESS>\n"
"Language-Team: LANGUAGE <LL@li.org>\n"
"Language: \n"
"MIME-Version: 1.0\n"
"Content-Type: text/plain; charset=UTF-8\n"
"Content-Transfer-Encoding: 8bit\n"
"Plural-Forms: nplurals=INTEGER; plural=EXPRESSION;\n"

#: internal/other.go:5
msgid "Goodbye"
msgid_plural "Goodbyes"
msgstr[0] ""
msgstr[1] ""

#. Translators: %s is the user's first name
#: internal/other.go:8 main.go:20 main.go:28 templates/cart.html:6
#, go-format
msgid "Hello, %s!"
msgstr ""

#. Translators: shown on the 404 page
#: main.go:11
msgid "Page not found"
msgstr ""

#: main.go:14
msgctxt "menu"
msgid "File"
msgstr ""

#: main.go:15
#, go-format
msgctxt "menu"
msgid "%d recent file"
msgid_plural "%d recent files"
msgstr[0] ""
msgstr[1] ""

#: main.go:21
#, go-format
msgid "%d file"
msgid_plural "%d files"
msgstr[0] ""
msgstr[1] ""

#: main.go:22 templates/cart.html:4
msgctxt "verb"
msgid "Post"
msgstr ""

#: main.go:23 templates/cart.html:5
#, go-format
msgctxt "inbox"
msgid "%d message"
msgid_plural "%d messages"
msgstr[0] ""
msgstr[1] ""

#: main.go:24
msgid "A message written over two lines"
msgstr ""

#: main.go:29
msgid "Raw \"quoted\" text"
msgstr ""

#: main.go:30
msgid "100%% sure"
msgstr ""

#: templates/cart.html:1
msgid "Your cart"
msgstr ""

#. Translators: the number of items in the cart
#: templates/cart.html:3
#, go-format
msgid "%d item in your cart"
msgid_plural "%d items in your cart"
msgstr[0] ""
msgstr[1] ""
`
	if got != want {
		t.Errorf("POT:\n%s", got)
	}
	var ws []string
	for _, w := range warnings {
		ws = append(ws, w.String())
	}
	joined := strings.Join(ws, "\n")
	for _, w := range []string{"main.go:26: T: argument 2 is not a string literal", "templates/cart.html:7: t: argument 2 is not a string literal"} {
		if !strings.Contains(joined, w) {
			t.Errorf("missing warning %q in:\n%s", w, joined)
		}
	}
	// The template round-trips through the PO parser and is a valid merge base.
	if _, err := i18n.ParsePOBytes(pot.Bytes(), "messages.pot"); err != nil {
		t.Fatal(err)
	}
	// Test files only on request.
	withTests, _, _ := Dir("testdata/app", Options{Tests: true})
	if !strings.Contains(string(withTests.Bytes()), "Only in tests") {
		t.Error("Tests option ignored")
	}
}

func TestSyntaxErrors(t *testing.T) {
	c := NewCollector()
	if err := c.Go("bad.go", []byte("package x\nfunc (")); err == nil || !strings.Contains(err.Error(), "bad.go:2") {
		t.Errorf("go: %v", err)
	}
	if err := c.Template("bad.html", []byte("{{t .Ctx \"x\"")); err == nil || !strings.Contains(err.Error(), "bad.html:1") {
		t.Errorf("template: %v", err)
	}
}
