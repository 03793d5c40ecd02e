package i18n

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/ianaindex"
)

// ErrSyntax is wrapped by every error a malformed PO file, MO file or Plural-Forms expression
// gives; the error text names the file and line.
var ErrSyntax = errors.New("i18n: syntax error")

// syntaxError is a problem in a file's content; it wraps ErrSyntax without repeating its text.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }
func (e *syntaxError) Unwrap() error { return ErrSyntax }

func syntaxErrorf(format string, args ...any) error {
	return &syntaxError{fmt.Sprintf(format, args...)}
}

// POFile is a PO (or POT) file: the header entry and the messages, in file order, obsolete ones
// (#~) included. Strings are UTF-8 in memory whatever the file's charset; [POFile.WriteTo]
// writes UTF-8.
type POFile struct {
	// Name is the file's name in error messages ("locale/de/LC_MESSAGES/messages.po").
	Name string
	// Header is the header entry (msgid ""), with its comments and flags; nil when absent.
	Header *Message
	// Messages are the other entries, in file order.
	Messages []*Message
}

// Message is one PO entry.
type Message struct {
	// Context is msgctxt; HasContext tells msgctxt "" from no msgctxt, which gettext treats as
	// different messages.
	Context    string
	HasContext bool
	ID         string
	// IDPlural is msgid_plural; Plural is set when the entry has one (Str then holds msgstr[n]).
	IDPlural string
	Plural   bool
	// Str is msgstr, or msgstr[0], msgstr[1], ... for a plural entry.
	Str []string

	Comments          []string // translator comments ("# "), without the "# "
	ExtractedComments []string // "#." lines: notes from the source code
	References        []string // "#:" entries: "file:line"
	Flags             []string // "#," flags: "fuzzy", "go-format", ...

	// The previous msgctxt/msgid/msgid_plural ("#|"), which msgmerge records beside the fuzzy flag.
	PrevContext    string
	HasPrevContext bool
	PrevID         string
	PrevIDPlural   string
	HasPrev        bool

	Obsolete bool // "#~": kept for reference, never compiled
	Line     int  // line of the entry's first keyword (msgctxt or msgid)
	StrLine  int  // line of its first msgstr
}

// Key is the message's lookup key as in MO files: msgctxt "\x04" msgid, or msgid alone.
func (m *Message) Key() string {
	if m.HasContext {
		return m.Context + "\x04" + m.ID
	}
	return m.ID
}

// HasFlag reports whether the entry carries flag.
func (m *Message) HasFlag(flag string) bool {
	for _, f := range m.Flags {
		if f == flag {
			return true
		}
	}
	return false
}

// Fuzzy reports whether the entry is marked fuzzy.
func (m *Message) Fuzzy() bool { return m.HasFlag("fuzzy") }

// SetFlag adds or removes flag.
func (m *Message) SetFlag(flag string, on bool) {
	i := -1
	for j, f := range m.Flags {
		if f == flag {
			i = j
			break
		}
	}
	switch {
	case on && i < 0:
		m.Flags = append(m.Flags, flag)
	case !on && i >= 0:
		m.Flags = append(m.Flags[:i:i], m.Flags[i+1:]...)
	}
}

// Translated reports whether the entry has a translation as msgfmt judges it: a non-empty
// msgstr (for a plural entry, msgstr[0]; other empty forms fall back to the source at lookup).
func (m *Message) Translated() bool { return len(m.Str) > 0 && m.Str[0] != "" }

// HeaderField returns the value of a header field ("Plural-Forms", "Language", ...), or "".
func (f *POFile) HeaderField(name string) string {
	if f.Header == nil || len(f.Header.Str) == 0 {
		return ""
	}
	v, _ := headerField(f.Header.Str[0], name)
	return v
}

// SetHeaderField sets a header field, replacing it in place or appending it; the header entry
// is created if absent.
func (f *POFile) SetHeaderField(name, value string) {
	if f.Header == nil {
		f.Header = &Message{Str: []string{""}}
	}
	if len(f.Header.Str) == 0 {
		f.Header.Str = []string{""}
	}
	lines := strings.SplitAfter(f.Header.Str[0], "\n")
	out := make([]string, 0, len(lines)+1)
	done := false
	for _, l := range lines {
		if l == "" {
			continue
		}
		if k, _, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			if !done {
				out = append(out, name+": "+value+"\n")
				done = true
			}
			continue
		}
		if !strings.HasSuffix(l, "\n") {
			l += "\n"
		}
		out = append(out, l)
	}
	if !done {
		out = append(out, name+": "+value+"\n")
	}
	f.Header.Str[0] = strings.Join(out, "")
}

// Language is the header's Language field.
func (f *POFile) Language() string { return f.HeaderField("Language") }

func headerField(header, name string) (string, bool) {
	for header != "" {
		var line string
		line, header, _ = strings.Cut(header, "\n")
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// charsetOf extracts the charset from a Content-Type header value.
func charsetOf(header string) string {
	ct, _ := headerField(header, "Content-Type")
	_, cs, ok := strings.Cut(strings.ToLower(ct), "charset=")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(cs, "; \t"); i >= 0 {
		cs = cs[:i]
	}
	return cs
}

// ParsePO reads a PO or POT file. name labels errors ("name:line: ..."), which wrap
// [ErrSyntax]. A file in a charset other than UTF-8 (as its header declares) is converted to
// UTF-8.
func ParsePO(r io.Reader, name string) (*POFile, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("i18n: read %s: %w", name, err)
	}
	return ParsePOBytes(data, name)
}

// ParsePOBytes is [ParsePO] on a byte slice.
func ParsePOBytes(data []byte, name string) (*POFile, error) {
	return parsePO(data, name, false)
}

// parsePO parses; lean skips comments and references, which a catalog for lookups never needs.
func parsePO(data []byte, name string, lean bool) (*POFile, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	p := poParser{name: name, file: &POFile{Name: name}, lean: lean}
	if err := p.parse(data); err != nil {
		return nil, err
	}
	f := p.file
	if f.Header != nil && len(f.Header.Str) > 0 {
		cs := charsetOf(f.Header.Str[0])
		switch cs {
		case "", "utf-8", "utf8", "charset", "ascii", "us-ascii":
		default:
			if err := convertCharset(f, cs); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			p.converted = true
		}
	}
	if err := p.checkUTF8(utf8.Valid(data)); err != nil {
		return nil, err
	}
	return f, nil
}

func convertCharset(f *POFile, cs string) error {
	enc, err := ianaindex.MIME.Encoding(cs)
	if err != nil || enc == nil {
		return syntaxErrorf("unsupported charset %q", cs)
	}
	dec := enc.NewDecoder()
	conv := func(s *string) {
		if *s == "" {
			return
		}
		if out, err := dec.String(*s); err == nil {
			*s = out
		}
	}
	all := f.Messages
	if f.Header != nil {
		all = append([]*Message{f.Header}, all...)
	}
	for _, m := range all {
		for _, p := range []*string{&m.Context, &m.ID, &m.IDPlural, &m.PrevContext, &m.PrevID, &m.PrevIDPlural} {
			conv(p)
		}
		for _, ss := range [][]string{m.Str, m.Comments, m.ExtractedComments, m.References} {
			for i := range ss {
				conv(&ss[i])
			}
		}
	}
	if f.Header != nil {
		f.SetHeaderField("Content-Type", "text/plain; charset=UTF-8")
	}
	return nil
}

type poParser struct {
	name string
	file *POFile
	line int

	cur       *Message
	started   bool   // cur has a keyword (msgctxt/msgid) already
	field     string // the keyword the next continuation string belongs to
	target    *string
	prev      bool           // field is inside "#|"
	obs       bool           // the current keyword lines are obsolete
	seen      map[string]int // key -> line, to reject duplicates
	lean      bool
	emit      func(*Message) error // when set, entries go to it instead of the file
	converted bool                 // strings were converted from another charset

	charsetChecked bool // parseCatalogPO looked at the header's charset
}

func (p *poParser) errorf(format string, args ...any) error {
	return syntaxErrorf("%s:%d: %s", p.name, p.line, fmt.Sprintf(format, args...))
}

func (p *poParser) parse(data []byte) error {
	// One string for the whole file: lines and unescaped strings are substrings of it.
	text := string(data)
	p.cur = &Message{}
	for text != "" {
		line, rest, _ := strings.Cut(text, "\n")
		text = rest
		p.line++
		if err := p.parseLine(trimRightBlank(line)); err != nil {
			return err
		}
	}
	return p.flush()
}

// parseLine handles one line; the entry in progress is p.cur.
func (p *poParser) parseLine(line string) error {
	trimmed := trimLeftBlank(line)
	if trimmed == "" {
		// A blank line ends an entry (but a lone comment block stays attached to the next).
		if p.started {
			return p.flush()
		}
		return nil
	}
	if strings.HasPrefix(trimmed, "#~") {
		rest := trimLeftBlank(trimmed[2:])
		if strings.HasPrefix(trimmed, "#~|") {
			return p.keywordLine(trimLeftBlank(trimmed[3:]), true, true)
		}
		if rest == "" {
			return nil
		}
		return p.keywordLine(rest, true, false)
	}
	if trimmed[0] == '#' {
		// Comments belong to the entry that follows: one after a msgstr starts the next entry.
		if p.started {
			if err := p.flush(); err != nil {
				return err
			}
		}
		if len(trimmed) > 1 && trimmed[1] == '|' {
			return p.keywordLine(trimLeftBlank(trimmed[2:]), false, true)
		}
		p.comment(trimmed)
		return nil
	}
	return p.keywordLine(trimmed, false, false)
}

func (p *poParser) comment(line string) {
	m := p.cur
	if p.lean && (len(line) == 1 || line[1] != ',') {
		return
	}
	if len(line) == 1 {
		m.Comments = append(m.Comments, "")
		return
	}
	switch line[1] {
	case '.':
		m.ExtractedComments = append(m.ExtractedComments, strings.TrimPrefix(line[2:], " "))
	case ':':
		m.References = append(m.References, strings.Fields(line[2:])...)
	case ',':
		for rest := line[2:]; rest != ""; {
			var f string
			f, rest, _ = strings.Cut(rest, ",")
			if f = strings.TrimSpace(f); f != "" && !m.HasFlag(f) {
				m.Flags = append(m.Flags, f)
			}
		}
	default:
		m.Comments = append(m.Comments, strings.TrimPrefix(line[1:], " "))
	}
}

func (p *poParser) keywordLine(line string, obsolete, prev bool) error {
	if line == "" {
		return nil
	}
	if line[0] == '"' {
		if p.target == nil || p.prev != prev {
			return p.errorf("string continuation without a keyword")
		}
		s, err := p.unquote(line)
		if err != nil {
			return err
		}
		*p.target += s
		return nil
	}
	kw, rest, _ := strings.Cut(line, " ")
	if i := strings.IndexByte(kw, '"'); i > 0 { // msgid"x"
		kw, rest = kw[:i], line[i:]
	}
	rest = trimLeftBlank(rest)
	m := p.cur
	if prev {
		var t *string
		switch kw {
		case "msgctxt":
			m.HasPrevContext = true
			t = &m.PrevContext
		case "msgid":
			t = &m.PrevID
		case "msgid_plural":
			t = &m.PrevIDPlural
		default:
			return p.errorf("unknown keyword %q in a #| comment", kw)
		}
		m.HasPrev = true
		s, err := p.unquote(rest)
		if err != nil {
			return err
		}
		*t = s
		p.target, p.prev, p.field = t, true, kw
		return nil
	}
	// A new msgctxt or msgid after a msgstr starts the next entry.
	if (kw == "msgctxt" || kw == "msgid") && p.field == "msgstr" {
		if err := p.flush(); err != nil {
			return err
		}
		m = p.cur
	}
	if p.started && obsolete != p.obs {
		return p.errorf("entry mixes obsolete (#~) and active lines")
	}
	s, err := p.unquote(rest)
	if err != nil {
		return err
	}
	switch {
	case kw == "msgctxt":
		if p.started {
			return p.errorf("msgctxt must come before msgid")
		}
		m.Context, m.HasContext = s, true
		p.target = &m.Context
		m.Line = p.line
	case kw == "msgid":
		if p.started && p.field != "msgctxt" {
			return p.errorf("duplicate msgid in one entry (missing msgstr?)")
		}
		m.ID = s
		p.target = &m.ID
		if m.Line == 0 {
			m.Line = p.line
		}
	case kw == "msgid_plural":
		if p.field != "msgid" {
			return p.errorf("msgid_plural must follow msgid")
		}
		m.IDPlural, m.Plural = s, true
		p.target = &m.IDPlural
	case kw == "msgstr":
		if p.field != "msgid" && p.field != "msgid_plural" {
			return p.errorf("msgstr must follow msgid")
		}
		if m.Plural {
			return p.errorf("a plural entry needs msgstr[0], not msgstr")
		}
		m.Str = append(m.Str[:0], s)
		m.StrLine = p.line
		p.target = &m.Str[0]
	case strings.HasPrefix(kw, "msgstr[") && strings.HasSuffix(kw, "]"):
		n, err := strconv.Atoi(kw[len("msgstr[") : len(kw)-1])
		if err != nil || n < 0 {
			return p.errorf("bad plural index in %q", kw)
		}
		if !m.Plural {
			return p.errorf("%s in an entry without msgid_plural", kw)
		}
		if n != len(m.Str) {
			return p.errorf("%s out of order: want msgstr[%d]", kw, len(m.Str))
		}
		if n == 0 {
			m.StrLine = p.line
		}
		m.Str = append(m.Str, s)
		p.target = &m.Str[n]
	default:
		return p.errorf("unknown keyword %q", kw)
	}
	p.started, p.field, p.prev, p.obs = true, kw, false, obsolete
	if kw == "msgstr" || strings.HasPrefix(kw, "msgstr[") {
		p.field = "msgstr"
	}
	return nil
}

// flush finishes the entry in progress.
func (p *poParser) flush() error {
	m := p.cur
	if !p.started {
		// Comments at the end of the file with no entry are dropped, as msgcat does.
		return nil
	}
	if p.field != "msgstr" {
		return p.errorf("entry %q has no msgstr", m.ID)
	}
	m.Obsolete = p.obs
	switch {
	case !m.Obsolete && !m.HasContext && m.ID == "" && p.file.Header == nil:
		p.file.Header = m
	case !m.Obsolete && !m.HasContext && m.ID == "":
		return syntaxErrorf("%s:%d: duplicate header entry (msgid \"\"), first at line %d", p.name, m.Line, p.file.Header.Line)
	default:
		if !m.Obsolete && !p.lean { // lean parses leave duplicates to NewCatalog
			if p.seen == nil {
				p.seen = make(map[string]int)
			}
			k := m.Key()
			if first, dup := p.seen[k]; dup {
				return syntaxErrorf("%s:%d: duplicate message definition, first at line %d", p.name, m.Line, first)
			}
			p.seen[k] = m.Line
		}
		if p.emit != nil {
			if err := p.emit(m); err != nil {
				return err
			}
			// The consumer kept copies of the strings, and a plural entry's Str slice: the rest
			// of the entry is reused for the next one.
			if m.Plural {
				p.cur = &Message{}
			} else {
				*m = Message{Str: m.Str[:0], Flags: m.Flags[:0]}
			}
			p.started, p.field, p.target, p.prev, p.obs = false, "", nil, false, false
			return nil
		}
		p.file.Messages = append(p.file.Messages, m)
	}
	p.cur = &Message{}
	p.started, p.field, p.target, p.prev, p.obs = false, "", nil, false, false
	return nil
}

// unquote decodes one C string literal ("..."), the whole of s.
func (p *poParser) unquote(s string) (string, error) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", p.errorf("want a quoted string, got %q", s)
	}
	s = s[1 : len(s)-1]
	if strings.IndexByte(s, '\\') < 0 {
		if strings.IndexByte(s, '"') >= 0 {
			return "", p.errorf("unescaped quote in string")
		}
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' {
			return "", p.errorf("unescaped quote in string")
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(s) {
			return "", p.errorf("string ends with a backslash")
		}
		switch c = s[i]; c {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '\\', '"', '\'', '?':
			b.WriteByte(c)
		case 'x':
			j := i + 1
			v := 0
			for j < len(s) && isHex(s[j]) {
				v = v*16 + hexVal(s[j])
				if v > 255 {
					return "", p.errorf("hex escape out of range")
				}
				j++
			}
			if j == i+1 {
				return "", p.errorf(`\x without hex digits`)
			}
			b.WriteByte(byte(v))
			i = j - 1
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v, j := 0, i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				v = v*8 + int(s[j]-'0')
				j++
			}
			if v > 255 {
				return "", p.errorf("octal escape out of range")
			}
			b.WriteByte(byte(v))
			i = j - 1
		default:
			return "", p.errorf(`invalid escape \%c`, c)
		}
	}
	return b.String(), nil
}

func (p *poParser) checkUTF8(wholeFileValid bool) error {
	f := p.file
	if wholeFileValid && (f.Header == nil || !p.converted) {
		return nil
	}
	all := f.Messages
	if f.Header != nil {
		all = append([]*Message{f.Header}, all...)
	}
	for _, m := range all {
		bad := !utf8.ValidString(m.ID) || !utf8.ValidString(m.IDPlural) || !utf8.ValidString(m.Context)
		for _, s := range m.Str {
			bad = bad || !utf8.ValidString(s)
		}
		if bad {
			return syntaxErrorf("%s:%d: invalid UTF-8 (declare the file's charset in its header)", p.name, m.Line)
		}
	}
	return nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return int(c-'A') + 10
}

func trimLeftBlank(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}

func trimRightBlank(s string) string {
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}
