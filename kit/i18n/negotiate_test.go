package i18n

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestParseAcceptLanguage(t *testing.T) {
	cases := []struct {
		in   string
		want []LanguageRange
	}{
		{"", nil},
		{"de", []LanguageRange{{"de", 1}}},
		{"fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", []LanguageRange{{"fr-CH", 1}, {"fr", 0.9}, {"en", 0.8}, {"de", 0.7}, {"*", 0.5}}},
		{"en;q=0.5, ru ;q=1.0,pl; q = 0.7", []LanguageRange{{"ru", 1}, {"pl", 0.7}, {"en", 0.5}}},
		{"de;q=0, en", []LanguageRange{{"en", 1}}},
		{"de;q=2, en;q=abc, x!y, en-GB;q=0.001, toolonglanguage", []LanguageRange{{"en-GB", 0.001}}},
		{"ja, ja", []LanguageRange{{"ja", 1}, {"ja", 1}}},
		{"zh-Hant-TW;q=0.3,zh;q=0.3", []LanguageRange{{"zh-Hant-TW", 0.3}, {"zh", 0.3}}},
	}
	for _, c := range cases {
		if got := ParseAcceptLanguage(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %v, want %v", c.in, got, c.want)
		}
	}
}

func TestAcceptLanguageLengthCap(t *testing.T) {
	// As Django since CVE-2023-23969: cut at the last comma before 500 bytes.
	long := "de;q=0.9, " + strings.Repeat("en-aaaaaaaa-bbbbbbbb;q=0.1, ", 17) + "en-aa, fr-ch, ru" // ru straddles byte 500
	if i := strings.Index(long, "ru"); i != 500 {
		t.Fatalf("test header: ru at %d", i)
	}
	got := ParseAcceptLanguage(long)
	for _, r := range got {
		if r.Range == "ru" {
			t.Fatalf("range past the cap was parsed: %v", got)
		}
	}
	if len(got) != 20 || got[1].Range != "fr-ch" {
		t.Fatalf("ranges before the cap lost: %v", got)
	}
	if got := ParseAcceptLanguage("en-" + strings.Repeat("a", 600)); got != nil {
		t.Errorf("one over-long range: %v", got)
	}
}

func TestNegotiate(t *testing.T) {
	tr := corpusTranslator(t)
	cases := map[string]string{
		"":                               "en",
		"ru":                             "ru",
		"ru-RU,ru;q=0.9,en-US;q=0.8":     "ru",
		"fr-CH, fr;q=0.9, de;q=0.7":      "de",
		"pt-BR":                          "pt-BR",
		"pt-PT,pt;q=0.9":                 "pt",
		"xx, yy":                         "en",
		"*":                              "en",
		"ja;q=0.2, ar;q=0.9":             "ar",
		"de;q=0, pl":                     "pl",
		strings.Repeat("x", 600) + ",de": "en",
	}
	for h, want := range cases {
		if got := tr.Negotiate(h).String(); got != want {
			t.Errorf("%q: got %s, want %s", h, got, want)
		}
		// Cached answers agree.
		if got := tr.Negotiate(h).String(); got != want {
			t.Errorf("%q cached: got %s, want %s", h, got, want)
		}
	}
}

func TestMiddleware(t *testing.T) {
	tr := corpusTranslator(t)
	var gotPath, gotText string
	h := tr.Middleware(WithURLPrefix())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath = r.URL.Path
		gotText = T(r.Context(), "Welcome")
	}))
	do := func(path, accept, cookie string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		if accept != "" {
			r.Header.Set("Accept-Language", accept)
		}
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: DefaultCookie, Value: cookie})
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	cases := []struct {
		path, accept, cookie   string
		wantPath, text, header string
	}{
		{"/de/cart", "ru", "ja", "/cart", "Willkommen", "de"},
		{"/pt-br/x/y", "", "", "/x/y", "Bem-vindo", "pt-BR"},
		{"/de", "", "", "/", "Willkommen", "de"},
		{"/cart", "ru", "ja", "/cart", "ようこそ", "ja"},
		{"/cart", "ru", "", "/cart", "Добро пожаловать", "ru"},
		{"/cart", "ru", "klingon", "/cart", "Добро пожаловать", "ru"},
		{"/xx/cart", "", "", "/xx/cart", "Welcome", "en"},
	}
	for _, c := range cases {
		w := do(c.path, c.accept, c.cookie)
		if gotPath != c.wantPath || gotText != c.text || w.Header().Get("Content-Language") != c.header {
			t.Errorf("%+v: path %q text %q Content-Language %q", c, gotPath, gotText, w.Header().Get("Content-Language"))
		}
		if v := w.Header().Values("Vary"); len(v) != 1 || v[0] != "Accept-Language, Cookie" {
			t.Errorf("Vary: %v", v)
		}
	}
	// Without a cookie and the prefix option.
	h2 := tr.Middleware(WithCookie(""))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { gotPath = r.URL.Path }))
	r := httptest.NewRequest("GET", "/de/cart", nil)
	w := httptest.NewRecorder()
	h2.ServeHTTP(w, r)
	if gotPath != "/de/cart" || w.Header().Get("Vary") != "Accept-Language" {
		t.Errorf("no prefix option: %q %q", gotPath, w.Header().Get("Vary"))
	}
}

func FuzzParseAcceptLanguage(f *testing.F) {
	for _, s := range []string{"", "de", "fr-CH, fr;q=0.9, en;q=0.8, *;q=0.5", "en;q=0", "x;q=1.000", "a-b-c-d;q=0.123,,", ";q=0.5", strings.Repeat("en,", 200)} {
		f.Add(s)
	}
	tr := NewTranslator(mustSet(f))
	f.Fuzz(func(t *testing.T, h string) {
		rs := ParseAcceptLanguage(h)
		if len(rs) > maxLanguageRanges {
			t.Fatalf("%d ranges", len(rs))
		}
		for i, r := range rs {
			if r.Q <= 0 || r.Q > 1 || !validRange(r.Range) {
				t.Fatalf("bad range %+v", r)
			}
			if i > 0 && rs[i-1].Q < r.Q {
				t.Fatalf("not sorted: %v", rs)
			}
		}
		if l := tr.Negotiate(h); l == nil {
			t.Fatal("nil locale")
		}
	})
}
