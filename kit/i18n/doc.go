// Package i18n translates a Go service with GNU gettext catalogs: PO and MO files read and
// written byte for byte as GNU gettext does, Plural-Forms compiled once into a fast evaluator,
// language sets swapped atomically at run time, the locale carried in the context, and HTTP
// locale negotiation.
//
//	//go:embed locale
//	var locales embed.FS
//
//	set, err := i18n.LoadSet(locales, language.English, i18n.WithDir("locale"))
//	tr := i18n.NewTranslator(set)
//	handler = tr.Middleware()(handler)
//	...
//	func cart(w http.ResponseWriter, r *http.Request) {
//		fmt.Fprint(w, i18n.N(r.Context(), "%d item in your cart", "%d items in your cart", n, n))
//	}
//
// T, N, P and NP (gettext, ngettext, pgettext, npgettext) translate into the [Locale] found in
// the context ([WithLocale]; the [Translator.Middleware] puts it there), falling back from
// pt-BR to pt to the default language to the msgid itself. A lookup without arguments does not
// allocate. [Lazy] marks package-level messages; [TemplateFuncs] gives templates t, n, p and np.
//
// The file formats are public for tools built on them: [ParsePO] and [POFile.WriteTo] (msgcat's
// output), [ReadMO] and [WriteMO] (msgfmt's output), [Compile] (msgfmt --check-format),
// [Merge] (msgmerge --previous) and [NewPO] (msginit). The extract sub-package and
// `kitctl i18n` build the extract / merge / compile workflow on them.
package i18n
