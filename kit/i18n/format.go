package i18n

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A format language a "#, X-format" flag names, and what msgfmt --check-format compares.
//
//   - go-format: Go's fmt verbs, with explicit argument indexes (%[2]s) and * widths.
//   - c-format: checked the same way, C's length modifiers (%ld, %zu) and positions (%1$s)
//     accepted, since Go code and C catalogs share this flag.
//   - python-brace-format: {name}, {0}, {} with {{ and }} escapes.
//
// A translation must use the same arguments as its msgid (for msgstr[i] of a plural entry:
// no argument msgid_plural lacks, as a form may leave the count out) with compatible verbs.

// formatArg is one argument a format string uses: its key ("1", "2", ... or a name) and verb.
type formatArg struct {
	key  string
	verb rune
}

// formatFlags lists the format flags that are checked, and which parser each uses.
var formatCheckers = map[string]func(string) ([]formatArg, error){
	"go-format":           parseGoFormat,
	"c-format":            parseCFormat,
	"python-brace-format": parseBraceFormat,
}

// checkFormat compares msgstr's directives against msgid's for the format flags on m.
// It returns one message per problem (without the file:line prefix).
func checkFormat(m *Message) []string {
	var problems []string
	for _, flag := range m.Flags {
		parse, ok := formatCheckers[flag]
		if !ok {
			continue
		}
		idArgs, err := parse(m.ID)
		if err != nil {
			problems = append(problems, fmt.Sprintf("msgid is not a valid %s string: %v", flag, err))
			continue
		}
		if !m.Plural {
			if len(m.Str) > 0 {
				problems = append(problems, compareFormats(flag, "msgstr", idArgs, m.Str[0], parse, false)...)
			}
			continue
		}
		pluralArgs, err := parse(m.IDPlural)
		if err != nil {
			problems = append(problems, fmt.Sprintf("msgid_plural is not a valid %s string: %v", flag, err))
			continue
		}
		for i, s := range m.Str {
			// msgstr[i] may leave out the count (a form that stands for one number only), but
			// must not add arguments or change their kind.
			problems = append(problems, compareFormats(flag, fmt.Sprintf("msgstr[%d]", i), pluralArgs, s, parse, len(m.Str) > 1)...)
		}
	}
	return problems
}

func compareFormats(flag, what string, want []formatArg, s string, parse func(string) ([]formatArg, error), mayOmit bool) []string {
	got, err := parse(s)
	if err != nil {
		return []string{fmt.Sprintf("%s is not a valid %s string: %v", what, flag, err)}
	}
	wantBy := map[string]rune{}
	for _, a := range want {
		wantBy[a.key] = a.verb
	}
	gotBy := map[string]rune{}
	var problems []string
	for _, a := range got {
		gotBy[a.key] = a.verb
		w, ok := wantBy[a.key]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s uses argument %s, which msgid does not (%s)", what, a.key, flag))
			continue
		}
		if !verbsCompatible(flag, w, a.verb) {
			problems = append(problems, fmt.Sprintf("%s formats argument %s with %%%c where msgid has %%%c (%s)", what, a.key, a.verb, w, flag))
		}
	}
	if !mayOmit {
		for _, a := range want {
			if _, ok := gotBy[a.key]; !ok {
				problems = append(problems, fmt.Sprintf("%s does not use argument %s of msgid (%s)", what, a.key, flag))
			}
		}
	}
	return problems
}

// Verb groups: two verbs are compatible when one type accepts both. %v and %T take anything.
var verbGroups = []string{
	"bcdoOqxXUiu", // integers (C's i and u too)
	"sqxXv",       // strings and byte slices
	"beEfFgGxXaA", // floats
	"t",           // bool
	"p",           // pointer
}

func verbsCompatible(flag string, a, b rune) bool {
	if a == b || flag == "python-brace-format" {
		return true
	}
	if a == 'v' || b == 'v' || a == 'T' || b == 'T' {
		return flag == "go-format" || flag == "c-format"
	}
	for _, g := range verbGroups {
		if strings.ContainsRune(g, a) && strings.ContainsRune(g, b) {
			return true
		}
	}
	return false
}

const goVerbs = "vTtbcdoOqxXUeEfFgGspw"

// parseGoFormat lists the arguments a Go fmt format string uses.
func parseGoFormat(s string) ([]formatArg, error) {
	args, _, err := parseGoFormatIndexed(s)
	return args, err
}

// parseGoFormatIndexed is parseGoFormat, also telling whether an explicit [n] index appears.
func parseGoFormatIndexed(s string) ([]formatArg, bool, error) {
	var args []formatArg
	indexed := false
	argNum := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		start := i
		i++
		// flags
		for i < len(s) && strings.IndexByte("+-# 0", s[i]) >= 0 {
			i++
		}
		index := func() error {
			if i < len(s) && s[i] == '[' {
				j := strings.IndexByte(s[i:], ']')
				if j < 0 {
					return fmt.Errorf("unclosed argument index at offset %d", i)
				}
				n, err := strconv.Atoi(s[i+1 : i+j])
				if err != nil || n < 1 || n > 99 {
					return fmt.Errorf("bad argument index %q", s[i:i+j+1])
				}
				argNum = n - 1
				indexed = true
				i += j + 1
			}
			return nil
		}
		// number reads a width or precision: '*' takes an int argument, else digits.
		number := func() {
			if i < len(s) && s[i] == '*' {
				args = append(args, formatArg{strconv.Itoa(argNum + 1), 'd'})
				argNum++
				i++
				return
			}
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
		}
		if err := index(); err != nil {
			return nil, false, err
		}
		number() // width
		if i < len(s) && s[i] == '.' {
			i++
			if err := index(); err != nil {
				return nil, false, err
			}
			number() // precision
		}
		if err := index(); err != nil {
			return nil, false, err
		}
		if i >= len(s) {
			return nil, false, fmt.Errorf("directive %q at offset %d has no verb", s[start:], start)
		}
		if s[i] == '%' {
			if i != start+1 {
				return nil, false, fmt.Errorf("directive %q at offset %d: %%%% takes no flags", s[start:i+1], start)
			}
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !strings.ContainsRune(goVerbs, r) {
			return nil, false, fmt.Errorf("unknown verb %%%c at offset %d", r, start)
		}
		i += n - 1
		args = append(args, formatArg{strconv.Itoa(argNum + 1), r})
		argNum++
	}
	return args, indexed, nil
}

// parseCFormat lists the arguments of a C printf format: positions (%2$s), flags, widths,
// precisions, length modifiers, conversions.
func parseCFormat(s string) ([]formatArg, error) {
	var args []formatArg
	argNum := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		start := i
		i++
		if i < len(s) && s[i] == '%' {
			continue
		}
		pos := func() int {
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j > i && j < len(s) && s[j] == '$' {
				n, _ := strconv.Atoi(s[i:j])
				i = j + 1
				return n
			}
			return 0
		}
		if n := pos(); n > 0 {
			argNum = n - 1
		}
		for i < len(s) && strings.IndexByte("+-# 0'I", s[i]) >= 0 {
			i++
		}
		// A width or precision: digits, or '*' taking an int argument (the next, or n$).
		widthOrPrecision := func() {
			if i < len(s) && s[i] == '*' {
				i++
				n := pos()
				if n == 0 {
					n = argNum + 1
					argNum++
				}
				args = append(args, formatArg{strconv.Itoa(n), 'd'})
			}
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
		}
		widthOrPrecision()
		if i < len(s) && s[i] == '.' {
			i++
			widthOrPrecision()
		}
		for i < len(s) && strings.IndexByte("hlLqjzt", s[i]) >= 0 {
			i++
		}
		if i >= len(s) {
			return nil, fmt.Errorf("directive %q at offset %d has no conversion", s[start:], start)
		}
		c := rune(s[i])
		if !strings.ContainsRune("diouxXeEfFgGaAcspnvqtT", c) {
			return nil, fmt.Errorf("unknown conversion %%%c at offset %d", c, start)
		}
		args = append(args, formatArg{strconv.Itoa(argNum + 1), c})
		argNum++
	}
	return args, nil
}

// parseBraceFormat lists the fields of a Python str.format string.
func parseBraceFormat(s string) ([]formatArg, error) {
	var args []formatArg
	auto := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '}':
			if i+1 < len(s) && s[i+1] == '}' {
				i++
				continue
			}
			return nil, fmt.Errorf("single '}' at offset %d", i)
		case '{':
			if i+1 < len(s) && s[i+1] == '{' {
				i++
				continue
			}
			j := strings.IndexByte(s[i:], '}')
			if j < 0 {
				return nil, fmt.Errorf("unclosed '{' at offset %d", i)
			}
			field := s[i+1 : i+j]
			name := field
			if k := strings.IndexAny(name, "!:.["); k >= 0 {
				name = name[:k]
			}
			if strings.ContainsRune(name, '{') {
				return nil, fmt.Errorf("nested '{' at offset %d", i)
			}
			if name == "" {
				name = strconv.Itoa(auto)
				auto++
			}
			args = append(args, formatArg{name, 's'})
			i += j
		}
	}
	return args, nil
}

// formatArgCount is how many leading arguments a Go format string consumes, or -1 when it
// uses explicit indexes (fmt then reports no extra arguments) or is not a valid format.
func formatArgCount(s string) int {
	if strings.IndexByte(s, '%') < 0 {
		return 0
	}
	args, indexed, err := parseGoFormatIndexed(s)
	if err != nil || indexed {
		return -1
	}
	return len(args)
}
