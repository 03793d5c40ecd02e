package i18n

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// PluralRule chooses the msgstr[index] for a count. It is immutable and safe for concurrent use.
// Index never panics and always returns a value in [0, N).
type PluralRule struct {
	n    int
	eval func(n uint64) uint64
	src  string
}

// N is nplurals: how many forms a plural message has.
func (r *PluralRule) N() int { return r.n }

// String is the rule as a Plural-Forms header value.
func (r *PluralRule) String() string { return r.src }

// Index returns the form for count n (negative counts use their absolute value). A rule that
// was checked at parse time cannot go out of range; the clamp keeps that true for counts the
// check did not try.
func (r *PluralRule) Index(n int) int {
	u := uint64(n)
	if n < 0 {
		u = uint64(-n)
	}
	i := r.eval(u)
	if i >= uint64(r.n) {
		return 0
	}
	return int(i)
}

// germanic is "nplurals=2; plural=(n != 1);", the rule of English and gettext's default.
var germanic = &PluralRule{n: 2, eval: func(n uint64) uint64 { return b2u(n != 1) }, src: "nplurals=2; plural=(n != 1);"}

// ParsePluralForms parses a Plural-Forms header value ("nplurals=3; plural=(n%10==1 && ...);")
// into a rule evaluated by a compiled closure tree. A malformed expression, nplurals outside
// 1..100, division by zero or an index outside [0, nplurals) for any count in 0..1000 or a set
// of large counts is an error wrapping [ErrSyntax].
func ParsePluralForms(header string) (*PluralRule, error) {
	var nStr, expr string
	var haveN, haveExpr bool
	for _, part := range strings.Split(header, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			if strings.TrimSpace(part) != "" {
				return nil, syntaxErrorf("Plural-Forms %q: unexpected %q", header, strings.TrimSpace(part))
			}
			continue
		}
		switch strings.TrimSpace(k) {
		case "nplurals":
			nStr, haveN = strings.TrimSpace(v), true
		case "plural":
			// The expression itself contains "=" (==, <=, !=): take everything after the first.
			expr, haveExpr = strings.TrimSpace(part[strings.IndexByte(part, '=')+1:]), true
		default:
			return nil, syntaxErrorf("Plural-Forms %q: unknown field %q", header, strings.TrimSpace(k))
		}
	}
	if !haveN || !haveExpr {
		return nil, syntaxErrorf("Plural-Forms %q: want nplurals=N; plural=EXPR;", header)
	}
	n, err := strconv.Atoi(nStr)
	if err != nil || n < 1 || n > 100 {
		return nil, syntaxErrorf("Plural-Forms %q: nplurals must be a number in 1..100", header)
	}
	node, err := parsePluralExpr(expr)
	if err != nil {
		return nil, fmt.Errorf("Plural-Forms %q: %w", header, err)
	}
	r := &PluralRule{n: n, eval: node.compile(), src: "nplurals=" + nStr + "; plural=" + expr + ";"}
	if err := node.check(n); err != nil {
		return nil, fmt.Errorf("Plural-Forms %q: %w", header, err)
	}
	return r, nil
}

// probeCounts are the counts a rule is checked on beyond 0..1000.
var probeCounts = []uint64{1e4, 1e5, 1e6, 1e7, 1e9, 1 << 31, 1<<32 - 1, 1 << 32, 1e12, 1e15, 1<<63 - 1, 1 << 63, 1<<64 - 1}

// CLDRPluralRule returns the rule of the Unicode CLDR plural categories for lang (x/text's
// tables), ordered zero, one, two, few, many, other as gettext's Plural-Forms number them,
// keeping only the categories integers reach: ru gets one/few/many (3 forms), ar 6, ja 1,
// en 2. It is the rule of a catalog whose header has no Plural-Forms.
func CLDRPluralRule(lang language.Tag) *PluralRule {
	formsSeen := map[plural.Form]bool{}
	match := func(n uint64) plural.Form {
		return plural.Cardinal.MatchPlural(lang, int(n%10_000_000), 0, 0, 0, 0)
	}
	for n := uint64(0); n <= 1000; n++ {
		formsSeen[match(n)] = true
	}
	for _, n := range probeCounts {
		formsSeen[match(n)] = true
	}
	order := func(f plural.Form) int {
		if f == plural.Other {
			return 100
		}
		return int(f)
	}
	forms := make([]plural.Form, 0, len(formsSeen))
	for f := range formsSeen {
		forms = append(forms, f)
	}
	slices.SortFunc(forms, func(a, b plural.Form) int { return order(a) - order(b) })
	var index [8]uint64
	names := make([]string, len(forms))
	for i, f := range forms {
		index[f] = uint64(i)
		names[i] = formName(f)
	}
	if len(forms) == 1 {
		return &PluralRule{n: 1, eval: func(uint64) uint64 { return 0 }, src: "nplurals=1; plural=0; # CLDR " + lang.String()}
	}
	return &PluralRule{
		n:    len(forms),
		eval: func(n uint64) uint64 { return index[match(n)] },
		src:  fmt.Sprintf("nplurals=%d; # CLDR %s: %s", len(forms), lang, strings.Join(names, ", ")),
	}
}

func formName(f plural.Form) string {
	switch f {
	case plural.Zero:
		return "zero"
	case plural.One:
		return "one"
	case plural.Two:
		return "two"
	case plural.Few:
		return "few"
	case plural.Many:
		return "many"
	}
	return "other"
}

// The expression grammar is gettext's (plural.y): ?: || && == != < > <= >= + - * / % ! n
// numbers and parentheses, with C precedence; values are unsigned 64-bit.

type pluralNode struct {
	op       string // "n", "num", "!", "?:", or a binary operator
	num      uint64
	a, b, c  *pluralNode
	position int
}

type pluralParser struct {
	s   string
	pos int
	dep int
}

const maxPluralDepth = 100

func parsePluralExpr(s string) (*pluralNode, error) {
	if len(s) > 1000 {
		return nil, syntaxErrorf("plural expression longer than 1000 bytes")
	}
	p := &pluralParser{s: s}
	n, err := p.ternary()
	if err != nil {
		return nil, err
	}
	p.skip()
	if p.pos != len(p.s) {
		return nil, p.errorf("unexpected %q", p.s[p.pos:])
	}
	return n, nil
}

func (p *pluralParser) errorf(format string, args ...any) error {
	return syntaxErrorf("plural expression at offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *pluralParser) skip() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n' || p.s[p.pos] == '\r') {
		p.pos++
	}
}

func (p *pluralParser) peek(tok string) bool {
	p.skip()
	if !strings.HasPrefix(p.s[p.pos:], tok) {
		return false
	}
	// "<" must not match "<=", "!" must not match "!=", "=" alone is not an operator.
	if len(tok) == 1 && p.pos+1 < len(p.s) && p.s[p.pos+1] == '=' && strings.ContainsRune("<>!", rune(tok[0])) {
		return false
	}
	return true
}

func (p *pluralParser) ternary() (*pluralNode, error) {
	p.dep++
	defer func() { p.dep-- }()
	if p.dep > maxPluralDepth {
		return nil, p.errorf("nested too deeply")
	}
	cond, err := p.binary(0)
	if err != nil {
		return nil, err
	}
	if !p.peek("?") {
		return cond, nil
	}
	pos := p.pos
	p.pos++
	a, err := p.ternary()
	if err != nil {
		return nil, err
	}
	if !p.peek(":") {
		return nil, p.errorf("want ':' for the '?' at offset %d", pos)
	}
	p.pos++
	b, err := p.ternary()
	if err != nil {
		return nil, err
	}
	return &pluralNode{op: "?:", a: cond, b: a, c: b, position: pos}, nil
}

var pluralLevels = [][]string{
	{"||"},
	{"&&"},
	{"==", "!="},
	{"<=", ">=", "<", ">"},
	{"+", "-"},
	{"*", "/", "%"},
}

func (p *pluralParser) binary(level int) (*pluralNode, error) {
	if level == len(pluralLevels) {
		return p.unary()
	}
	left, err := p.binary(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		op := ""
		for _, o := range pluralLevels[level] {
			if p.peek(o) {
				op = o
				break
			}
		}
		if op == "" {
			return left, nil
		}
		pos := p.pos
		p.pos += len(op)
		right, err := p.binary(level + 1)
		if err != nil {
			return nil, err
		}
		left = &pluralNode{op: op, a: left, b: right, position: pos}
	}
}

func (p *pluralParser) unary() (*pluralNode, error) {
	p.skip()
	if p.pos >= len(p.s) {
		return nil, p.errorf("unexpected end")
	}
	switch c := p.s[p.pos]; {
	case c == '!':
		p.pos++
		p.dep++
		defer func() { p.dep-- }()
		if p.dep > maxPluralDepth {
			return nil, p.errorf("nested too deeply")
		}
		a, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &pluralNode{op: "!", a: a}, nil
	case c == '(':
		p.pos++
		e, err := p.ternary()
		if err != nil {
			return nil, err
		}
		if !p.peek(")") {
			return nil, p.errorf("want ')'")
		}
		p.pos++
		return e, nil
	case c == 'n':
		p.pos++
		if p.pos < len(p.s) && isIdentByte(p.s[p.pos]) {
			return nil, p.errorf("unknown identifier")
		}
		return &pluralNode{op: "n"}, nil
	case c >= '0' && c <= '9':
		start := p.pos
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
		}
		v, err := strconv.ParseUint(p.s[start:p.pos], 10, 64)
		if err != nil {
			return nil, p.errorf("number %q out of range", p.s[start:p.pos])
		}
		return &pluralNode{op: "num", num: v}, nil
	}
	return nil, p.errorf("unexpected %q", p.s[p.pos:])
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// compile turns the tree into nested closures, folding the shapes real rules use (n%K, n==K,
// comparisons with a constant) into single closures.
func (t *pluralNode) compile() func(uint64) uint64 {
	switch t.op {
	case "n":
		return func(n uint64) uint64 { return n }
	case "num":
		v := t.num
		return func(uint64) uint64 { return v }
	case "!":
		a := t.a.compile()
		return func(n uint64) uint64 { return b2u(a(n) == 0) }
	case "?:":
		c, a, b := t.a.compile(), t.b.compile(), t.c.compile()
		if t.b.op == "num" && t.c.op == "num" {
			x, y := t.b.num, t.c.num
			return func(n uint64) uint64 {
				if c(n) != 0 {
					return x
				}
				return y
			}
		}
		if t.b.op == "num" {
			x := t.b.num
			return func(n uint64) uint64 {
				if c(n) != 0 {
					return x
				}
				return b(n)
			}
		}
		return func(n uint64) uint64 {
			if c(n) != 0 {
				return a(n)
			}
			return b(n)
		}
	}
	// Binary operators. Special shapes first: n OP K and (n%K) OP L.
	if t.b.op == "num" {
		k := t.b.num
		if t.a.op == "n" {
			switch t.op {
			case "%":
				if k == 0 {
					return func(uint64) uint64 { return 0 }
				}
				return func(n uint64) uint64 { return n % k }
			case "==":
				return func(n uint64) uint64 { return b2u(n == k) }
			case "!=":
				return func(n uint64) uint64 { return b2u(n != k) }
			case "<":
				return func(n uint64) uint64 { return b2u(n < k) }
			case ">":
				return func(n uint64) uint64 { return b2u(n > k) }
			case "<=":
				return func(n uint64) uint64 { return b2u(n <= k) }
			case ">=":
				return func(n uint64) uint64 { return b2u(n >= k) }
			}
		}
		if t.a.op == "%" && t.a.a.op == "n" && t.a.b.op == "num" && t.a.b.num != 0 {
			m := t.a.b.num
			switch t.op {
			case "==":
				return func(n uint64) uint64 { return b2u(n%m == k) }
			case "!=":
				return func(n uint64) uint64 { return b2u(n%m != k) }
			case "<":
				return func(n uint64) uint64 { return b2u(n%m < k) }
			case ">":
				return func(n uint64) uint64 { return b2u(n%m > k) }
			case "<=":
				return func(n uint64) uint64 { return b2u(n%m <= k) }
			case ">=":
				return func(n uint64) uint64 { return b2u(n%m >= k) }
			}
		}
	}
	a, b := t.a.compile(), t.b.compile()
	switch t.op {
	case "||":
		return func(n uint64) uint64 { return b2u(a(n) != 0 || b(n) != 0) }
	case "&&":
		return func(n uint64) uint64 { return b2u(a(n) != 0 && b(n) != 0) }
	case "==":
		return func(n uint64) uint64 { return b2u(a(n) == b(n)) }
	case "!=":
		return func(n uint64) uint64 { return b2u(a(n) != b(n)) }
	case "<":
		return func(n uint64) uint64 { return b2u(a(n) < b(n)) }
	case ">":
		return func(n uint64) uint64 { return b2u(a(n) > b(n)) }
	case "<=":
		return func(n uint64) uint64 { return b2u(a(n) <= b(n)) }
	case ">=":
		return func(n uint64) uint64 { return b2u(a(n) >= b(n)) }
	case "+":
		return func(n uint64) uint64 { return a(n) + b(n) }
	case "-":
		return func(n uint64) uint64 { return a(n) - b(n) }
	case "*":
		return func(n uint64) uint64 { return a(n) * b(n) }
	case "/":
		return func(n uint64) uint64 {
			d := b(n)
			if d == 0 {
				return 0
			}
			return a(n) / d
		}
	case "%":
		return func(n uint64) uint64 {
			d := b(n)
			if d == 0 {
				return 0
			}
			return a(n) % d
		}
	}
	panic("i18n: unknown plural operator " + t.op) // unreachable: the parser makes only the above
}

// eval is the reference interpreter the checks use: it reports division by zero.
func (t *pluralNode) eval(n uint64) (uint64, error) {
	switch t.op {
	case "n":
		return n, nil
	case "num":
		return t.num, nil
	case "!":
		a, err := t.a.eval(n)
		return b2u(a == 0), err
	case "?:":
		c, err := t.a.eval(n)
		if err != nil {
			return 0, err
		}
		if c != 0 {
			return t.b.eval(n)
		}
		return t.c.eval(n)
	case "&&", "||":
		a, err := t.a.eval(n)
		if err != nil {
			return 0, err
		}
		if (t.op == "&&") == (a == 0) {
			return b2u(a != 0), nil
		}
		b, err := t.b.eval(n)
		return b2u(b != 0), err
	}
	a, err := t.a.eval(n)
	if err != nil {
		return 0, err
	}
	b, err := t.b.eval(n)
	if err != nil {
		return 0, err
	}
	switch t.op {
	case "==":
		return b2u(a == b), nil
	case "!=":
		return b2u(a != b), nil
	case "<":
		return b2u(a < b), nil
	case ">":
		return b2u(a > b), nil
	case "<=":
		return b2u(a <= b), nil
	case ">=":
		return b2u(a >= b), nil
	case "+":
		return a + b, nil
	case "-":
		return a - b, nil
	case "*":
		return a * b, nil
	case "/", "%":
		if b == 0 {
			return 0, syntaxErrorf("division by zero (operator %q at offset %d) for n=%d", t.op, t.position, n)
		}
		if t.op == "/" {
			return a / b, nil
		}
		return a % b, nil
	}
	return 0, syntaxErrorf("unknown operator %q", t.op)
}

// check evaluates the rule on counts 0..1000 and large ones: every result must be a valid
// index and no division may be by zero.
func (t *pluralNode) check(nplurals int) error {
	try := func(n uint64) error {
		v, err := t.eval(n)
		if err != nil {
			return err
		}
		if v >= uint64(nplurals) {
			return syntaxErrorf("n=%d gives plural index %d, out of range for nplurals=%d", n, v, nplurals)
		}
		return nil
	}
	for n := uint64(0); n <= 1000; n++ {
		if err := try(n); err != nil {
			return err
		}
	}
	for _, n := range probeCounts {
		if err := try(n); err != nil {
			return err
		}
	}
	return nil
}

// gettextPluralForms is the Plural-Forms value translators use for common languages (GNU
// gettext's plural table), keyed by language, or language_REGION where the region differs.
var gettextPluralForms = map[string]string{
	"ja": "nplurals=1; plural=0;", "ko": "nplurals=1; plural=0;", "vi": "nplurals=1; plural=0;",
	"zh": "nplurals=1; plural=0;", "th": "nplurals=1; plural=0;", "id": "nplurals=1; plural=0;",
	"ms": "nplurals=1; plural=0;",
	"en": "nplurals=2; plural=(n != 1);", "de": "nplurals=2; plural=(n != 1);", "nl": "nplurals=2; plural=(n != 1);",
	"sv": "nplurals=2; plural=(n != 1);", "da": "nplurals=2; plural=(n != 1);", "nb": "nplurals=2; plural=(n != 1);",
	"nn": "nplurals=2; plural=(n != 1);", "no": "nplurals=2; plural=(n != 1);", "fo": "nplurals=2; plural=(n != 1);",
	"es": "nplurals=2; plural=(n != 1);", "pt": "nplurals=2; plural=(n != 1);", "it": "nplurals=2; plural=(n != 1);",
	"bg": "nplurals=2; plural=(n != 1);", "el": "nplurals=2; plural=(n != 1);", "fi": "nplurals=2; plural=(n != 1);",
	"et": "nplurals=2; plural=(n != 1);", "he": "nplurals=2; plural=(n != 1);", "eo": "nplurals=2; plural=(n != 1);",
	"hu": "nplurals=2; plural=(n != 1);", "tr": "nplurals=2; plural=(n != 1);", "ca": "nplurals=2; plural=(n != 1);",
	"pt_BR": "nplurals=2; plural=(n > 1);", "fr": "nplurals=2; plural=(n > 1);",
	"lv": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n != 0 ? 1 : 2);",
	"ga": "nplurals=3; plural=n==1 ? 0 : n==2 ? 1 : 2;",
	"ro": "nplurals=3; plural=n==1 ? 0 : (n==0 || (n%100 > 0 && n%100 < 20)) ? 1 : 2;",
	"lt": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && (n%100<10 || n%100>=20) ? 1 : 2);",
	"ru": slavic, "uk": slavic, "be": slavic, "sr": slavic, "hr": slavic, "bs": slavic,
	"cs": "nplurals=3; plural=(n==1) ? 0 : (n>=2 && n<=4) ? 1 : 2;",
	"sk": "nplurals=3; plural=(n==1) ? 0 : (n>=2 && n<=4) ? 1 : 2;",
	"pl": "nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);",
	"sl": "nplurals=4; plural=(n%100==1 ? 0 : n%100==2 ? 1 : n%100==3 || n%100==4 ? 2 : 3);",
	"ar": "nplurals=6; plural=n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5;",
}

const slavic = "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);"

// GettextPluralForms returns the customary Plural-Forms header value for lang (GNU gettext's
// plural table: "ru" gives the three-form Slavic rule, "pt-BR" and "fr" plural=(n > 1)).
func GettextPluralForms(lang language.Tag) (string, bool) {
	base, _ := lang.Base()
	if r, conf := lang.Region(); conf == language.Exact {
		if pf, ok := gettextPluralForms[base.String()+"_"+r.String()]; ok {
			return pf, true
		}
	}
	pf, ok := gettextPluralForms[base.String()]
	return pf, ok
}
