package migrate

import (
	"fmt"
	"strings"
)

// Statement is one SQL statement of a migration file.
type Statement struct {
	SQL  string // the statement text, trimmed, without the terminating semicolon
	Line int    // 1-based line in the file where the statement starts (first non-blank, non-comment char)
}

// Directives are the kit: comments found in a migration file.
type Directives struct {
	NoTransaction bool // "-- kit:no-transaction" anywhere in the file, on its own line
}

// Directive names recognised in "-- kit:..." comment lines.
const (
	directiveNoTransaction  = "kit:no-transaction"
	directiveStatementBegin = "kit:statement-begin"
	directiveStatementEnd   = "kit:statement-end"

	directivePrefix = "kit:"
	validDirectives = directiveNoTransaction + ", " + directiveStatementBegin + ", " + directiveStatementEnd
)

// splitDialect describes the lexical rules of one SQL dialect that matter
// for finding statement boundaries.
type splitDialect struct {
	backslashStrings   bool // '...' and "..." honour backslash escapes (mysql)
	escapeStrings      bool // E'...' honours backslash escapes (pg)
	dollarQuotes       bool // $$...$$ and $tag$...$tag$ (pg)
	nestedComments     bool // /* /* */ */ nests (pg)
	backticks          bool // `identifier` (mysql, sqlite)
	brackets           bool // [identifier] (sqlite)
	hashComments       bool // # line comments (mysql)
	dashCommentNeedsWS bool // "--" starts a comment only when followed by whitespace, a control char or EOF (mysql)
}

var splitDialects = map[string]splitDialect{
	"pg": {
		escapeStrings:  true,
		dollarQuotes:   true,
		nestedComments: true,
	},
	"mysql": {
		backslashStrings:   true,
		backticks:          true,
		hashComments:       true,
		dashCommentNeedsWS: true,
	},
	"sqlite": {
		backticks: true,
		brackets:  true,
	},
}

// splitStatements splits a migration file into statements for the given dialect.
// dialect is one of "pg", "mysql", "sqlite" (same names as bun's dialect.Name String(): use plain strings).
//
// Statements end at a ';' outside of strings, quoted identifiers, dollar
// quotes and comments. Lines "-- kit:statement-begin" and
// "-- kit:statement-end" delimit a block that is a single statement even if it
// contains ';' (trigger and procedure bodies); semicolons at the very start or
// end of a block are dropped. Comment-only and empty statements are dropped;
// comments between the first and last token of a statement are kept.
// MySQL also has "#" line comments, and its "--" starts a comment only when
// followed by whitespace, a control character or the end of input ("5--1" is
// arithmetic); directive lines are recognised in every dialect, though.
// The scan is a single left-to-right pass, linear in len(src).
func splitStatements(src, dialect string) ([]Statement, Directives, error) {
	d, ok := splitDialects[dialect]
	if !ok {
		return nil, Directives{}, fmt.Errorf("unsupported dialect %q (supported: pg, mysql, sqlite)", dialect)
	}
	s := &splitter{src: src, d: d, line: 1, start: -1, textStart: -1}
	// A UTF-8 byte order mark is not SQL; editors on Windows like to add one.
	if strings.HasPrefix(src, "\uFEFF") {
		s.pos = len("\uFEFF")
		s.lineStart = s.pos
	}
	if err := s.run(); err != nil {
		return nil, Directives{}, err
	}
	return s.stmts, s.dirs, nil
}

type splitter struct {
	src       string
	d         splitDialect
	pos       int // current byte offset
	line      int // 1-based line of pos
	lineStart int // offset of the first byte of the current line

	stmts []Statement
	dirs  Directives

	// The pending statement: src[start:end] spans its first through last
	// significant (non-blank, non-comment, non-terminator) token.
	start     int // -1 when no statement is pending
	startLine int
	end       int

	// Cache for atLineStart: the first non-blank byte of the line starting
	// at textLineStart is at textStart (-1: nothing cached).
	textLineStart, textStart int

	inBlock   bool // between kit:statement-begin and kit:statement-end
	blockLine int  // line of the kit:statement-begin
}

func (s *splitter) errorf(line int, format string, args ...any) error {
	return fmt.Errorf("line %d: "+format, append([]any{line}, args...)...)
}

// advance moves pos to j, keeping line and lineStart up to date.
func (s *splitter) advance(j int) {
	seg := s.src[s.pos:j]
	if n := strings.Count(seg, "\n"); n > 0 {
		s.line += n
		s.lineStart = s.pos + strings.LastIndexByte(seg, '\n') + 1
	}
	s.pos = j
}

func (s *splitter) peek(off int) byte {
	if s.pos+off < len(s.src) {
		return s.src[s.pos+off]
	}
	return 0
}

// mark records the token src[tokStart:s.pos] as part of the pending statement.
func (s *splitter) mark(tokStart, tokLine int) {
	if s.start < 0 {
		s.start = tokStart
		s.startLine = tokLine
	}
	s.end = s.pos
}

// flush emits the pending statement, if any.
func (s *splitter) flush() {
	if s.start >= 0 {
		s.stmts = append(s.stmts, Statement{SQL: s.src[s.start:s.end], Line: s.startLine})
	}
	s.start = -1
}

func (s *splitter) run() error {
	for s.pos < len(s.src) {
		c := s.src[s.pos]
		tokStart, tokLine := s.pos, s.line
		var err error
		switch {
		case c == '\n':
			s.advance(s.pos + 1)
			continue
		case isSpace(c):
			s.pos++
			continue
		case c == '-' && s.peek(1) == '-':
			handled, err := s.dashComment()
			if err != nil {
				return err
			}
			if handled {
				continue
			}
			s.pos++ // mysql "--x": a minus sign
		case c == '#' && s.d.hashComments:
			s.skipToEOL()
			continue
		case c == '/' && s.peek(1) == '*':
			if err := s.blockComment(); err != nil {
				return err
			}
			continue
		case c == ';':
			s.pos++
			if !s.inBlock {
				s.flush()
			}
			// Inside a block the ';' stays in the text when followed by more
			// SQL; a trailing one is not marked, so it is dropped.
			continue
		case c == '\'':
			err = s.quoted('\'', s.d.backslashStrings, "string")
		case c == '"':
			err = s.quoted('"', s.d.backslashStrings, "quoted identifier")
		case c == '`' && s.d.backticks:
			err = s.quoted('`', false, "quoted identifier")
		case c == '[' && s.d.brackets:
			j := strings.IndexByte(s.src[s.pos+1:], ']')
			if j < 0 {
				return s.errorf(s.line, "unterminated quoted identifier")
			}
			s.advance(s.pos + 1 + j + 1)
		case c == '$' && s.d.dollarQuotes:
			err = s.dollar()
		case isIdentStart(c):
			err = s.word()
		case isDigit(c):
			for s.pos < len(s.src) && (isIdentStart(s.src[s.pos]) || isDigit(s.src[s.pos])) {
				s.pos++
			}
		default:
			s.pos++
		}
		if err != nil {
			return err
		}
		s.mark(tokStart, tokLine)
	}
	if s.inBlock {
		return s.errorf(s.blockLine, "%s without matching %s", directiveStatementBegin, directiveStatementEnd)
	}
	s.flush()
	return nil
}

func (s *splitter) skipToEOL() {
	if j := strings.IndexByte(s.src[s.pos:], '\n'); j >= 0 {
		s.pos += j
	} else {
		s.pos = len(s.src)
	}
}

// dashComment handles "--" at pos. It reports false when, in MySQL, the
// dashes do not start a comment.
func (s *splitter) dashComment() (bool, error) {
	// A comment alone on its line may be a directive, in every dialect.
	if s.atLineStart() {
		eol := s.eol()
		text := strings.Trim(s.src[s.pos+2:eol], " \t\r\f\v")
		if len(text) >= len(directivePrefix) && strings.EqualFold(text[:len(directivePrefix)], directivePrefix) {
			if err := s.directive(text); err != nil {
				return false, err
			}
			s.pos = eol
			return true, nil
		}
	}
	if s.d.dashCommentNeedsWS {
		if c := s.peek(2); s.pos+2 < len(s.src) && c > ' ' && c != 0x7f {
			return false, nil
		}
	}
	s.pos = s.eol()
	return true, nil
}

// eol returns the offset of the end of the current line (its '\n' or EOF).
func (s *splitter) eol() int {
	if j := strings.IndexByte(s.src[s.pos:], '\n'); j >= 0 {
		return s.pos + j
	}
	return len(s.src)
}

// atLineStart reports whether only blanks precede pos on its line. The
// position of the first non-blank byte is cached per line, so that the check
// stays linear overall.
func (s *splitter) atLineStart() bool {
	if s.textLineStart != s.lineStart || s.textStart < 0 {
		i := s.lineStart
		for i < len(s.src) && isSpace(s.src[i]) && s.src[i] != '\n' {
			i++
		}
		s.textLineStart, s.textStart = s.lineStart, i
	}
	return s.pos == s.textStart
}

func (s *splitter) directive(name string) error {
	switch name {
	case directiveNoTransaction:
		s.dirs.NoTransaction = true
	case directiveStatementBegin:
		if s.inBlock {
			return s.errorf(s.line, "nested %s (block already opened at line %d)", directiveStatementBegin, s.blockLine)
		}
		if s.start >= 0 {
			return s.errorf(s.line, "%s inside the unterminated statement starting at line %d (end it with ;)", directiveStatementBegin, s.startLine)
		}
		s.inBlock = true
		s.blockLine = s.line
	case directiveStatementEnd:
		if !s.inBlock {
			return s.errorf(s.line, "%s without preceding %s", directiveStatementEnd, directiveStatementBegin)
		}
		s.flush()
		s.inBlock = false
	default:
		return s.errorf(s.line, "unknown directive %q (valid directives, case-sensitive: %s)", name, validDirectives)
	}
	return nil
}

// quoted scans a string or quoted identifier opened by q at pos. The closing
// quote is escaped by doubling it and, if backslash is set, by a backslash.
func (s *splitter) quoted(q byte, backslash bool, kind string) error {
	startLine := s.line
	i := s.pos + 1
	for {
		var j int
		if backslash {
			j = indexEither(s.src[i:], q, '\\')
		} else {
			j = strings.IndexByte(s.src[i:], q)
		}
		if j < 0 {
			return s.errorf(startLine, "unterminated %s", kind)
		}
		i += j
		if s.src[i] == '\\' {
			i += 2
			if i >= len(s.src) {
				return s.errorf(startLine, "unterminated %s", kind)
			}
			continue
		}
		if i+1 < len(s.src) && s.src[i+1] == q {
			i += 2
			continue
		}
		s.advance(i + 1)
		return nil
	}
}

// blockComment skips a /* */ comment at pos (nested for pg).
func (s *splitter) blockComment() error {
	startLine := s.line
	depth := 1
	for i := s.pos + 2; i+1 < len(s.src); {
		switch {
		case s.src[i] == '*' && s.src[i+1] == '/':
			i += 2
			if depth--; depth == 0 {
				s.advance(i)
				return nil
			}
		case s.d.nestedComments && s.src[i] == '/' && s.src[i+1] == '*':
			i += 2
			depth++
		default:
			i++
		}
	}
	return s.errorf(startLine, "unterminated block comment")
}

// dollar handles '$' at pos in pg: a $n parameter, a $tag$ dollar quote, or
// a lone '$'.
func (s *splitter) dollar() error {
	if isDigit(s.peek(1)) {
		s.pos++
		for s.pos < len(s.src) && isDigit(s.src[s.pos]) {
			s.pos++
		}
		return nil
	}
	j := s.pos + 1
	if j < len(s.src) && isIdentStart(s.src[j]) {
		for j++; j < len(s.src) && (isIdentStart(s.src[j]) || isDigit(s.src[j])); j++ {
		}
	}
	if j >= len(s.src) || s.src[j] != '$' {
		s.pos++
		return nil
	}
	tag := s.src[s.pos : j+1]
	k := strings.Index(s.src[j+1:], tag)
	if k < 0 {
		return s.errorf(s.line, "unterminated dollar-quoted string %s", tag)
	}
	s.advance(j + 1 + k + len(tag))
	return nil
}

// word scans an identifier or keyword at pos; in pg, E'...' is an escape
// string.
func (s *splitter) word() error {
	start := s.pos
	for s.pos < len(s.src) && (isIdentStart(s.src[s.pos]) || isDigit(s.src[s.pos]) || s.src[s.pos] == '$') {
		s.pos++
	}
	if s.d.escapeStrings && s.pos-start == 1 && (s.src[start] == 'E' || s.src[start] == 'e') && s.peek(0) == '\'' {
		return s.quoted('\'', true, "string")
	}
	return nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isIdentStart reports whether c may start an unquoted identifier; bytes of
// multi-byte UTF-8 sequences count as letters, as in PostgreSQL.
func isIdentStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c >= 0x80
}

func indexEither(str string, a, b byte) int {
	for i := 0; i < len(str); i++ {
		if str[i] == a || str[i] == b {
			return i
		}
	}
	return -1
}
