// Package extract finds translatable messages in Go source and templates and builds a PO
// template (.pot) from them, as xgettext does for C: `kitctl i18n extract` is its command.
//
// In Go files it finds calls of kit/i18n's T, N, P and NP (ctx first) and Lazy, LazyP, LazyN and
// LazyNP, under whatever name the file imports kit/i18n, and method calls .T, .N, .P and .NP whose
// first argument is a string literal (a *i18n.Locale's). Message arguments must be string
// literals or constant concatenations of them; anything else is reported as a warning, since a
// message computed at run time cannot be extracted. A comment group that starts with
// "Translators:" on the line just before a call becomes the entry's extracted comment ("#.").
//
// In templates (text/template syntax, any delimiters {{ }}) it finds the functions of
// i18n.TemplateFuncs: {{t .Ctx "msgid"}}, {{n .Ctx "one" "many" .N}}, {{p .Ctx "ctx" "msgid"}},
// {{np .Ctx "ctx" "one" "many" .N}}, and {{/* Translators: ... */}} comments just before them.
//
//	pot, warnings, err := extract.Dir(".", extract.Options{})
//	os.WriteFile("locale/messages.pot", pot.Bytes(), 0o644)
package extract

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/template/parse"
	"time"

	"github.com/stackkit/stackkit/kit/i18n"
)

// ImportPath is kit/i18n's import path, whose calls are extracted.
const ImportPath = "github.com/stackkit/stackkit/kit/i18n"

// Options configure [Dir].
type Options struct {
	// TemplateExts are the file name extensions read as templates (default .html, .tmpl,
	// .gohtml, .tpl, .txt.tmpl).
	TemplateExts []string
	// Skip lists directories (slash paths relative to the root) not to enter, beside the
	// always-skipped vendor, testdata, node_modules and hidden directories.
	Skip []string
	// Tests includes _test.go files (default: skipped).
	Tests bool
	// Project is the header's Project-Id-Version (default "PACKAGE VERSION").
	Project string
	// Now is the POT-Creation-Date (default time.Now).
	Now time.Time
}

// Warning is a call whose message could not be extracted.
type Warning struct {
	Pos string // file:line
	Msg string
}

func (w Warning) String() string { return w.Pos + ": " + w.Msg }

// Collector accumulates messages over many files, in first-seen order.
type Collector struct {
	msgs     []*i18n.Message
	byKey    map[string]*i18n.Message
	Warnings []Warning
}

// NewCollector returns an empty Collector.
func NewCollector() *Collector { return &Collector{byKey: map[string]*i18n.Message{}} }

func (c *Collector) add(ctx string, hasCtx bool, id, plural, ref string, comments []string) {
	if id == "" {
		c.Warnings = append(c.Warnings, Warning{ref, "empty msgid (reserved for the header)"})
		return
	}
	m := &i18n.Message{Context: ctx, HasContext: hasCtx, ID: id}
	key := m.Key()
	if old, ok := c.byKey[key]; ok {
		m = old
	} else {
		c.byKey[key] = m
		c.msgs = append(c.msgs, m)
	}
	if plural != "" && !m.Plural {
		m.Plural, m.IDPlural = true, plural
	} else if plural != "" && m.IDPlural != plural {
		c.Warnings = append(c.Warnings, Warning{ref, fmt.Sprintf("msgid %q has plural %q here, %q elsewhere; keeping the first", id, plural, m.IDPlural)})
	}
	if !slices.Contains(m.References, ref) {
		m.References = append(m.References, ref)
	}
	for _, cm := range comments {
		if !slices.Contains(m.ExtractedComments, cm) {
			m.ExtractedComments = append(m.ExtractedComments, cm)
		}
	}
}

// POT returns the template: xgettext's header and the messages found, each with its
// references, extracted comments and, when its msgid holds Go fmt verbs, the go-format flag.
func (c *Collector) POT(opts Options) *i18n.POFile {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	project := opts.Project
	if project == "" {
		project = "PACKAGE VERSION"
	}
	f := &i18n.POFile{Name: "messages.pot", Header: &i18n.Message{
		Comments: []string{
			"SOME DESCRIPTIVE TITLE.",
			"Copyright (C) YEAR THE PACKAGE'S COPYRIGHT HOLDER",
			"This file is distributed under the same license as the PACKAGE package.",
			"FIRST AUTHOR <EMAIL@ADDRESS>, YEAR.",
			"",
		},
		Flags: []string{"fuzzy"},
		Str: []string{"Project-Id-Version: " + project + "\n" +
			"Report-Msgid-Bugs-To: \n" +
			"POT-Creation-Date: " + now.UTC().Format("2006-01-02 15:04-0700") + "\n" +
			"PO-Revision-Date: YEAR-MO-DA HO:MI+ZONE\n" +
			"Last-Translator: FULL NAME <EMAIL@ADDRESS>\n" +
			"Language-Team: LANGUAGE <LL@li.org>\n" +
			"Language: \n" +
			"MIME-Version: 1.0\n" +
			"Content-Type: text/plain; charset=UTF-8\n" +
			"Content-Transfer-Encoding: 8bit\n" +
			"Plural-Forms: nplurals=INTEGER; plural=EXPRESSION;\n"},
	}}
	for _, m := range c.msgs {
		e := *m
		e.References = append([]string(nil), m.References...)
		e.ExtractedComments = append([]string(nil), m.ExtractedComments...)
		if isGoFormat(m.ID) || (m.Plural && isGoFormat(m.IDPlural)) {
			e.Flags = []string{"go-format"}
		}
		if m.Plural {
			e.Str = []string{"", ""}
		} else {
			e.Str = []string{""}
		}
		f.Messages = append(f.Messages, &e)
	}
	return f
}

// isGoFormat reports whether s holds at least one Go fmt directive other than %%.
func isGoFormat(s string) bool {
	for i := 0; i < len(s)-1; i++ {
		if s[i] != '%' {
			continue
		}
		if s[i+1] == '%' {
			i++
			continue
		}
		j := i + 1
		for j < len(s) && strings.IndexByte("+-# 0123456789.[]*", s[j]) >= 0 {
			j++
		}
		if j < len(s) && strings.IndexByte("vTtbcdoOqxXUeEfFgGsp", s[j]) >= 0 {
			return true
		}
	}
	return false
}

// Dir extracts every Go file and template under root. References are slash paths relative to
// root.
func Dir(root string, opts Options) (*i18n.POFile, []Warning, error) {
	exts := opts.TemplateExts
	if len(exts) == 0 {
		exts = []string{".html", ".tmpl", ".gohtml", ".tpl"}
	}
	c := NewCollector()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "vendor" || name == "testdata" || name == "node_modules" || slices.Contains(opts.Skip, rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case strings.HasSuffix(p, ".go"):
			if strings.HasSuffix(p, "_test.go") && !opts.Tests {
				return nil
			}
			src, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return c.Go(rel, src)
		case slices.Contains(exts, path.Ext(p)):
			src, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return c.Template(rel, src)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return c.POT(opts), c.Warnings, nil
}

// call shapes: which arguments are the context, msgid and plural, by function name.
type shape struct {
	ctx, id, plural int // argument indexes, -1 for none
}

var pkgFuncs = map[string]shape{
	"T": {-1, 1, -1}, "N": {-1, 1, 2}, "P": {1, 2, -1}, "NP": {1, 2, 3},
	"Lazy": {-1, 0, -1}, "LazyP": {0, 1, -1}, "LazyN": {-1, 0, 1}, "LazyNP": {0, 1, 2},
}

var methodFuncs = map[string]shape{
	"T": {-1, 0, -1}, "N": {-1, 0, 1}, "P": {0, 1, -1}, "NP": {0, 1, 2},
}

// Go extracts the messages of one Go source file; name is its path in references.
func (c *Collector) Go(name string, src []byte) error {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, name, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	pkgName := ""
	dot := false
	for _, imp := range file.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == ImportPath {
			pkgName = "i18n"
			if imp.Name != nil {
				pkgName = imp.Name.Name
				dot = pkgName == "."
			}
		}
	}
	// Translator comments by the line they end on.
	comments := map[int]string{}
	for _, g := range file.Comments {
		text := strings.TrimSpace(g.Text())
		if strings.HasPrefix(text, "Translators:") {
			comments[fset.Position(g.End()).Line] = strings.Join(strings.Fields(text), " ")
		}
	}
	ast.Inspect(file, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		var fn string
		var sh shape
		switch f := call.Fun.(type) {
		case *ast.SelectorExpr:
			fn = f.Sel.Name
			if x, ok := f.X.(*ast.Ident); ok && pkgName != "" && x.Name == pkgName {
				if sh, ok = pkgFuncs[fn]; !ok {
					return true
				}
			} else if sh, ok = methodFuncs[fn]; !ok || len(call.Args) == 0 || !isStringLit(call.Args[0]) {
				return true
			}
		case *ast.Ident:
			if !dot {
				return true
			}
			fn = f.Name
			if sh, ok = pkgFuncs[fn]; !ok {
				return true
			}
		default:
			return true
		}
		pos := fset.Position(call.Pos())
		ref := fmt.Sprintf("%s:%d", name, pos.Line)
		str := func(i int) (string, bool) {
			if i < 0 {
				return "", true
			}
			if i >= len(call.Args) {
				c.Warnings = append(c.Warnings, Warning{ref, fmt.Sprintf("%s: too few arguments", fn)})
				return "", false
			}
			s, ok := constString(call.Args[i])
			if !ok {
				c.Warnings = append(c.Warnings, Warning{ref, fmt.Sprintf("%s: argument %d is not a string literal; not extracted", fn, i+1)})
			}
			return s, ok
		}
		ctx, ok1 := str(sh.ctx)
		id, ok2 := str(sh.id)
		plural, ok3 := str(sh.plural)
		if !ok1 || !ok2 || !ok3 {
			return true
		}
		var cm []string
		if t, ok := comments[pos.Line-1]; ok {
			cm = []string{t}
		}
		c.add(ctx, sh.ctx >= 0, id, plural, ref, cm)
		return true
	})
	return nil
}

func isStringLit(e ast.Expr) bool {
	_, ok := constString(e)
	return ok
}

// constString evaluates a string literal or a + concatenation of them.
func constString(e ast.Expr) (string, bool) {
	switch x := e.(type) {
	case *ast.BasicLit:
		if x.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(x.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		if x.Op != token.ADD {
			return "", false
		}
		a, ok := constString(x.X)
		if !ok {
			return "", false
		}
		b, ok := constString(x.Y)
		return a + b, ok
	case *ast.ParenExpr:
		return constString(x.X)
	}
	return "", false
}

var tmplFuncs = map[string]shape{"t": {-1, 1, -1}, "n": {-1, 1, 2}, "p": {1, 2, -1}, "np": {1, 2, 3}}

// Template extracts the messages of one template file; name is its path in references.
func (c *Collector) Template(name string, src []byte) error {
	trees := map[string]*parse.Tree{}
	t := parse.New(name)
	t.Mode = parse.SkipFuncCheck | parse.ParseComments
	if _, err := t.Parse(string(src), "", "", trees); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	lineOf := func(n parse.Node) int {
		return 1 + strings.Count(string(src[:int(n.Position())]), "\n")
	}
	names := make([]string, 0, len(trees))
	for n := range trees {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, tn := range names {
		tree := trees[tn]
		if tree.Root == nil {
			continue
		}
		var pending string // a Translators: comment waiting for the next call
		var walk func(n parse.Node)
		walk = func(n parse.Node) {
			switch x := n.(type) {
			case *parse.ListNode:
				if x == nil {
					return
				}
				for _, child := range x.Nodes {
					walk(child)
				}
			case *parse.CommentNode:
				text := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(x.Text, "/*"), "*/"))
				if strings.HasPrefix(text, "Translators:") {
					pending = strings.Join(strings.Fields(text), " ")
				}
			case *parse.ActionNode:
				walk(x.Pipe)
			case *parse.PipeNode:
				if x == nil {
					return
				}
				for _, cmd := range x.Cmds {
					walk(cmd)
				}
			case *parse.CommandNode:
				c.templateCall(name, x, lineOf, &pending)
				for _, a := range x.Args {
					walk(a)
				}
			case *parse.IfNode:
				walk(x.Pipe)
				walk(x.List)
				walk(x.ElseList)
			case *parse.RangeNode:
				walk(x.Pipe)
				walk(x.List)
				walk(x.ElseList)
			case *parse.WithNode:
				walk(x.Pipe)
				walk(x.List)
				walk(x.ElseList)
			case *parse.TemplateNode:
				walk(x.Pipe)
			}
		}
		walk(tree.Root)
	}
	return nil
}

func (c *Collector) templateCall(name string, cmd *parse.CommandNode, lineOf func(parse.Node) int, pending *string) {
	if len(cmd.Args) == 0 {
		return
	}
	id, ok := cmd.Args[0].(*parse.IdentifierNode)
	if !ok {
		return
	}
	sh, ok := tmplFuncs[id.Ident]
	if !ok {
		return
	}
	ref := fmt.Sprintf("%s:%d", name, lineOf(cmd))
	str := func(i int) (string, bool) {
		if i < 0 {
			return "", true
		}
		i++ // Args[0] is the function
		if i >= len(cmd.Args) {
			c.Warnings = append(c.Warnings, Warning{ref, id.Ident + ": too few arguments"})
			return "", false
		}
		s, ok := cmd.Args[i].(*parse.StringNode)
		if !ok {
			c.Warnings = append(c.Warnings, Warning{ref, fmt.Sprintf("%s: argument %d is not a string literal; not extracted", id.Ident, i)})
			return "", false
		}
		return s.Text, true
	}
	ctx, ok1 := str(sh.ctx)
	msgid, ok2 := str(sh.id)
	plural, ok3 := str(sh.plural)
	if !ok1 || !ok2 || !ok3 {
		return
	}
	var cm []string
	if *pending != "" {
		cm = []string{*pending}
		*pending = ""
	}
	c.add(ctx, sh.ctx >= 0, msgid, plural, ref, cm)
}
