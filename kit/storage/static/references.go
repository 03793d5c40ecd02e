package static

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
)

// reference is one URL found in a CSS or JS file: content[start:end] is the URL text.
type reference struct {
	start, end int
	url        string
}

var (
	cssSourceMap = regexp.MustCompile(`(?m)^/\*#[ \t]sourceMappingURL=(.*?)[ \t]*\*/$`)
	jsSourceMap  = regexp.MustCompile(`(?m)^//# sourceMappingURL=(.*?)[ \t]*$`)
)

// processable reports whether Collect rewrites the references in name.
func processable(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".css", ".js", ".mjs":
		return true
	}
	return false
}

// findReferences returns the references in a CSS or JS file, in order: for CSS, url(...) and
// @import "..." outside comments, and a /*# sourceMappingURL=... */ line; for JS, a
// //# sourceMappingURL=... line (Django's ManifestStaticFilesStorage patterns).
func findReferences(name string, content []byte) []reference {
	var refs []reference
	add := func(start, end int) {
		raw := string(content[start:end])
		trimmed := strings.TrimSpace(raw)
		if trimmed == "" {
			return
		}
		lead := strings.Index(raw, trimmed)
		refs = append(refs, reference{start: start + lead, end: start + lead + len(trimmed), url: trimmed})
	}
	if strings.EqualFold(path.Ext(name), ".css") {
		comments := cssComments(content)
		inComment := func(i int) bool {
			for _, c := range comments {
				if i >= c[0] && i < c[1] {
					return true
				}
			}
			return false
		}
		lower := strings.ToLower(string(content))
		for i := 0; ; {
			j := strings.Index(lower[i:], "url(")
			if j < 0 {
				break
			}
			at := i + j
			i = at + 4
			if inComment(at) || (at > 0 && isIdentChar(lower[at-1])) {
				continue
			}
			start, end, ok := urlArgument(content, i)
			if ok {
				add(start, end)
				i = end
			}
		}
		for i := 0; ; {
			j := strings.Index(lower[i:], "@import")
			if j < 0 {
				break
			}
			at := i + j
			i = at + len("@import")
			if inComment(at) {
				continue
			}
			k := i
			for k < len(content) && isSpace(content[k]) {
				k++
			}
			if k < len(content) && (content[k] == '"' || content[k] == '\'') {
				q := content[k]
				end := k + 1
				for end < len(content) && content[end] != q && content[end] != '\n' {
					end++
				}
				if end < len(content) && content[end] == q {
					add(k+1, end)
				}
			}
		}
		for _, m := range cssSourceMap.FindAllSubmatchIndex(content, -1) {
			add(m[2], m[3])
		}
	} else {
		for _, m := range jsSourceMap.FindAllSubmatchIndex(content, -1) {
			add(m[2], m[3])
		}
	}
	slices.SortFunc(refs, func(a, b reference) int { return a.start - b.start })
	return slices.CompactFunc(refs, func(a, b reference) bool { return a.start == b.start })
}

// urlArgument returns the span of the URL in a url( whose argument starts at i: quoted or not.
func urlArgument(content []byte, i int) (start, end int, ok bool) {
	for i < len(content) && isSpace(content[i]) {
		i++
	}
	if i >= len(content) {
		return 0, 0, false
	}
	if q := content[i]; q == '"' || q == '\'' {
		end = i + 1
		for end < len(content) && content[end] != q && content[end] != '\n' {
			end++
		}
		if end >= len(content) || content[end] != q {
			return 0, 0, false
		}
		return i + 1, end, true
	}
	end = i
	for end < len(content) && content[end] != ')' && content[end] != '\n' {
		end++
	}
	if end >= len(content) || content[end] != ')' {
		return 0, 0, false
	}
	return i, end, true
}

// cssComments returns the [start, end) spans of /* */ comments.
func cssComments(content []byte) [][2]int {
	var out [][2]int
	s := string(content)
	for i := 0; ; {
		j := strings.Index(s[i:], "/*")
		if j < 0 {
			return out
		}
		start := i + j
		k := strings.Index(s[start+2:], "*/")
		if k < 0 {
			return append(out, [2]int{start, len(s)})
		}
		end := start + 2 + k + 2
		out = append(out, [2]int{start, end})
		i = end
	}
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' }

func isIdentChar(b byte) bool {
	return b == '-' || b == '_' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9'
}

var schemeRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)

// resolve turns a reference in file name into the logical name it points to, or "" for one
// that is not a static file of ours: data:, http(s):, other schemes, protocol-relative //host,
// fragments alone, and absolute paths outside staticURL.
func resolve(name, ref, staticURL string) (target, suffix string, err error) {
	if ref == "" || strings.HasPrefix(ref, "#") || strings.HasPrefix(ref, "//") || schemeRE.MatchString(ref) {
		return "", "", nil
	}
	p := ref
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p, suffix = p[:i], p[i:]
	}
	if p == "" {
		return "", "", nil
	}
	decoded, uerr := url.PathUnescape(p)
	if uerr != nil {
		return "", "", fmt.Errorf("%s: reference %q: %v", name, ref, uerr)
	}
	if strings.HasPrefix(decoded, "/") {
		rest, ok := strings.CutPrefix(decoded, staticURL)
		if !ok || staticURL == "" || !strings.HasPrefix(staticURL, "/") {
			return "", "", nil // an absolute path outside the static root: not ours
		}
		target = path.Clean(rest)
	} else {
		target = path.Join(path.Dir(name), decoded)
	}
	if target == "." || target == ".." || strings.HasPrefix(target, "../") || strings.HasPrefix(target, "/") {
		return "", "", fmt.Errorf("%s: reference %q leads outside the static files", name, ref)
	}
	return target, suffix, nil
}

// rewriteURL replaces the last path component of ref with hashedBase, keeping the rest of the
// reference — its directories, query and fragment — as written.
func rewriteURL(ref, hashedBase string) string {
	p, suffix := ref, ""
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p, suffix = p[:i], p[i:]
	}
	dir, last := "", p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		dir, last = p[:i+1], p[i+1:]
	}
	base := hashedBase
	if dec, err := url.PathUnescape(last); err == nil && dec != last {
		base = url.PathEscape(hashedBase) // the reference was escaped; keep it so
	}
	return dir + base + suffix
}
