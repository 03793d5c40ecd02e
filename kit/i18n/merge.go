package i18n

import (
	"strings"
	"unicode/utf8"
)

// fuzzyThreshold is msgmerge's: a previous msgid at least this similar to a new one lends it
// its translation, marked fuzzy.
const fuzzyThreshold = 0.6

// Merge updates the translations def (a language's .po) to the template ref (a .pot) as
// `msgmerge --previous def.po ref.pot` does, and returns the result; neither input changes.
//
//   - Entries come in ref's order with ref's references, extracted comments and format flags,
//     and def's translator comments, translations and fuzzy flag.
//   - A new msgid with no exact match takes the translation of the most similar old msgid in the
//     same context (similarity at least 0.6), marked fuzzy with the old msgid as "#|".
//   - An old entry nothing in ref matches becomes obsolete (#~) when it has a translation and is
//     dropped otherwise; an obsolete entry that ref has again is brought back.
//   - The header is def's, with ref's POT-Creation-Date.
func Merge(def, ref *POFile) *POFile {
	out := &POFile{Name: def.Name}
	if def.Header != nil {
		h := *def.Header
		h.Str = append([]string(nil), def.Header.Str...)
		out.Header = &h
		if d := ref.HeaderField("POT-Creation-Date"); d != "" {
			out.SetHeaderField("POT-Creation-Date", d)
		}
	} else if ref.Header != nil {
		h := *ref.Header
		out.Header = &h
	}
	nplurals := 2
	if r, err := def.PluralRule(); err == nil {
		nplurals = r.N()
	}

	byKey := make(map[string]*Message, len(def.Messages))
	for _, m := range def.Messages {
		if _, dup := byKey[m.Key()]; !dup || !m.Obsolete {
			byKey[m.Key()] = m
		}
	}
	used := map[*Message]bool{}
	// Candidates for fuzzy matching: translated active entries, per context.
	cands := map[string][]*Message{}
	for _, m := range def.Messages {
		if !m.Obsolete && m.Translated() {
			cands[m.Context] = append(cands[m.Context], m)
		}
	}

	for _, r := range ref.Messages {
		if r.Obsolete {
			continue
		}
		m := &Message{
			Context: r.Context, HasContext: r.HasContext,
			ID: r.ID, IDPlural: r.IDPlural, Plural: r.Plural,
			ExtractedComments: append([]string(nil), r.ExtractedComments...),
			References:        append([]string(nil), r.References...),
			Line:              r.Line,
		}
		for _, f := range r.Flags {
			if f != "fuzzy" {
				m.Flags = append(m.Flags, f)
			}
		}
		old, exact := byKey[r.Key()]
		if !exact {
			old = bestMatch(r, cands[r.Context], used)
		}
		if old == nil {
			m.Str = emptyStr(r.Plural, nplurals)
			out.Messages = append(out.Messages, m)
			continue
		}
		used[old] = true
		m.Comments = append([]string(nil), old.Comments...)
		m.Str = adaptStr(old, r.Plural, nplurals)
		fuzzy := old.Fuzzy() && !old.Obsolete || !exact || old.Plural != r.Plural
		if exact && old.Fuzzy() && old.HasPrev {
			m.HasPrev, m.PrevContext, m.HasPrevContext, m.PrevID, m.PrevIDPlural = true, old.PrevContext, old.HasPrevContext, old.PrevID, old.PrevIDPlural
		}
		if !exact {
			m.HasPrev, m.PrevID, m.PrevIDPlural = true, old.ID, old.IDPlural
			m.PrevContext, m.HasPrevContext = old.Context, old.HasContext
		}
		if fuzzy && old.Translated() {
			m.Flags = append([]string{"fuzzy"}, m.Flags...)
		}
		if !m.Translated() {
			m.HasPrev = false
		}
		out.Messages = append(out.Messages, m)
	}
	for _, old := range def.Messages {
		if used[old] || !old.Translated() {
			continue
		}
		o := *old
		o.Obsolete = true
		o.References = nil
		out.Messages = append(out.Messages, &o)
	}
	return out
}

func emptyStr(plural bool, nplurals int) []string {
	if plural {
		return make([]string, nplurals)
	}
	return []string{""}
}

// adaptStr carries old's translation over to an entry that is plural or not.
func adaptStr(old *Message, plural bool, nplurals int) []string {
	switch {
	case old.Plural == plural:
		return append([]string(nil), old.Str...)
	case plural:
		s := make([]string, nplurals)
		for i := range s {
			s[i] = old.Str[0]
		}
		return s
	default:
		return []string{old.Str[0]}
	}
}

// bestMatch returns the unused candidate whose msgid is most similar to r's (at least
// fuzzyThreshold), or nil.
func bestMatch(r *Message, cands []*Message, used map[*Message]bool) *Message {
	var best *Message
	bestScore := fuzzyThreshold
	for _, c := range cands {
		if used[c] || c.HasContext != r.HasContext {
			continue
		}
		if s := similarity(r.ID, c.ID, bestScore); s >= bestScore && (best == nil || s > bestScore) {
			best, bestScore = c, s
		}
	}
	return best
}

// similarity is gettext's fstrcmp: 2*LCS/(len(a)+len(b)) over characters, or a value below
// atLeast (not exact) when it cannot reach atLeast.
func similarity(a, b string, atLeast float64) float64 {
	if a == b {
		return 1
	}
	ra, rb := []rune(a), []rune(b)
	if len(ra) > len(rb) {
		ra, rb = rb, ra
	}
	total := len(ra) + len(rb)
	if total == 0 {
		return 1
	}
	// Upper bound: the LCS is at most the shorter length.
	if 2*float64(len(ra))/float64(total) < atLeast {
		return 0
	}
	if utf8.RuneCountInString(a) > 2000 {
		return 0 // too long to compare; msgmerge gives up on such strings too
	}
	prev := make([]int, len(ra)+1)
	cur := make([]int, len(ra)+1)
	for j := 1; j <= len(rb); j++ {
		for i := 1; i <= len(ra); i++ {
			switch {
			case ra[i-1] == rb[j-1]:
				cur[i] = prev[i-1] + 1
			case prev[i] >= cur[i-1]:
				cur[i] = prev[i]
			default:
				cur[i] = cur[i-1]
			}
		}
		prev, cur = cur, prev
	}
	return 2 * float64(prev[len(ra)]) / float64(total)
}

// NewPO starts a language's .po from a template, as msginit does: ref's entries untranslated
// (plural ones with as many forms as the language has) and the header's Language and
// Plural-Forms set, the latter from [GettextPluralForms]. For a language that table lacks the
// header has no Plural-Forms, and the catalog takes the language's CLDR rule when loaded.
func NewPO(ref *POFile, lang string) *POFile {
	base := &POFile{Name: ref.Name, Header: &Message{Str: []string{""}}}
	if ref.Header != nil {
		h := *ref.Header
		h.Flags = nil
		var b strings.Builder
		for _, line := range strings.SplitAfter(ref.Header.Str[0], "\n") {
			if k, _, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "Plural-Forms" {
				continue
			}
			b.WriteString(line)
		}
		h.Str = []string{b.String()}
		base.Header = &h
	}
	base.SetHeaderField("Language", lang)
	if tag, err := parseLocaleName(lang); err == nil {
		if pf, ok := GettextPluralForms(tag); ok {
			base.SetHeaderField("Plural-Forms", pf)
		}
	}
	return Merge(base, ref)
}
