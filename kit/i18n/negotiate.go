package i18n

import (
	"net/http"
	"sort"
	"strings"

	"golang.org/x/text/language"
)

// MaxAcceptLanguage is the longest Accept-Language value parsed, as Django caps it since
// CVE-2023-23969: a longer value is cut at its last comma before the limit, and a single
// language range longer than the limit is ignored.
const MaxAcceptLanguage = 500

// maxLanguageRanges bounds the ranges taken from one header.
const maxLanguageRanges = 32

// LanguageRange is one entry of an Accept-Language header.
type LanguageRange struct {
	Range string  // "de-CH", "en", "*"
	Q     float64 // quality, 0..1
}

// ParseAcceptLanguage parses an Accept-Language header value (RFC 9110): ranges with their
// q-values, highest first (stable for equal q), ranges with q=0 and malformed entries left
// out. The value is capped at [MaxAcceptLanguage] bytes as Django does.
func ParseAcceptLanguage(h string) []LanguageRange {
	if len(h) > MaxAcceptLanguage {
		i := strings.LastIndexByte(h[:MaxAcceptLanguage], ',')
		if i <= 0 {
			return nil
		}
		h = h[:i]
	}
	var out []LanguageRange
	for part := range strings.SplitSeq(h, ",") {
		if len(out) == maxLanguageRanges {
			break
		}
		rng, params, _ := strings.Cut(part, ";")
		rng = strings.TrimSpace(rng)
		if !validRange(rng) {
			continue
		}
		q := 1.0
		if params != "" {
			var ok bool
			if q, ok = parseQ(params); !ok {
				continue
			}
		}
		if q == 0 {
			continue
		}
		out = append(out, LanguageRange{Range: rng, Q: q})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Q > out[j].Q })
	return out
}

// validRange checks RFC 4647's language-range: "*" or 1*8ALPHA *("-" 1*8alphanum).
func validRange(s string) bool {
	if s == "*" {
		return true
	}
	if s == "" {
		return false
	}
	n := 0
	first := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' || c == '_':
			if n == 0 {
				return false
			}
			n, first = 0, false
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9':
			n++
			if n > 8 {
				return false
			}
		default:
			return false
		}
	}
	return n > 0
}

// parseQ parses the parameters after ';': "q=0.8" (whitespace allowed around).
func parseQ(params string) (float64, bool) {
	p := strings.TrimSpace(params)
	if len(p) < 3 || (p[0] != 'q' && p[0] != 'Q') {
		return 0, false
	}
	p = strings.TrimSpace(p[1:])
	if p == "" || p[0] != '=' {
		return 0, false
	}
	p = strings.TrimSpace(p[1:])
	// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
	if p == "" || len(p) > 5 || (p[0] != '0' && p[0] != '1') {
		return 0, false
	}
	milli := int(p[0]-'0') * 1000
	if len(p) > 1 {
		if p[1] != '.' {
			return 0, false
		}
		scale := 100
		for _, c := range []byte(p[2:]) {
			if c < '0' || c > '9' {
				return 0, false
			}
			milli += int(c-'0') * scale
			scale /= 10
		}
	}
	q := float64(milli) / 1000
	if q > 1 {
		return 0, false
	}
	return q, true
}

// negotiationCacheSize bounds the per-set cache of Accept-Language results; when full it is
// emptied (browsers send few distinct values, an attacker many).
const negotiationCacheSize = 1024

// Negotiate returns the supported locale that best fits an Accept-Language value (x/text's
// matcher over the ranges in order of preference), or the default language's. Results are
// cached per value.
func (t *Translator) Negotiate(acceptLanguage string) *Locale {
	sv := t.cur.Load()
	if acceptLanguage == "" {
		return sv.def
	}
	sv.negMu.RLock()
	l, ok := sv.negCache[acceptLanguage]
	sv.negMu.RUnlock()
	if ok {
		return l
	}
	l = sv.negotiate(acceptLanguage)
	sv.negMu.Lock()
	if len(sv.negCache) >= negotiationCacheSize || sv.negCache == nil {
		sv.negCache = make(map[string]*Locale, 64)
	}
	sv.negCache[strings.Clone(acceptLanguage)] = l
	sv.negMu.Unlock()
	return l
}

// negotiate walks the ranges in order of preference, as Django does: the first that names a
// supported language exactly, or that x/text's matcher maps to one with high confidence
// (de-AT -> de, en-AU -> en-GB), wins. When none does, the first low-confidence match is used
// (pt-PT -> pt), else the default language. Each range's match is cached, so a new header made
// of known ranges costs its parse and a few map lookups.
func (sv *served) negotiate(h string) *Locale {
	var fallback *Locale
	for _, r := range ParseAcceptLanguage(h) {
		if r.Range == "*" {
			continue
		}
		key := strings.ToLower(strings.ReplaceAll(r.Range, "_", "-"))
		if l, ok := sv.byLower[key]; ok {
			return l
		}
		m := sv.matchRange(key)
		if m.l == nil {
			continue
		}
		if m.conf >= language.High {
			return m.l
		}
		if fallback == nil {
			fallback = m.l
		}
	}
	if fallback != nil {
		return fallback
	}
	return sv.def
}

type rangeMatch struct {
	l    *Locale
	conf language.Confidence
}

const rangeCacheSize = 4096

func (sv *served) matchRange(key string) rangeMatch {
	sv.negMu.RLock()
	m, ok := sv.rangeCache[key]
	sv.negMu.RUnlock()
	if ok {
		return m
	}
	if tag, err := language.Parse(key); err == nil {
		_, i, conf := sv.set.matcher.Match(tag)
		if conf != language.No {
			m = rangeMatch{sv.locales[sv.set.tags[i].String()], conf}
		}
	}
	sv.negMu.Lock()
	if len(sv.rangeCache) >= rangeCacheSize || sv.rangeCache == nil {
		sv.rangeCache = make(map[string]rangeMatch, 64)
	}
	sv.rangeCache[key] = m
	sv.negMu.Unlock()
	return m
}

// MiddlewareOption configures [Translator.Middleware].
type MiddlewareOption func(*middlewareConfig)

type middlewareConfig struct {
	urlPrefix bool
	cookie    string
}

// WithURLPrefix makes a leading path segment naming a supported language ("/de/...",
// "/pt-br/...") choose the locale; the segment is removed from the request's path before the
// next handler sees it (as Django's i18n_patterns do). Paths without one negotiate as usual.
func WithURLPrefix() MiddlewareOption { return func(c *middlewareConfig) { c.urlPrefix = true } }

// WithCookie sets the name of the cookie that holds a user's chosen language (default
// "kit_language"); "" disables it.
func WithCookie(name string) MiddlewareOption { return func(c *middlewareConfig) { c.cookie = name } }

// DefaultCookie is the default name of the language cookie.
const DefaultCookie = "kit_language"

// Middleware chooses each request's locale and puts it in the request's context: from the URL
// prefix (with [WithURLPrefix]), else the language cookie when it names a supported language,
// else Accept-Language, else the default language. It sets Content-Language and adds
// Accept-Language (and Cookie, when a cookie is in use) to Vary.
func (t *Translator) Middleware(opts ...MiddlewareOption) func(http.Handler) http.Handler {
	cfg := middlewareConfig{cookie: DefaultCookie}
	for _, o := range opts {
		o(&cfg)
	}
	vary := "Accept-Language"
	if cfg.cookie != "" {
		vary = "Accept-Language, Cookie"
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			l := t.requestLocale(r, &cfg)
			h := w.Header()
			h.Set("Content-Language", l.name)
			h.Add("Vary", vary)
			next.ServeHTTP(w, r.WithContext(WithLocale(r.Context(), l)))
		})
	}
}

func (t *Translator) requestLocale(r *http.Request, cfg *middlewareConfig) *Locale {
	sv := t.cur.Load()
	if cfg.urlPrefix {
		if l, rest, ok := sv.prefixLocale(r.URL.Path); ok {
			r.URL.Path = rest
			if r.URL.RawPath != "" {
				if _, raw, ok := sv.prefixLocale(r.URL.RawPath); ok {
					r.URL.RawPath = raw
				} else {
					r.URL.RawPath = ""
				}
			}
			return l
		}
	}
	if cfg.cookie != "" {
		if c, err := r.Cookie(cfg.cookie); err == nil && c.Value != "" {
			if l, ok := sv.byLower[strings.ToLower(strings.ReplaceAll(c.Value, "_", "-"))]; ok {
				return l
			}
		}
	}
	return t.Negotiate(r.Header.Get("Accept-Language"))
}

// prefixLocale splits "/de/x" into the locale for "de" and "/x".
func (sv *served) prefixLocale(p string) (*Locale, string, bool) {
	if len(p) < 2 || p[0] != '/' {
		return nil, "", false
	}
	seg, rest, _ := strings.Cut(p[1:], "/")
	if len(seg) > 35 {
		return nil, "", false
	}
	l, ok := sv.byLower[strings.ToLower(seg)]
	if !ok {
		return nil, "", false
	}
	return l, "/" + rest, true
}
