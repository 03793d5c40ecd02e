package i18n

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/text/language"
)

// Catalog holds one language's translations, ready for lookups: maps keyed by msgid (and by
// msgctxt+msgid for contextual messages), and the language's plural rule. It is immutable and
// safe for concurrent use.
type Catalog struct {
	lang   language.Tag
	name   string // where it came from, for messages
	rule   *PluralRule
	header string

	msgs     map[string]string
	plurals  map[string]*pluralMsg
	cmsgs    map[ctxKey]string
	cplurals map[ctxKey]*pluralMsg
}

type ctxKey struct{ ctx, id string }

type pluralMsg struct {
	forms []string
	argc  []int // per form: leading arguments it formats, or -1 (see formatArgCount)
}

// NewCatalog builds a catalog from a PO or MO file's entries, keeping what msgfmt keeps (no
// fuzzy, untranslated or obsolete entries). lang is the catalog's language; language.Und takes
// the header's Language field. The plural rule is the header's (see [POFile.PluralRule]).
func NewCatalog(lang language.Tag, f *POFile) (*Catalog, error) {
	c := &Catalog{name: f.Name, msgs: make(map[string]string, len(f.Messages)), plurals: map[string]*pluralMsg{}}
	for _, m := range f.Messages {
		if m.Obsolete || m.Fuzzy() || !m.Translated() {
			continue
		}
		if !c.add(m) {
			return nil, syntaxErrorf("%s:%d: duplicate message definition %q", f.Name, m.Line, m.ID)
		}
	}
	return c.finish(lang, f)
}

// finish sets the catalog's language (lang, or the header's when Und), plural rule and header.
func (c *Catalog) finish(lang language.Tag, f *POFile) (*Catalog, error) {
	if lang == language.Und {
		if l := f.Language(); l != "" {
			t, err := parseLocaleName(l)
			if err != nil {
				return nil, fmt.Errorf("%s: header Language: %w", f.Name, err)
			}
			lang = t
		}
	}
	if lang == language.Und {
		return nil, fmt.Errorf("i18n: catalog %s: no language given and none in its header", f.Name)
	}
	rule, err := f.PluralRule()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	c.lang, c.rule = lang, rule
	if f.Header != nil && len(f.Header.Str) > 0 {
		c.header = f.Header.Str[0]
	}
	return c, nil
}

// add enters m; it reports false when the key was there already.
func (c *Catalog) add(m *Message) bool {
	if m.HasContext {
		if c.cmsgs == nil {
			c.cmsgs = map[ctxKey]string{}
		}
		k := ctxKey{m.Context, m.ID}
		n := len(c.cmsgs)
		// gettext(msgid) on a plural entry gives msgstr[0].
		c.cmsgs[k] = m.Str[0]
		if len(c.cmsgs) == n {
			return false
		}
		if m.Plural {
			if c.cplurals == nil {
				c.cplurals = map[ctxKey]*pluralMsg{}
			}
			c.cplurals[k] = newPluralMsg(m.Str)
		}
		return true
	}
	n := len(c.msgs)
	c.msgs[m.ID] = m.Str[0]
	if len(c.msgs) == n {
		return false
	}
	if m.Plural {
		c.plurals[m.ID] = newPluralMsg(m.Str)
	}
	return true
}

func newPluralMsg(forms []string) *pluralMsg {
	pm := &pluralMsg{forms: forms, argc: make([]int, len(forms))}
	for i, s := range forms {
		pm.argc[i] = formatArgCount(s)
	}
	return pm
}

// ParseCatalog builds a catalog from a file's bytes: MO when it starts with the MO magic
// number, PO otherwise. name labels errors.
func ParseCatalog(lang language.Tag, data []byte, name string) (*Catalog, error) {
	if isMO(data) {
		// Entries go straight into the maps: no Message is kept per entry.
		c := &Catalog{name: name, msgs: make(map[string]string, len(data)/128), plurals: map[string]*pluralMsg{}}
		f, err := readMO(data, name, func(m *Message) error {
			if !m.Translated() {
				return nil
			}
			if !c.add(m) {
				return syntaxErrorf("%s: duplicate message %q", name, m.ID)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		return c.finish(lang, f)
	}
	if utf8.Valid(data) {
		if c, err := parseCatalogPO(lang, data, name); err != errNotUTF8 {
			return c, err
		}
	}
	// Another charset, or invalid UTF-8 (reported with its line): the general parser.
	f, err := parsePO(data, name, true)
	if err != nil {
		return nil, err
	}
	return NewCatalog(lang, f)
}

// errNotUTF8 sends parseCatalogPO's caller to the general path, which converts charsets.
var errNotUTF8 = errors.New("catalog is not in UTF-8")

// parseCatalogPO builds a catalog from a UTF-8 PO file without keeping its entries: each goes
// into the maps as it is parsed.
func parseCatalogPO(lang language.Tag, data []byte, name string) (*Catalog, error) {
	c := &Catalog{name: name, msgs: make(map[string]string, len(data)/128), plurals: map[string]*pluralMsg{}}
	p := poParser{name: name, file: &POFile{Name: name}, lean: true}
	p.emit = func(m *Message) error {
		if p.file.Header != nil && !p.charsetChecked {
			p.charsetChecked = true
			switch charsetOf(p.file.Header.Str[0]) {
			case "", "utf-8", "utf8", "charset", "ascii", "us-ascii":
			default:
				return errNotUTF8
			}
		}
		if m.Obsolete || m.Fuzzy() || !m.Translated() {
			return nil
		}
		if !c.add(m) {
			return syntaxErrorf("%s:%d: duplicate message definition %q", name, m.Line, m.ID)
		}
		return nil
	}
	if err := p.parse(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))); err != nil {
		return nil, err
	}
	f := p.file
	if f.Header != nil && !p.charsetChecked {
		switch charsetOf(f.Header.Str[0]) {
		case "", "utf-8", "utf8", "charset", "ascii", "us-ascii":
		default:
			return nil, errNotUTF8
		}
	}
	return c.finish(lang, f)
}

func isMO(data []byte) bool {
	return len(data) >= 4 && (binary.LittleEndian.Uint32(data) == moMagic || binary.BigEndian.Uint32(data) == moMagic) &&
		!bytes.HasPrefix(data, []byte("msgid"))
}

// Language is the catalog's language.
func (c *Catalog) Language() language.Tag { return c.lang }

// PluralRule is the catalog's plural rule.
func (c *Catalog) PluralRule() *PluralRule { return c.rule }

// Len is the number of messages the catalog translates.
func (c *Catalog) Len() int { return len(c.msgs) + len(c.cmsgs) }

// Header is the catalog's header entry (the msgstr of msgid "").
func (c *Catalog) Header() string { return c.header }

// Lookup returns the translation of msgid in msgctxt ("" with hasContext false for none).
func (c *Catalog) Lookup(msgctxt, msgid string) (string, bool) {
	if msgctxt == "" {
		s, ok := c.msgs[msgid]
		return s, ok
	}
	s, ok := c.cmsgs[ctxKey{msgctxt, msgid}]
	return s, ok
}

// lookupPlural finds form for n; ok is false when the catalog has no usable translation.
func (c *Catalog) lookupPlural(msgctxt, msgid string, n int) (string, int, bool) {
	var pm *pluralMsg
	if msgctxt == "" {
		pm = c.plurals[msgid]
	} else if c.cplurals != nil {
		pm = c.cplurals[ctxKey{msgctxt, msgid}]
	}
	if pm == nil {
		// A singular entry answers a plural lookup with its one translation, as ngettext does.
		if s, ok := c.Lookup(msgctxt, msgid); ok {
			return s, -1, true
		}
		return "", 0, false
	}
	i := c.rule.Index(n)
	if i >= len(pm.forms) || pm.forms[i] == "" {
		return "", 0, false
	}
	return pm.forms[i], pm.argc[i], true
}
