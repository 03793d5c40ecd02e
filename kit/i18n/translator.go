package i18n

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/text/language"
)

// Set is a whole language set: the catalogs of every supported language and the default
// (source) language. It is immutable; a [Translator] swaps one Set for another atomically.
type Set struct {
	def      language.Tag
	catalogs map[language.Tag]*Catalog
	tags     []language.Tag // supported languages, the default first
	matcher  language.Matcher
}

// NewSet builds a language set: def is the language msgids are written in (it needs no
// catalog, but may have one); catalogs are the translations, one per language.
func NewSet(def language.Tag, catalogs ...*Catalog) (*Set, error) {
	if def == language.Und {
		return nil, fmt.Errorf("i18n: the default language must be set")
	}
	s := &Set{def: def, catalogs: make(map[language.Tag]*Catalog, len(catalogs))}
	for _, c := range catalogs {
		if prev, dup := s.catalogs[c.lang]; dup {
			return nil, fmt.Errorf("i18n: two catalogs for %s: %s and %s", c.lang, prev.name, c.name)
		}
		s.catalogs[c.lang] = c
	}
	s.tags = append(s.tags, def)
	for _, c := range catalogs {
		if c.lang != def {
			s.tags = append(s.tags, c.lang)
		}
	}
	s.matcher = language.NewMatcher(s.tags)
	return s, nil
}

// chain is the fallback order for t: t, its parents (pt-BR -> pt), its base language, then
// the default language; only languages with a catalog appear.
func (s *Set) chain(t language.Tag) []*Catalog {
	var out []*Catalog
	seen := map[language.Tag]bool{}
	add := func(t language.Tag) {
		if seen[t] {
			return
		}
		seen[t] = true
		if c, ok := s.catalogs[t]; ok {
			out = append(out, c)
		}
	}
	for p := t; p != language.Und; p = p.Parent() {
		add(p)
	}
	if b, conf := t.Base(); conf != language.No {
		add(language.Make(b.String()))
	}
	add(s.def)
	return out
}

// Default is the default language.
func (s *Set) Default() language.Tag { return s.def }

// Languages are the supported languages, the default first.
func (s *Set) Languages() []language.Tag { return append([]language.Tag(nil), s.tags...) }

// Catalog returns the catalog of lang, or nil.
func (s *Set) Catalog(lang language.Tag) *Catalog { return s.catalogs[lang] }

// Match returns the supported language closest to lang (x/text's matcher: "pt-PT" may give
// "pt", "en-AU" "en-GB"), or the default language.
func (s *Set) Match(lang language.Tag) language.Tag {
	if _, ok := s.catalogs[lang]; ok || lang == s.def {
		return lang
	}
	_, i, conf := s.matcher.Match(lang)
	if conf == language.No {
		return s.def
	}
	return s.tags[i]
}

// Translator serves a [Set] and swaps it atomically: a service takes new catalogs without a
// restart, each lookup seeing either the old set or the new one, whole. Create one with
// [NewTranslator]; the zero value has no set.
type Translator struct {
	cur atomic.Pointer[served]
}

// served is a Set as one Translator serves it: a Locale per supported language, and the
// negotiation cache.
type served struct {
	set     *Set
	locales map[string]*Locale // by canonical tag string
	byLower map[string]*Locale // by lower-case tag, for URL prefixes and cookies
	def     *Locale

	negMu      sync.RWMutex
	negCache   map[string]*Locale    // Accept-Language value -> result
	rangeCache map[string]rangeMatch // lower-case language range -> its match
}

// NewTranslator returns a Translator serving set.
func NewTranslator(set *Set) *Translator {
	t := &Translator{}
	t.Swap(set)
	return t
}

// Swap replaces the language set; lookups in flight finish on the old one, and locales already
// in contexts move to the new one at their next lookup.
func (t *Translator) Swap(set *Set) {
	sv := &served{set: set, locales: make(map[string]*Locale, len(set.tags)), byLower: make(map[string]*Locale, len(set.tags))}
	for _, tag := range set.tags {
		l := &Locale{tr: t, srv: sv, tag: tag, name: tag.String(), chain: set.chain(tag)}
		sv.locales[l.name] = l
		sv.byLower[strings.ToLower(l.name)] = l
	}
	sv.def = sv.locales[set.def.String()]
	t.cur.Store(sv)
}

// Set is the current language set.
func (t *Translator) Set() *Set { return t.cur.Load().set }

// Locale returns the locale for lang ("pt-BR", "pt_BR", "de"), matched against the supported
// languages; an unparsable or unsupported name gives the default language.
func (t *Translator) Locale(lang string) *Locale {
	sv := t.cur.Load()
	if l, ok := sv.byLower[strings.ToLower(lang)]; ok {
		return l
	}
	tag, err := parseLocaleName(lang)
	if err != nil {
		return sv.def
	}
	return sv.locale(tag)
}

// LocaleFor returns the locale for a language tag, matched against the supported languages.
func (t *Translator) LocaleFor(lang language.Tag) *Locale { return t.cur.Load().locale(lang) }

func (sv *served) locale(tag language.Tag) *Locale {
	if l, ok := sv.locales[tag.String()]; ok {
		return l
	}
	return sv.locales[sv.set.Match(tag).String()]
}

// Locale is a language to translate into, one of a Translator's supported languages, with its
// fallback chain computed once. It travels in a context ([WithLocale]) as one pointer, and
// follows the Translator's swaps: a lookup on a Locale of a replaced set uses the new set.
type Locale struct {
	tr    *Translator
	srv   *served
	tag   language.Tag
	name  string
	chain []*Catalog
}

// current is l on its translator's current set.
func (l *Locale) current() *Locale {
	sv := l.tr.cur.Load()
	if sv == l.srv {
		return l
	}
	if n, ok := sv.locales[l.name]; ok {
		return n
	}
	return sv.locale(l.tag)
}

// Tag is the locale's language.
func (l *Locale) Tag() language.Tag { return l.tag }

// String is the language as a BCP 47 tag ("pt-BR").
func (l *Locale) String() string { return l.name }

type localeKey struct{}

// WithLocale returns ctx carrying l; [T], [N], [P] and [NP] translate into it.
func WithLocale(ctx context.Context, l *Locale) context.Context {
	return context.WithValue(ctx, localeKey{}, l)
}

// FromContext returns the locale in ctx, or nil.
func FromContext(ctx context.Context) *Locale {
	l, _ := ctx.Value(localeKey{}).(*Locale)
	return l
}

// T translates msgid into the locale in ctx and, with args, formats it with fmt.Sprintf.
// Without a locale in ctx (or a translation) it uses msgid itself. A lookup without args does
// not allocate.
func T(ctx context.Context, msgid string, args ...any) string {
	return FromContext(ctx).T(msgid, args...)
}

// N translates the plural message (singular, plural) for count n, as ngettext does, and
// formats it with args (the count is not added to args: pass it).
func N(ctx context.Context, singular, plural string, n int, args ...any) string {
	return FromContext(ctx).N(singular, plural, n, args...)
}

// P translates msgid in context msgctxt (pgettext). An empty msgctxt looks msgid up without a
// context, as T does.
func P(ctx context.Context, msgctxt, msgid string, args ...any) string {
	return FromContext(ctx).P(msgctxt, msgid, args...)
}

// NP translates a plural message in context msgctxt (npgettext).
func NP(ctx context.Context, msgctxt, singular, plural string, n int, args ...any) string {
	return FromContext(ctx).NP(msgctxt, singular, plural, n, args...)
}

// T is [T] into l; a nil Locale returns msgid.
func (l *Locale) T(msgid string, args ...any) string {
	if l != nil {
		l = l.current()
		for _, c := range l.chain {
			if s, ok := c.msgs[msgid]; ok {
				return format(s, args)
			}
		}
	}
	return format(msgid, args)
}

// P is [P] into l.
func (l *Locale) P(msgctxt, msgid string, args ...any) string {
	if l != nil {
		l = l.current()
		for _, c := range l.chain {
			if s, ok := c.Lookup(msgctxt, msgid); ok {
				return format(s, args)
			}
		}
	}
	return format(msgid, args)
}

// N is [N] into l.
func (l *Locale) N(singular, plural string, n int, args ...any) string {
	return l.NP("", singular, plural, n, args...)
}

// NP is [NP] into l.
func (l *Locale) NP(msgctxt, singular, plural string, n int, args ...any) string {
	if l != nil {
		l = l.current()
		for _, c := range l.chain {
			if s, argc, ok := c.lookupPlural(msgctxt, singular, n); ok {
				return formatN(s, argc, args)
			}
		}
	}
	// The source language's rule, as gettext's: singular for one.
	if n == 1 || n == -1 {
		return formatN(singular, formatArgCount(singular), args)
	}
	return formatN(plural, formatArgCount(plural), args)
}

func format(s string, args []any) string {
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

// formatN formats a plural form that may use fewer arguments than given (a form for exactly one
// number may leave the count out): argc leading arguments, so fmt adds no %!(EXTRA ...).
func formatN(s string, argc int, args []any) string {
	if len(args) == 0 {
		return s
	}
	if argc >= 0 && argc < len(args) {
		if argc == 0 && strings.IndexByte(s, '%') < 0 {
			return s
		}
		args = args[:argc]
	}
	return fmt.Sprintf(s, args...)
}
