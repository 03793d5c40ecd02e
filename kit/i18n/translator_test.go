package i18n

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	texttemplate "text/template"

	"golang.org/x/text/language"
)

// corpusFS lays the corpus out as locale/<lang>/LC_MESSAGES/messages.po, with pt and pt_BR
// catalogs for the fallback chain.
func corpusFS(t *testing.T) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	for _, path := range corpus(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lang := strings.TrimSuffix(filepath.Base(path), ".po")
		fsys["locale/"+lang+"/LC_MESSAGES/messages.po"] = &fstest.MapFile{Data: data}
	}
	fsys["locale/pt/LC_MESSAGES/messages.po"] = &fstest.MapFile{Data: []byte(`msgid ""
msgstr ""
"Language: pt\n"
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

msgid "Welcome"
msgstr "Bem-vindo"

msgid "Bus"
msgstr "Autocarro"
`)}
	fsys["locale/pt_BR/LC_MESSAGES/messages.po"] = &fstest.MapFile{Data: []byte(`msgid ""
msgstr ""
"Language: pt_BR\n"
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=(n > 1);\n"

msgid "Bus"
msgstr "Ônibus"
`)}
	fsys["locale/README.txt"] = &fstest.MapFile{Data: []byte("not a language")}
	return fsys
}

func corpusTranslator(t *testing.T) *Translator {
	t.Helper()
	set, err := LoadSet(corpusFS(t), language.English, WithDir("locale"))
	if err != nil {
		t.Fatal(err)
	}
	return NewTranslator(set)
}

func TestTranslate(t *testing.T) {
	tr := corpusTranslator(t)
	ru := WithLocale(context.Background(), tr.Locale("ru"))
	cases := []struct{ got, want string }{
		{T(ru, "Welcome"), "Добро пожаловать"},
		{T(ru, "Hello, %s!", "Аня"), "Здравствуйте, Аня!"},
		{N(ru, "%d item in your cart", "%d items in your cart", 1, 1), "В корзине 1 товар"},
		{N(ru, "%d item in your cart", "%d items in your cart", 3, 3), "В корзине 3 товара"},
		{N(ru, "%d item in your cart", "%d items in your cart", 11, 11), "В корзине 11 товаров"},
		{N(ru, "%d item in your cart", "%d items in your cart", 21, 21), "В корзине 21 товар"},
		{N(ru, "%[1]s bought %[2]d item", "%[1]s bought %[2]d items", 5, "Олег", 5), "Олег купил 5 товаров"},
		{P(ru, "verb", "Post"), "Опубликовать"},
		{P(ru, "noun", "Post"), "Запись"},
		{T(ru, "Post"), "Post"}, // no context-free entry
		{T(ru, "Not translated yet"), "Not translated yet"},
		// Fuzzy entries are not used.
		{N(ru, "You have %d new notification", "You have %d new notifications", 2, 2), "You have 2 new notifications"},
		{T(ru, "Balance: %.2f %s", 12.5, "₽"), "Баланс: 12.50 ₽"},
		{T(ru, "100% organic"), "100% натуральный"},
		// Obsolete entries are not used.
		{T(ru, "Old banner text"), "Old banner text"},
		{NP(ru, "verb", "x", "xs", 2), "xs"},
	}
	for i, c := range cases {
		if c.got != c.want {
			t.Errorf("case %d: got %q, want %q", i, c.got, c.want)
		}
	}
	ar := WithLocale(context.Background(), tr.Locale("ar"))
	// Arabic forms that leave the count out must not print %!(EXTRA ...).
	for n, want := range map[int]string{0: "لا توجد عناصر في سلتك", 1: "عنصر واحد في سلتك", 2: "عنصران في سلتك", 3: "3 عناصر في سلتك", 11: "11 عنصرًا في سلتك", 100: "100 عنصر في سلتك"} {
		if got := N(ar, "%d item in your cart", "%d items in your cart", n, n); got != want {
			t.Errorf("ar n=%d: got %q, want %q", n, got, want)
		}
	}
	// No locale in the context: the source strings, formatted.
	bg := context.Background()
	if got := T(bg, "Hello, %s!", "x"); got != "Hello, x!" {
		t.Errorf("no locale: %q", got)
	}
	if got := N(bg, "%d file", "%d files", 1, 1); got != "1 file" {
		t.Errorf("no locale N: %q", got)
	}
	if got := N(bg, "%d file", "%d files", 0, 0); got != "0 files" {
		t.Errorf("no locale N: %q", got)
	}
}

func TestFallbackChain(t *testing.T) {
	tr := corpusTranslator(t)
	cases := []struct{ lang, msgid, want, locale string }{
		{"pt-BR", "Bus", "Ônibus", "pt-BR"},
		{"pt_BR", "Welcome", "Bem-vindo", "pt-BR"}, // from pt
		{"pt-BR", "Hello, %s!", "Hello, %s!", "pt-BR"},
		{"pt-PT", "Bus", "Autocarro", "pt"}, // matched to pt
		{"de-AT", "Welcome", "Willkommen", "de"},
		{"xx", "Welcome", "Welcome", "en"},
		{"ja", "Welcome", "ようこそ", "ja"},
	}
	for _, c := range cases {
		l := tr.Locale(c.lang)
		if l.String() != c.locale {
			t.Errorf("Locale(%q) = %s, want %s", c.lang, l, c.locale)
		}
		if got := l.T(c.msgid); got != c.want {
			t.Errorf("%s %q: got %q, want %q", c.lang, c.msgid, got, c.want)
		}
	}
	// pt-BR's own plural rule (n > 1) applies to its catalog; a message only pt has is pt's.
	if got := tr.Locale("pt-BR").N("Bus", "Buses", 0); got != "Ônibus" {
		t.Errorf("singular entry answering N: %q", got)
	}
}

func TestHotSwap(t *testing.T) {
	tr := corpusTranslator(t)
	ctx := WithLocale(context.Background(), tr.Locale("de"))
	if got := T(ctx, "Welcome"); got != "Willkommen" {
		t.Fatal(got)
	}
	newSet := func(word string) *Set {
		c, err := NewCatalog(language.German, &POFile{Name: "swap.po", Messages: []*Message{{ID: "Welcome", Str: []string{word}}}})
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewSet(language.English, c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := newSet("Hallo A"), newSet("Hallo B")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				// A locale captured before the swaps follows them; every answer is one set's.
				switch got := T(ctx, "Welcome"); got {
				case "Willkommen", "Hallo A", "Hallo B":
				default:
					t.Errorf("torn read: %q", got)
					return
				}
			}
		})
	}
	for i := range 200 {
		if i%2 == 0 {
			tr.Swap(a)
		} else {
			tr.Swap(b)
		}
	}
	close(stop)
	wg.Wait()
	if got := T(ctx, "Welcome"); got != "Hallo B" {
		t.Errorf("after swaps: %q", got)
	}
	// A language removed by a swap falls back to the default.
	trRU := corpusTranslator(t)
	ruLoc := trRU.Locale("ru")
	trRU.Swap(a)
	if got := ruLoc.T("Welcome"); got != "Welcome" {
		t.Errorf("removed language: %q", got)
	}
}

func TestLoadRejectsBrokenCatalogAndKeepsOldSet(t *testing.T) {
	tr := corpusTranslator(t)
	fsys := corpusFS(t)
	fsys["locale/de/LC_MESSAGES/messages.po"] = &fstest.MapFile{Data: []byte("msgid \"a\"\nmsgstr \"b\n")}
	err := tr.Load(fsys, WithDir("locale"))
	if err == nil || !strings.Contains(err.Error(), "locale/de/LC_MESSAGES/messages.po:2") {
		t.Fatalf("broken catalog: %v", err)
	}
	if got := tr.Locale("de").T("Welcome"); got != "Willkommen" {
		t.Errorf("old set not kept: %q", got)
	}
	// An MO beside the PO wins.
	po := parseFile(t, "testdata/corpus/de.po")
	po.Messages[0].Str[0] = "Willkommen (MO)"
	compiled, err := Compile(po)
	if err != nil {
		t.Fatal(err)
	}
	mo, _ := MOBytes(compiled)
	fsys = corpusFS(t)
	fsys["locale/de/LC_MESSAGES/messages.mo"] = &fstest.MapFile{Data: mo}
	if err := tr.Load(fsys, WithDir("locale")); err != nil {
		t.Fatal(err)
	}
	if got := tr.Locale("de").T("Welcome"); got != "Willkommen (MO)" {
		t.Errorf("MO not preferred: %q", got)
	}
	// Explicit languages need their catalogs.
	if _, err := LoadSet(fsys, language.English, WithDir("locale"), WithLanguages("de", "fr")); err == nil || !strings.Contains(err.Error(), "no catalog for fr") {
		t.Errorf("missing explicit language: %v", err)
	}
}

// errNoObject stands for an object store's own "no such object" sentinel (kit/storage's
// ErrNotExist), which is not fs.ErrNotExist.
var errNoObject = errors.New("store: object does not exist")

func TestOpenerFS(t *testing.T) {
	fsys := corpusFS(t)
	dir := t.TempDir()
	open := func(_ context.Context, name string) (*os.File, error) {
		if _, ok := fsys[name]; !ok {
			return nil, fmt.Errorf("open %s: %w", name, errNoObject)
		}
		p := filepath.Join(dir, strings.ReplaceAll(name, "/", "_"))
		if err := os.WriteFile(p, fsys[name].Data, 0o644); err != nil {
			return nil, err
		}
		return os.Open(p)
	}
	ofs := OpenerFS(context.Background(), open, errNoObject)
	// en is the default language: it needs no catalog.
	set, err := LoadSet(ofs, language.English, WithDir("locale"), WithLanguages("de", "ru", "en"))
	if err != nil {
		t.Fatal(err)
	}
	if got := NewTranslator(set).Locale("ru").T("Welcome"); got != "Добро пожаловать" {
		t.Errorf("via OpenerFS: %q", got)
	}
	if _, err := LoadSet(ofs, language.English, WithDir("locale"), WithLanguages("fr")); err == nil || !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, errNoObject) {
		t.Errorf("missing language: %v", err)
	}
	if _, err := LoadSet(ofs, language.English, WithDir("locale")); err == nil {
		t.Error("listing through OpenerFS should fail")
	}
}

func TestLazyAndTemplates(t *testing.T) {
	tr := corpusTranslator(t)
	ctx := WithLocale(context.Background(), tr.Locale("ru"))
	welcome := Lazy("Welcome")
	items := LazyN("%d item in your cart", "%d items in your cart")
	post := LazyP("verb", "Post")
	if welcome.T(ctx) != "Добро пожаловать" || items.N(ctx, 2, 2) != "В корзине 2 товара" || post.T(ctx) != "Опубликовать" {
		t.Errorf("lazy: %q %q %q", welcome.T(ctx), items.N(ctx, 2, 2), post.T(ctx))
	}
	if welcome.String() != "Welcome" {
		t.Error(welcome.String())
	}
	src := `{{t .Ctx "Hello, %s!" .Name}}|{{n .Ctx "%d item in your cart" "%d items in your cart" .Count .Count}}|{{p .Ctx "noun" "Post"}}|{{np .Loc "verb" "x" "xs" 1}}`
	data := map[string]any{"Ctx": ctx, "Loc": tr.Locale("ru"), "Name": "<Аня>", "Count": 5}
	var hb bytes.Buffer
	if err := template.Must(template.New("h").Funcs(TemplateFuncs()).Parse(src)).Execute(&hb, data); err != nil {
		t.Fatal(err)
	}
	if want := "Здравствуйте, &lt;Аня&gt;!|В корзине 5 товаров|Запись|x"; hb.String() != want {
		t.Errorf("html: %q, want %q", hb.String(), want)
	}
	var tb bytes.Buffer
	if err := texttemplate.Must(texttemplate.New("t").Funcs(TemplateFuncs()).Parse(`{{t .Ctx "Welcome"}}`)).Execute(&tb, data); err != nil {
		t.Fatal(err)
	}
	if tb.String() != "Добро пожаловать" {
		t.Errorf("text: %q", tb.String())
	}
	err := texttemplate.Must(texttemplate.New("t").Funcs(TemplateFuncs()).Parse(`{{t 42 "Welcome"}}`)).Execute(&tb, data)
	if err == nil || !strings.Contains(err.Error(), "context.Context or *i18n.Locale") {
		t.Errorf("bad first argument: %v", err)
	}
}

func TestSimpleLookupDoesNotAllocate(t *testing.T) {
	tr := corpusTranslator(t)
	ctx := WithLocale(context.Background(), tr.Locale("pt-BR"))
	var s string
	for name, f := range map[string]func(){
		"T hit":       func() { s = T(ctx, "Bus") },
		"T fallback":  func() { s = T(ctx, "Welcome") },
		"T miss":      func() { s = T(ctx, "Nothing here") },
		"P":           func() { s = P(ctx, "verb", "Post") },
		"N":           func() { s = N(ctx, "Bus", "Buses", 3) },
		"stale T hit": func() { s = T(ctx, "Bus") },
	} {
		if a := testing.AllocsPerRun(100, f); a != 0 {
			t.Errorf("%s: %v allocations", name, a)
		}
	}
	_ = s
}

// TestPluralsAgainstGNU compares N's choice of form with GNU ngettext's on catalogs msgfmt
// compiled, for counts across the rules' edges.
func TestPluralsAgainstGNU(t *testing.T) {
	ngettext := gettextTool(t, "ngettext")
	dir := t.TempDir()
	tr := corpusTranslator(t)
	counts := []int{0, 1, 2, 3, 4, 5, 10, 11, 12, 14, 20, 21, 22, 25, 99, 100, 101, 102, 103, 111, 112, 1000, 1001, 1002}
	for _, lang := range []string{"ru", "ar", "pl", "ja", "de"} {
		mo := runTool(t, "msgfmt", "-o", "-", "testdata/corpus/"+lang+".po")
		if err := os.MkdirAll(filepath.Join(dir, lang, "LC_MESSAGES"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, lang, "LC_MESSAGES", "shop.mo"), mo, 0o644); err != nil {
			t.Fatal(err)
		}
		l := tr.Locale(lang)
		for _, n := range counts {
			cmd := exec.Command(ngettext, "-d", "shop", "%d item in your cart", "%d items in your cart", fmt.Sprint(n))
			cmd.Env = append(os.Environ(), "LANGUAGE="+lang, "LC_ALL=C.UTF-8", "TEXTDOMAINDIR="+dir)
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			if got := l.N("%d item in your cart", "%d items in your cart", n); got != string(out) {
				t.Errorf("%s n=%d: got %q, GNU ngettext %q", lang, n, got, out)
			}
		}
	}
}
