package i18n

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/language"
)

func mustSet(tb testing.TB) *Set {
	tb.Helper()
	f, err := ParsePOBytes([]byte(`msgid ""
msgstr "Language: de\n"

msgid "a"
msgstr "b"
`), "de.po")
	if err != nil {
		tb.Fatal(err)
	}
	c, err := NewCatalog(language.Und, f)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := NewSet(language.English, c)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestParsePOEntries(t *testing.T) {
	f := parseFile(t, "testdata/corpus/ru.po")
	if f.Language() != "ru" || !strings.HasPrefix(f.HeaderField("plural-forms"), "nplurals=3;") {
		t.Fatalf("header: %q %q", f.Language(), f.HeaderField("Plural-Forms"))
	}
	if len(f.Header.Comments) != 5 || f.Header.Comments[4] != "" {
		t.Errorf("header comments: %q", f.Header.Comments)
	}
	byKey := map[string]*Message{}
	for _, m := range f.Messages {
		byKey[m.Key()] = m
	}
	m := byKey["%d item in your cart"]
	if m == nil || !m.Plural || len(m.Str) != 3 || m.Str[2] != "В корзине %d товаров" ||
		len(m.References) != 4 || m.References[3] != "templates/cart.html:12" || !m.HasFlag("go-format") || m.Line != 33 || m.StrLine != 35 {
		t.Errorf("plural entry: %+v", m)
	}
	if m := byKey["verb\x04Post"]; m == nil || m.Str[0] != "Опубликовать" || m.ExtractedComments[0] != "Translators: the verb, on a button" {
		t.Errorf("context entry: %+v", m)
	}
	if m := byKey["Press \"Continue\" to go on, or \\ to cancel.\tTab separated."]; m == nil {
		t.Error("escapes not decoded")
	}
	if m := byKey["You have %d new notification"]; m == nil || !m.Fuzzy() || !m.HasPrev || m.PrevID != "You have %d new message" {
		t.Errorf("fuzzy entry with previous msgid: %+v", m)
	}
	if m := byKey["menu\x04Archive"]; m == nil || !m.Obsolete || !m.Fuzzy() {
		t.Errorf("obsolete entry: %+v", m)
	}
	if m := byKey["Your order has been shipped.\nYou can follow the parcel with the link below.\n"]; m == nil {
		t.Error("multi-line string")
	}
	st := f.Stats()
	if st != (Stats{Translated: 11, Fuzzy: 1, Untranslated: 1, Obsolete: 2}) {
		t.Errorf("stats: %+v", st)
	}
	d := parseFile(t, "testdata/corpus/de.po")
	for _, m := range d.Messages {
		if strings.HasPrefix(m.ID, "Octal") && m.ID != "Octal A and hex B escapes, a bell\a and a carriage return\r" {
			t.Errorf("octal/hex escapes: %q", m.ID)
		}
	}
}

func TestParsePOErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"msgid \"a\"\nmsgstr \"b\n", "x.po:2: want a quoted string"},
		{"msgid \"a\"\n", "x.po:1: entry \"a\" has no msgstr"},
		{"msgid \"a\"\nmsgstr \"b\"\n\nmsgid \"a\"\nmsgstr \"c\"\n", "x.po:4: duplicate message definition, first at line 1"},
		{"msgid \"a\"\nmsgstr[0] \"b\"\n", "x.po:2: msgstr[0] in an entry without msgid_plural"},
		{"msgid \"a\"\nmsgid_plural \"as\"\nmsgstr[1] \"b\"\n", "x.po:3: msgstr[1] out of order"},
		{"msgid \"a\\q\"\nmsgstr \"\"\n", "x.po:1: invalid escape \\q"},
		{"msgstr \"a\"\n", "x.po:1: msgstr must follow msgid"},
		{"\"a\"\n", "x.po:1: string continuation without a keyword"},
		{"msgid \"a\"\nmsgstr \"b\"\nfoo \"c\"\n", "x.po:3: unknown keyword \"foo\""},
		{"msgid \"a\"\nmsgstr \"\xff\"\n", "x.po:1: invalid UTF-8"},
		{"msgid \"a\"\nmsgid_plural \"b\"\nmsgstr \"c\"\n", "x.po:3: a plural entry needs msgstr[0]"},
	}
	for _, c := range cases {
		_, err := ParsePOBytes([]byte(c.in), "x.po")
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: got %v, want %q", c.in, err, c.want)
		}
	}
}

func TestParsePOCharset(t *testing.T) {
	src := "msgid \"\"\nmsgstr \"Content-Type: text/plain; charset=ISO-8859-1\\n\"\n\nmsgid \"Gruesse\"\nmsgstr \"Grüße\"\n"
	latin1, err := charmap.ISO8859_1.NewEncoder().String(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParsePOBytes([]byte(latin1), "de.po")
	if err != nil {
		t.Fatal(err)
	}
	if f.Messages[0].Str[0] != "Grüße" || !strings.Contains(f.HeaderField("Content-Type"), "UTF-8") {
		t.Errorf("charset conversion: %q %q", f.Messages[0].Str[0], f.HeaderField("Content-Type"))
	}
}

func TestCompileChecks(t *testing.T) {
	src := `msgid ""
msgstr ""
"Language: ru\n"
"Plural-Forms: nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);\n"

#, go-format
msgid "Hello, %s!"
msgstr "Привет, %d!"

#, go-format
msgid "%s has %d"
msgstr "%[2]d у %[1]s"

#, go-format
msgid "Missing %s"
msgstr "Нет"

#, go-format
msgid "%d file"
msgid_plural "%d files"
msgstr[0] "один файл"
msgstr[1] "%d файла"
msgstr[2] "%d файлов %s"

msgid "two forms"
msgid_plural "two forms"
msgstr[0] "a"
msgstr[1] "b"

#, python-brace-format
msgid "Hi {name}"
msgstr "Привет {nam}"

#, fuzzy, go-format
msgid "fuzzy %s"
msgstr "%d"

msgid "newline\n"
msgstr "перевод"
`
	f, err := ParsePOBytes([]byte(src), "ru.po")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(f)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"ru.po:8: msgstr formats argument 1 with %d where msgid has %s (go-format)",
		"ru.po:16: msgstr does not use argument 1 of msgid",
		"ru.po:21: msgstr[2] uses argument 2, which msgid does not",
		"ru.po:27: plural entry \"two forms\" has 2 forms",
		"ru.po:32: msgstr uses argument nam",
		"ru.po:39: msgid and msgstr do not both end with \\n",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	for _, bad := range []string{"ru.po:12", "ru.po:36", "ru.po:20:", "ru.po:22:"} {
		if strings.Contains(err.Error(), bad) {
			t.Errorf("unexpected problem at %s:\n%v", bad, err)
		}
	}
}

func TestCompileDropsAsMsgfmt(t *testing.T) {
	f := parseFile(t, "testdata/corpus/ru.po")
	c, err := Compile(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range c.Messages {
		if m.Fuzzy() || m.Obsolete || !m.Translated() {
			t.Errorf("compiled %q", m.ID)
		}
	}
	if len(c.Messages) != f.Stats().Translated {
		t.Errorf("compiled %d, translated %d", len(c.Messages), f.Stats().Translated)
	}
	if strings.Contains(c.Header.Str[0], "POT-Creation-Date") || !strings.Contains(f.Header.Str[0], "POT-Creation-Date") {
		t.Error("POT-Creation-Date handling")
	}
}

func TestMOErrors(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("hello world, not an MO file at all"), {0xde, 0x12, 0x04, 0x95, 0, 0, 9, 0, 1, 0, 0, 0, 28, 0, 0, 0, 36, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, err := ReadMO(data, "x.mo"); !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: %v", data, err)
		}
	}
}

func FuzzParsePO(f *testing.F) {
	for _, path := range []string{"testdata/corpus/ru.po", "testdata/corpus/ar.po", "testdata/corpus/pl.po", "testdata/corpus/ja.po", "testdata/corpus/de.po"} {
		f.Add(parseFileBytes(f, path))
	}
	f.Add([]byte("msgid \"a\\x41\\101\"\nmsgstr \"\"\n#~ msgid \"b\"\n#~ msgstr \"c\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePOBytes(data, "fuzz.po")
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !strings.Contains(err.Error(), "fuzz.po") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		// The catalog fast path agrees with the general one.
		if c, err := NewCatalog(language.German, p); err == nil {
			fast, err := ParseCatalog(language.German, data, "fuzz.po")
			if err != nil || fast.Len() != c.Len() {
				t.Fatalf("fast catalog: %v, %d entries, general %d", err, fast.Len(), c.Len())
			}
			for k, v := range c.msgs {
				if fast.msgs[k] != v {
					t.Fatalf("fast catalog %q: %q, general %q", k, fast.msgs[k], v)
				}
			}
		}
		// What parses writes out and parses back to the same output.
		out := p.Bytes()
		q, err := ParsePOBytes(out, "again.po")
		if err != nil {
			t.Fatalf("output does not parse: %v\n%s", err, out)
		}
		if !bytes.Equal(q.Bytes(), out) {
			t.Fatalf("unstable output:\n%s\n---\n%s", out, q.Bytes())
		}
		if c, err := Compile(p); err == nil {
			mo, err := MOBytes(c)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ReadMO(mo, "fuzz.mo"); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func parseFileBytes(tb testing.TB, path string) []byte {
	tb.Helper()
	f, err := ParsePOBytes(mustRead(tb, path), path)
	if err != nil {
		tb.Fatal(err)
	}
	return f.Bytes()
}

func TestFormatArgCount(t *testing.T) {
	for s, want := range map[string]int{"plain": 0, "100%% sure": 0, "%d files": 1, "%s has %d": 2, "%*d": 2, "%[2]d у %[1]s": -1, "[note] %d": 1, "%!": -1} {
		if got := formatArgCount(s); got != want {
			t.Errorf("%q: %d, want %d", s, got, want)
		}
	}
}
