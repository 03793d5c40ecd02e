package i18n

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/text/language"
)

// Compile checks f as `msgfmt --check-format --check-header` does and returns the entries an MO
// file holds: the header and every non-obsolete entry that is neither fuzzy nor untranslated
// (msgstr, or msgstr[0], empty), as msgfmt keeps them. The input is not modified.
//
// Every problem is reported, each naming file:line, joined into one error wrapping [ErrSyntax]:
// a Plural-Forms header that does not parse or has out-of-range values; a plural entry whose
// number of msgstr[n] differs from nplurals; a translation whose placeholders do not match its
// msgid's under the entry's go-format, c-format or python-brace-format flag; msgid and msgstr
// that do not both begin, or both end, with a newline.
func Compile(f *POFile) (*POFile, error) {
	out := &POFile{Name: f.Name, Header: compiledHeader(f.Header)}
	var errs []error
	fail := func(line int, format string, args ...any) {
		errs = append(errs, syntaxErrorf("%s:%d: %s", f.Name, line, fmt.Sprintf(format, args...)))
	}
	rule, err := f.PluralRule()
	if err != nil {
		line := 1
		if f.Header != nil {
			line = f.Header.Line
		}
		fail(line, "%v", err)
	}
	for _, m := range f.Messages {
		if m.Obsolete || m.Fuzzy() || !m.Translated() {
			continue
		}
		line := m.StrLine
		if line == 0 {
			line = m.Line
		}
		if m.Plural && rule != nil && len(m.Str) != rule.N() {
			fail(line, "plural entry %q has %d forms, the header's Plural-Forms says nplurals=%d", m.ID, len(m.Str), rule.N())
		}
		for _, p := range checkFormat(m) {
			fail(line, "%s", p)
		}
		for _, p := range checkNewlines(m) {
			fail(line, "%s", p)
		}
		out.Messages = append(out.Messages, m)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// compiledHeader is the header as msgfmt writes it: without POT-Creation-Date, so that MO
// files do not change when only the template's date does.
func compiledHeader(h *Message) *Message {
	if h == nil || len(h.Str) == 0 {
		return h
	}
	c := *h
	var b strings.Builder
	for _, line := range strings.SplitAfter(h.Str[0], "\n") {
		if k, _, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "POT-Creation-Date" {
			continue
		}
		b.WriteString(line)
	}
	c.Str = []string{b.String()}
	return &c
}

func checkNewlines(m *Message) []string {
	var problems []string
	check := func(what, id, str string) {
		if id == "" || str == "" {
			return
		}
		if strings.HasPrefix(id, "\n") != strings.HasPrefix(str, "\n") {
			problems = append(problems, fmt.Sprintf("msgid and %s do not both begin with \\n", what))
		}
		if strings.HasSuffix(id, "\n") != strings.HasSuffix(str, "\n") {
			problems = append(problems, fmt.Sprintf("msgid and %s do not both end with \\n", what))
		}
	}
	if !m.Plural {
		check("msgstr", m.ID, m.Str[0])
		return problems
	}
	for i, s := range m.Str {
		id := m.IDPlural
		if i == 0 {
			id = m.ID
		}
		check(fmt.Sprintf("msgstr[%d]", i), id, s)
	}
	return problems
}

// PluralRule is the file's plural rule: its Plural-Forms header, or without one the CLDR rule of
// its Language (see [CLDRPluralRule]), or gettext's default (n != 1) when it names none.
func (f *POFile) PluralRule() (*PluralRule, error) {
	if pf := f.HeaderField("Plural-Forms"); pf != "" {
		return ParsePluralForms(pf)
	}
	if lang := f.Language(); lang != "" {
		if tag, err := parseLocaleName(lang); err == nil {
			return CLDRPluralRule(tag), nil
		}
	}
	return germanic, nil
}

// parseLocaleName parses a gettext or BCP 47 locale name: "pt_BR", "pt-BR", "sr@latin",
// "de_DE.UTF-8".
func parseLocaleName(name string) (language.Tag, error) {
	name, mod, _ := strings.Cut(name, "@")
	name, _, _ = strings.Cut(name, ".")
	name = strings.ReplaceAll(name, "_", "-")
	if mod == "latin" {
		name += "-Latn"
	} else if mod == "cyrillic" {
		name += "-Cyrl"
	}
	tag, err := language.Parse(name)
	if err != nil {
		return language.Und, fmt.Errorf("i18n: bad language %q: %w", name, err)
	}
	return tag, nil
}

// Stats counts a file's entries as `msgfmt --statistics` does.
type Stats struct {
	Translated   int
	Fuzzy        int
	Untranslated int
	Obsolete     int
}

// Total is the number of active entries.
func (s Stats) Total() int { return s.Translated + s.Fuzzy + s.Untranslated }

// Stats counts f's entries: fuzzy ones (with a translation) apart, untranslated ones having an
// empty msgstr (msgstr[0]), the header not counted.
func (f *POFile) Stats() Stats {
	var s Stats
	for _, m := range f.Messages {
		switch {
		case m.Obsolete:
			s.Obsolete++
		case !m.Translated():
			s.Untranslated++
		case m.Fuzzy():
			s.Fuzzy++
		default:
			s.Translated++
		}
	}
	return s
}
