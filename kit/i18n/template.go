package i18n

import (
	"context"
	"fmt"
)

// TemplateFuncs returns the translation functions for text/template and html/template (the map
// converts to either FuncMap). Each takes the context or the *Locale first, so one parsed
// template serves every language:
//
//	{{t .Ctx "Hello, %s!" .Name}}
//	{{n .Ctx "%d file" "%d files" .Count .Count}}
//	{{p .Ctx "verb" "Post"}}
//	{{np .Ctx "inbox" "%d message" "%d messages" .Count .Count}}
//
// html/template escapes the result like any other string. `kitctl i18n extract` finds calls of
// t, n, p and np with string literal arguments in templates.
func TemplateFuncs() map[string]any {
	return map[string]any{
		"t": func(lc any, msgid string, args ...any) (string, error) {
			l, err := templateLocale(lc)
			return l.T(msgid, args...), err
		},
		"n": func(lc any, singular, plural string, n int, args ...any) (string, error) {
			l, err := templateLocale(lc)
			return l.N(singular, plural, n, args...), err
		},
		"p": func(lc any, msgctxt, msgid string, args ...any) (string, error) {
			l, err := templateLocale(lc)
			return l.P(msgctxt, msgid, args...), err
		},
		"np": func(lc any, msgctxt, singular, plural string, n int, args ...any) (string, error) {
			l, err := templateLocale(lc)
			return l.NP(msgctxt, singular, plural, n, args...), err
		},
	}
}

func templateLocale(v any) (*Locale, error) {
	switch x := v.(type) {
	case *Locale:
		return x, nil
	case context.Context:
		return FromContext(x), nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("i18n: the first argument of a translation function must be a context.Context or *i18n.Locale, not %T", v)
}
