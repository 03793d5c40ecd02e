package i18n

import (
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/text/language"
)

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Rules and the reference formulas as Go code, compared on 0..10000.
var pluralRules = []struct {
	header string
	ref    func(n uint64) uint64
}{
	{"nplurals=1; plural=0;", func(uint64) uint64 { return 0 }},
	{"nplurals=2; plural=(n != 1);", func(n uint64) uint64 { return b2u(n != 1) }},
	{"nplurals=2; plural=(n > 1);", func(n uint64) uint64 { return b2u(n > 1) }},
	{"nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);", func(n uint64) uint64 {
		switch {
		case n%10 == 1 && n%100 != 11:
			return 0
		case n%10 >= 2 && n%10 <= 4 && (n%100 < 10 || n%100 >= 20):
			return 1
		}
		return 2
	}},
	{"nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);", func(n uint64) uint64 {
		switch {
		case n == 1:
			return 0
		case n%10 >= 2 && n%10 <= 4 && (n%100 < 10 || n%100 >= 20):
			return 1
		}
		return 2
	}},
	{"nplurals=6; plural=n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5;", func(n uint64) uint64 {
		switch {
		case n == 0:
			return 0
		case n == 1:
			return 1
		case n == 2:
			return 2
		case n%100 >= 3 && n%100 <= 10:
			return 3
		case n%100 >= 11:
			return 4
		}
		return 5
	}},
	{"nplurals=4; plural=(n%100==1 ? 0 : n%100==2 ? 1 : n%100==3 || n%100==4 ? 2 : 3);", func(n uint64) uint64 {
		switch n % 100 {
		case 1:
			return 0
		case 2:
			return 1
		case 3, 4:
			return 2
		}
		return 3
	}},
	{"nplurals=3; plural=!(n - 1) ? 0 : (n * 2 + 4) / 3 % 2 ? 1 : 2;", func(n uint64) uint64 {
		if n-1 == 0 {
			return 0
		}
		if (n*2+4)/3%2 != 0 {
			return 1
		}
		return 2
	}},
}

func TestPluralForms(t *testing.T) {
	for _, c := range pluralRules {
		r, err := ParsePluralForms(c.header)
		if err != nil {
			t.Fatalf("%s: %v", c.header, err)
		}
		for n := uint64(0); n <= 10000; n++ {
			if got, want := r.Index(int(n)), int(c.ref(n)); got != want {
				t.Fatalf("%s n=%d: got %d, want %d", c.header, n, got, want)
			}
		}
	}
}

func TestPluralFormsErrors(t *testing.T) {
	for _, h := range []string{
		"nplurals=2; plural=n > 1 ? 2 : 0;", // index out of range
		"nplurals=2; plural=n / (n - n);",   // division by zero
		"nplurals=2; plural=n %% 2;",
		"nplurals=2; plural=(n != 1;",
		"nplurals=2; plural=m != 1;",
		"nplurals=0; plural=0;",
		"nplurals=x; plural=0;",
		"nplurals=2;",
		"plural=n != 1;",
		"nplurals=2; plural=n ? 1;",
		"nplurals=2; plural=;",
		"nplurals=2; plural=18446744073709551616;",
		"nplurals=2; plural=" + strings.Repeat("(", 500) + "n" + strings.Repeat(")", 500) + ";",
		"nplurals=2; plural=n != 1; foo=1;",
	} {
		if _, err := ParsePluralForms(h); err == nil || !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: %v", h, err)
		}
	}
}

func TestCLDRPluralRule(t *testing.T) {
	// Without a Plural-Forms header, CLDR's categories give the gettext numbering that
	// translators use for these languages.
	for lang, header := range map[string]string{
		"ru": pluralRules[3].header,
		"pl": pluralRules[4].header,
		"ar": pluralRules[5].header,
		"ja": pluralRules[0].header,
		"en": pluralRules[1].header,
		"fr": pluralRules[2].header,
	} {
		cldr := CLDRPluralRule(language.MustParse(lang))
		ref, _ := ParsePluralForms(header)
		if cldr.N() != ref.N() {
			t.Errorf("%s: CLDR has %d forms, gettext %d", lang, cldr.N(), ref.N())
			continue
		}
		for n := 0; n <= 2000; n++ {
			if cldr.Index(n) != ref.Index(n) {
				t.Errorf("%s n=%d: CLDR %d, gettext %d", lang, n, cldr.Index(n), ref.Index(n))
				break
			}
		}
	}
	f, err := ParsePOBytes([]byte("msgid \"\"\nmsgstr \"Language: pl\\n\"\n"), "pl.po")
	if err != nil {
		t.Fatal(err)
	}
	if r, err := f.PluralRule(); err != nil || r.N() != 3 || r.Index(22) != 1 {
		t.Errorf("headerless pl: %v %v", r, err)
	}
}

func FuzzPluralForms(f *testing.F) {
	for _, c := range pluralRules {
		f.Add(c.header, uint64(7))
	}
	f.Add("nplurals=2; plural=n/0;", uint64(1))
	f.Add("nplurals=3; plural=!!!n ? n%0 : 1 - 2;", uint64(0))
	f.Fuzz(func(t *testing.T, header string, n uint64) {
		r, err := ParsePluralForms(header)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error not ErrSyntax: %v", err)
			}
			return
		}
		// Never panics, always in range, for any count.
		if i := r.Index(int(n)); i < 0 || i >= r.N() {
			t.Fatalf("index %d of %d", i, r.N())
		}
	})
}
