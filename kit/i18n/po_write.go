package i18n

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/width"
)

// poPageWidth is GNU gettext's default output width: lines of at most 79 columns.
const poPageWidth = 79

// WriteTo writes f as GNU msgcat does: the header first, entries in order with obsolete ones
// last, comments in gettext's order, flags in gettext's order (fuzzy, format flags, range,
// wrap), strings wrapped at 79 columns at the Unicode line-break opportunities gettext uses
// (spaces, after hyphens and slashes, between CJK characters), reference lines filled to 79
// columns. Output is UTF-8. Formatting the same file twice gives the same bytes.
func (f *POFile) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(f.Bytes())
	return int64(n), err
}

// Bytes returns the file as [POFile.WriteTo] writes it.
func (f *POFile) Bytes() []byte {
	var b bytes.Buffer
	first := true
	sep := func() {
		if !first {
			b.WriteByte('\n')
		}
		first = false
	}
	if f.Header != nil {
		sep()
		writeEntry(&b, f.Header)
	}
	for _, m := range f.Messages {
		if !m.Obsolete {
			sep()
			writeEntry(&b, m)
		}
	}
	for _, m := range f.Messages {
		if m.Obsolete {
			sep()
			writeEntry(&b, m)
		}
	}
	return b.Bytes()
}

func writeEntry(b *bytes.Buffer, m *Message) {
	for _, c := range m.Comments {
		b.WriteByte('#')
		if c != "" {
			b.WriteByte(' ')
			b.WriteString(c)
		}
		b.WriteByte('\n')
	}
	for _, c := range m.ExtractedComments {
		b.WriteString("#.")
		if c != "" {
			b.WriteByte(' ')
			b.WriteString(c)
		}
		b.WriteByte('\n')
	}
	if len(m.References) > 0 {
		b.WriteString("#:")
		col := 2
		for _, r := range m.References {
			n := utf8.RuneCountInString(r) + 1
			if col > 2 && col+n > poPageWidth {
				b.WriteString("\n#:")
				col = 2
			}
			b.WriteByte(' ')
			b.WriteString(r)
			col += n
		}
		b.WriteByte('\n')
	}
	if len(m.Flags) > 0 {
		b.WriteString("#, ")
		b.WriteString(strings.Join(sortFlags(m.Flags), ", "))
		b.WriteByte('\n')
	}
	wrap := !m.HasFlag("no-wrap")
	prefix := ""
	if m.Obsolete {
		prefix = "#~ "
	}
	if m.HasPrev {
		pp := "#| "
		if m.Obsolete {
			pp = "#~| "
		}
		if m.HasPrevContext {
			writeString(b, pp, "msgctxt", m.PrevContext, wrap)
		}
		writeString(b, pp, "msgid", m.PrevID, wrap)
		if m.PrevIDPlural != "" {
			writeString(b, pp, "msgid_plural", m.PrevIDPlural, wrap)
		}
	}
	if m.HasContext {
		writeString(b, prefix, "msgctxt", m.Context, wrap)
	}
	writeString(b, prefix, "msgid", m.ID, wrap)
	if m.Plural {
		writeString(b, prefix, "msgid_plural", m.IDPlural, wrap)
		for i, s := range m.Str {
			writeString(b, prefix, "msgstr["+itoa(i)+"]", s, wrap)
		}
		return
	}
	s := ""
	if len(m.Str) > 0 {
		s = m.Str[0]
	}
	writeString(b, prefix, "msgstr", s, wrap)
}

func itoa(i int) string {
	if i >= 0 && i < 10 {
		return string(rune('0' + i))
	}
	var buf [20]byte
	n := len(buf)
	for i > 0 {
		n--
		buf[n] = byte('0' + i%10)
		i /= 10
	}
	return string(buf[n:])
}

// gettext's format flag languages, in the order msgcat prints them.
var formatFlagOrder = []string{
	"c", "objc", "python", "python-brace", "java", "java-printf", "csharp", "javascript",
	"scheme", "lisp", "elisp", "librep", "ruby", "sh", "awk", "lua", "object-pascal",
	"smalltalk", "qt", "qt-plural", "kde", "boost", "tcl", "perl", "perl-brace", "php",
	"gcc-internal", "gfc-internal", "ycp",
}

func flagRank(f string) int {
	switch {
	case f == "fuzzy":
		return 0
	case strings.HasPrefix(f, "range:"):
		return 2000
	case f == "wrap" || f == "no-wrap":
		return 3000
	}
	lang, ok := strings.CutSuffix(f, "-format")
	if ok {
		lang = strings.TrimPrefix(strings.TrimPrefix(lang, "no-"), "possible-")
		for i, l := range formatFlagOrder {
			if l == lang {
				return 1 + i
			}
		}
	}
	return 1000 // flags gettext does not know (go-format): after its own format flags
}

func sortFlags(flags []string) []string {
	out := append([]string(nil), flags...)
	// Insertion sort: stable, and flag lists are tiny.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && flagRank(out[j]) < flagRank(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// writeString writes `prefix keyword "value"`, wrapped as gettext's wrap() does.
func writeString(b *bytes.Buffer, prefix, keyword, value string, wrap bool) {
	maxWidth := poPageWidth - 1 // room for the closing quote
	if !wrap {
		maxWidth = 1 << 30
	}
	afterBreak := len(prefix) + 1 // continuation lines start with prefix and the opening quote
	avail := maxWidth - afterBreak
	firstLine := true
	rest := value
	if rest == "" {
		b.WriteString(prefix + keyword + " \"\"\n")
		return
	}
	for rest != "" {
		// One portion: up to and including the next newline.
		end := strings.IndexByte(rest, '\n') + 1
		if end == 0 {
			end = len(rest)
		}
		portion := rest[:end]
		rest = rest[end:]
		units := escapeUnits(portion)
		for {
			startcol := 0
			if firstLine {
				startcol = len(prefix) + len(keyword) + 1 + 1 - afterBreak
			}
			breaks := lineBreaks(units, avail, startcol)
			if firstLine && (rest != "" || startcol > avail || len(breaks) > 0) {
				b.WriteString(prefix + keyword + " \"\"\n")
				firstLine = false
				continue
			}
			start := 0
			for i := 0; i <= len(breaks); i++ {
				stop := len(units)
				if i < len(breaks) {
					stop = breaks[i]
				}
				if firstLine {
					b.WriteString(prefix + keyword + " \"")
					firstLine = false
				} else {
					b.WriteString(prefix + "\"")
				}
				for _, u := range units[start:stop] {
					b.WriteString(u.text)
				}
				b.WriteString("\"\n")
				start = stop
			}
			break
		}
	}
}

// unit is one character of a string as written: an escape sequence or a UTF-8 character.
type unit struct {
	text  string
	r     rune // the character (for escapes: the escaped character)
	esc   bool
	width int
}

func escapeUnits(s string) []unit {
	us := make([]unit, 0, len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		var e string
		switch r {
		case '\a':
			e = `\a`
		case '\b':
			e = `\b`
		case '\f':
			e = `\f`
		case '\n':
			e = `\n`
		case '\r':
			e = `\r`
		case '\t':
			e = `\t`
		case '\v':
			e = `\v`
		case '\\':
			e = `\\`
		case '"':
			e = `\"`
		}
		if e != "" {
			us = append(us, unit{text: e, r: r, esc: true, width: 2})
		} else {
			us = append(us, unit{text: s[i : i+n], r: r, width: runeWidth(r)})
		}
		i += n
	}
	return us
}

func runeWidth(r rune) int {
	if r < 0x300 {
		return 1
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}

// Line-break classes, a subset of Unicode UAX #14 that covers what PO files hold.
type lbClass uint8

const (
	lbAL lbClass = iota // letters, digits, symbols: no break between two
	lbSP                // space
	lbID                // ideographs, kana, Hangul, full-width forms: break on either side
	lbOP                // opening punctuation: no break after
	lbCL                // closing punctuation: no break before
	lbCP                // ")" and "]": no break before, none after before letters
	lbEX                // "!" "?": no break before
	lbIS                // ", . : ;": no break before
	lbSY                // "/": no break before
	lbHY                // "-": break after
	lbNS                // small kana, prolonged sound mark: no break before
	lbQU                // quotation marks: no break on either side
	lbNU                // digits
	lbBS                // the backslash that starts an escape
)

func classOf(u unit) lbClass {
	r := u.r
	if u.esc {
		switch r {
		case '\t':
			return lbBS
		}
		return lbBS
	}
	switch r {
	case ' ':
		return lbSP
	case '(', '[', '{', '「', '『', '（', '［', '｛', '【', '〔', '〈', '《', '“', '‘':
		if r == '“' || r == '‘' {
			return lbQU
		}
		return lbOP
	case ')', ']':
		return lbCP
	case '}', '」', '』', '）', '］', '｝', '】', '〕', '〉', '》', '、', '。', '，', '．', '”', '’':
		if r == '”' || r == '’' {
			return lbQU
		}
		return lbCL
	case '!', '?', '！', '？':
		return lbEX
	case ',', '.', ':', ';', '：', '；':
		return lbIS
	case '/':
		return lbSY
	case '-':
		return lbHY
	case '\'', '"', '«', '»':
		return lbQU
	case 'ー', '々', '・', 'ぁ', 'ぃ', 'ぅ', 'ぇ', 'ぉ', 'っ', 'ゃ', 'ゅ', 'ょ', 'ゎ',
		'ァ', 'ィ', 'ゥ', 'ェ', 'ォ', 'ッ', 'ャ', 'ュ', 'ョ', 'ヮ', 'ヵ', 'ヶ':
		return lbNS
	}
	if r >= '0' && r <= '9' {
		return lbNU
	}
	if r >= 0x2E80 && (r <= 0x9FFF || r >= 0xAC00 && r <= 0xD7A3 || r >= 0xF900 && r <= 0xFAFF ||
		r >= 0xFF01 && r <= 0xFF60 || r >= 0x20000 && r <= 0x3FFFD) {
		return lbID
	}
	return lbAL
}

// breakBefore reports whether a line may break between units a and b given the class of the
// last non-space unit before b (for a space run) and whether spaces came between.
func breakBefore(prev lbClass, afterSpace bool, next lbClass) bool {
	switch next {
	case lbSP, lbCL, lbCP, lbEX, lbIS, lbSY:
		return false
	}
	if afterSpace {
		return true
	}
	switch next {
	case lbNS, lbHY, lbQU:
		return false
	}
	switch prev {
	case lbOP, lbQU:
		return false
	case lbHY:
		return next != lbNU
	case lbCP:
		return next == lbID
	case lbIS, lbSY:
		return next != lbNU
	case lbEX, lbCL:
		return true
	}
	return prev == lbID || next == lbID
}

// lineBreaks returns the unit indexes before which gettext breaks the line: greedy filling of
// width columns, the first line starting at column startcol (libunistring's
// ulc_width_linebreaks as gettext's wrap() calls it).
func lineBreaks(units []unit, width, startcol int) []int {
	var out []int
	lastCol := startcol
	piece := 0
	lastBreak := -1
	prevClass := lbAL
	afterSpace := false
	n := len(units)
	for i, u := range units {
		cls := classOf(u)
		possible := false
		if i > 0 {
			// No break inside an escape, nor just before the "\n" that ends the portion.
			if !(u.esc && u.r == '\n' && i == n-1) {
				possible = breakBefore(prevClass, afterSpace, cls)
			}
		}
		if possible {
			if lastBreak >= 0 && lastCol+piece > width {
				out = append(out, lastBreak)
				lastCol = 0
			}
			lastBreak = i
			lastCol += piece
			piece = 0
		}
		piece += u.width
		if cls == lbSP {
			afterSpace = true
		} else {
			afterSpace = false
			prevClass = cls
			if cls == lbBS {
				prevClass = lbAL
			}
		}
	}
	if lastBreak >= 0 && lastCol+piece > width {
		out = append(out, lastBreak)
	}
	return out
}
