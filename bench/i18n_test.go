package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/leonelquinteros/gotext"
	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"github.com/stackkit/stackkit/kit/i18n"
	"golang.org/x/text/language"
)

// The i18n benchmarks run kit/i18n beside leonelquinteros/gotext (gettext PO/MO in Go) and
// nicksnyder/go-i18n (its own message files, CLDR plurals). Every library gets the same
// 10,000-message Russian catalog: 80% simple messages, 10% plural (three forms), 10% with a
// msgctxt. go-i18n has no msgctxt: its "context" messages are IDs with the context prefixed,
// the way its users write them. See docs/benchmarks.md.

const i18nEntries = 10_000

type i18nData struct {
	po, mo, goi18nJSON []byte
	simple, ctx        []string // msgids
	ctxName            []string
	plural             []string
}

var i18nCorpus = func() func(testing.TB) *i18nData {
	var d *i18nData
	return func(tb testing.TB) *i18nData {
		if d != nil {
			return d
		}
		d = &i18nData{}
		var po strings.Builder
		po.WriteString(`msgid ""
msgstr ""
"Language: ru\n"
"MIME-Version: 1.0\n"
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);\n"
`)
		gi := map[string]any{}
		for i := range i18nEntries {
			switch {
			case i%10 == 1:
				id := fmt.Sprintf("%%d file in folder %d", i)
				d.plural = append(d.plural, id)
				fmt.Fprintf(&po, "\n#: app/files.go:%d\n#, go-format\nmsgid %q\nmsgid_plural %q\nmsgstr[0] %q\nmsgstr[1] %q\nmsgstr[2] %q\n",
					i, id, fmt.Sprintf("%%d files in folder %d", i), fmt.Sprintf("%%d файл в папке %d", i), fmt.Sprintf("%%d файла в папке %d", i), fmt.Sprintf("%%d файлов в папке %d", i))
				gi[id] = map[string]string{"one": fmt.Sprintf("{{.Count}} файл в папке %d", i), "few": fmt.Sprintf("{{.Count}} файла в папке %d", i), "many": fmt.Sprintf("{{.Count}} файлов в папке %d", i), "other": fmt.Sprintf("{{.Count}} файла в папке %d", i)}
			case i%10 == 2:
				id, ctx := fmt.Sprintf("Open item %d", i), "menu"
				d.ctx = append(d.ctx, id)
				d.ctxName = append(d.ctxName, ctx)
				fmt.Fprintf(&po, "\n#: app/menu.go:%d\nmsgctxt %q\nmsgid %q\nmsgstr %q\n", i, ctx, id, fmt.Sprintf("Открыть элемент %d", i))
				gi[ctx+"|"+id] = fmt.Sprintf("Открыть элемент %d", i)
			default:
				id := fmt.Sprintf("The order number %d has been shipped to the customer", i)
				d.simple = append(d.simple, id)
				fmt.Fprintf(&po, "\n#: app/orders.go:%d\nmsgid %q\nmsgstr %q\n", i, id, fmt.Sprintf("Заказ номер %d отправлен покупателю", i))
				gi[id] = fmt.Sprintf("Заказ номер %d отправлен покупателю", i)
			}
		}
		d.po = []byte(po.String())
		f, err := i18n.ParsePOBytes(d.po, "ru.po")
		if err != nil {
			tb.Fatal(err)
		}
		c, err := i18n.Compile(f)
		if err != nil {
			tb.Fatal(err)
		}
		if d.mo, err = i18n.MOBytes(c); err != nil {
			tb.Fatal(err)
		}
		if d.goi18nJSON, err = json.Marshal(gi); err != nil {
			tb.Fatal(err)
		}
		return d
	}
}()

type i18nLibs struct {
	kit    context.Context
	gotext *gotext.Po
	goi18n *goi18n.Localizer
}

func newI18nLibs(b *testing.B) (*i18nData, i18nLibs) {
	d := i18nCorpus(b)
	c, err := i18n.ParseCatalog(language.Und, d.mo, "ru.mo")
	if err != nil {
		b.Fatal(err)
	}
	set, err := i18n.NewSet(language.English, c)
	if err != nil {
		b.Fatal(err)
	}
	tr := i18n.NewTranslator(set)
	// The context a request has after kit/i18n's middleware: the locale as its newest value.
	ctx := i18n.WithLocale(context.Background(), tr.Locale("ru"))

	po := gotext.NewPo()
	po.Parse(d.po)

	bundle := goi18n.NewBundle(language.English)
	bundle.RegisterUnmarshalFunc("json", json.Unmarshal)
	if _, err := bundle.ParseMessageFileBytes(d.goi18nJSON, "ru.json"); err != nil {
		b.Fatal(err)
	}
	return d, i18nLibs{kit: ctx, gotext: po, goi18n: goi18n.NewLocalizer(bundle, "ru")}
}

var i18nSink string

func BenchmarkI18nLookup(b *testing.B) {
	d, libs := newI18nLibs(b)
	// Check once that every library finds the translations under test.
	if got := i18n.T(libs.kit, d.simple[7]); !strings.HasPrefix(got, "Заказ") {
		b.Fatalf("kit: %q", got)
	}
	// Through a func value: vet takes gotext's Get for a printf wrapper, and the msgids are data.
	gotextGet := libs.gotext.Get
	if got := gotextGet(d.simple[7]); !strings.HasPrefix(got, "Заказ") {
		b.Fatalf("gotext: %q", got)
	}
	if got := libs.goi18n.MustLocalize(&goi18n.LocalizeConfig{MessageID: d.simple[7]}); !strings.HasPrefix(got, "Заказ") {
		b.Fatalf("go-i18n: %q", got)
	}
	n := func(i int) int { return i % 30 }

	b.Run("simple/lib=stackkit", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			i18nSink = i18n.T(libs.kit, d.simple[i%len(d.simple)])
		}
	})
	b.Run("simple/lib=gotext", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			i18nSink = gotextGet(d.simple[i%len(d.simple)])
		}
	})
	b.Run("simple/lib=go-i18n", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			i18nSink, _ = libs.goi18n.Localize(&goi18n.LocalizeConfig{MessageID: d.simple[i%len(d.simple)]})
		}
	})

	// Plural: the count formatted into the chosen form (all three libraries format).
	b.Run("plural/lib=stackkit", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			id := d.plural[i%len(d.plural)]
			i18nSink = i18n.N(libs.kit, id, id, n(i), n(i))
		}
	})
	b.Run("plural/lib=gotext", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			id := d.plural[i%len(d.plural)]
			i18nSink = libs.gotext.GetN(id, id, n(i), n(i))
		}
	})
	b.Run("plural/lib=go-i18n", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			id := d.plural[i%len(d.plural)]
			i18nSink, _ = libs.goi18n.Localize(&goi18n.LocalizeConfig{MessageID: id, PluralCount: n(i), TemplateData: map[string]int{"Count": n(i)}})
		}
	})

	b.Run("context/lib=stackkit", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			j := i % len(d.ctx)
			i18nSink = i18n.P(libs.kit, d.ctxName[j], d.ctx[j])
		}
	})
	b.Run("context/lib=gotext", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			j := i % len(d.ctx)
			i18nSink = libs.gotext.GetC(d.ctx[j], d.ctxName[j])
		}
	})
	ctxIDs := make([]string, len(d.ctx))
	for j := range d.ctx {
		ctxIDs[j] = d.ctxName[j] + "|" + d.ctx[j]
	}
	b.Run("context/lib=go-i18n", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			i18nSink, _ = libs.goi18n.Localize(&goi18n.LocalizeConfig{MessageID: ctxIDs[i%len(ctxIDs)]})
		}
	})
}

func BenchmarkI18nLoad10k(b *testing.B) {
	d := i18nCorpus(b)
	b.Run("po/lib=stackkit", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(d.po)))
		for b.Loop() {
			if _, err := i18n.ParseCatalog(language.Russian, d.po, "ru.po"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("po/lib=gotext", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(d.po)))
		for b.Loop() {
			gotext.NewPo().Parse(d.po)
		}
	})
	b.Run("mo/lib=stackkit", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(d.mo)))
		for b.Loop() {
			if _, err := i18n.ParseCatalog(language.Russian, d.mo, "ru.mo"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mo/lib=gotext", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(d.mo)))
		for b.Loop() {
			gotext.NewMo().Parse(d.mo)
		}
	})
	// go-i18n reads its own formats only: the same messages as JSON.
	b.Run("json/lib=go-i18n", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(d.goi18nJSON)))
		for b.Loop() {
			bundle := goi18n.NewBundle(language.English)
			bundle.RegisterUnmarshalFunc("json", json.Unmarshal)
			if _, err := bundle.ParseMessageFileBytes(d.goi18nJSON, "ru.json"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Accept-Language values as browsers send them.
var acceptLanguages = []string{
	"ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7",
	"de-DE,de;q=0.9",
	"en-US,en;q=0.5",
	"pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7",
	"fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5",
	"ja,en-US;q=0.9,en;q=0.8",
	"zh-CN,zh;q=0.9",
	"pl-PL,pl;q=0.9,en-US;q=0.8,en;q=0.7,ru;q=0.6",
}

func BenchmarkI18nNegotiate(b *testing.B) {
	supported := []language.Tag{language.English, language.German, language.Russian, language.French, language.Japanese, language.Polish, language.BrazilianPortuguese, language.Arabic}
	var cats []*i18n.Catalog
	for _, t := range supported[1:] {
		c, err := i18n.NewCatalog(t, &i18n.POFile{Name: t.String()})
		if err != nil {
			b.Fatal(err)
		}
		cats = append(cats, c)
	}
	set, err := i18n.NewSet(language.English, cats...)
	if err != nil {
		b.Fatal(err)
	}
	tr := i18n.NewTranslator(set)
	// Distinct values, more than the cache holds: every lookup parses and matches.
	unique := make([]string, 4096)
	for i := range unique {
		unique[i] = fmt.Sprintf("%s,en-x-u%d;q=0.1", acceptLanguages[i%len(acceptLanguages)], i)
	}
	b.Run("cached/lib=stackkit", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if tr.Negotiate(acceptLanguages[i%len(acceptLanguages)]) == nil {
				b.Fatal("nil")
			}
		}
	})
	b.Run("uncached/lib=stackkit", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if tr.Negotiate(unique[i%len(unique)]) == nil {
				b.Fatal("nil")
			}
		}
	})
	// go-i18n negotiates when a Localizer is made from the header, as its users do per request.
	bundle := goi18n.NewBundle(language.English)
	for _, t := range supported {
		if err := bundle.AddMessages(t, &goi18n.Message{ID: "x", Other: "x"}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("uncached/lib=go-i18n", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			loc := goi18n.NewLocalizer(bundle, unique[i%len(unique)])
			if _, tag, err := loc.LocalizeWithTag(&goi18n.LocalizeConfig{MessageID: "x"}); err != nil || tag == language.Und {
				b.Fatal(err)
			}
		}
	})
	// x/text by hand: ParseAcceptLanguage and a Matcher, no cache.
	matcher := language.NewMatcher(supported)
	b.Run("uncached/lib=x-text", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			tags, _, err := language.ParseAcceptLanguage(unique[i%len(unique)])
			if err != nil || len(tags) == 0 {
				b.Fatal(err)
			}
			_, _, _ = matcher.Match(tags...)
		}
	})
}
