package transifex

import (
	"io/fs"
	"path"
	"strings"
)

// FindTranslations returns the files in fsys that a resource's file_filter matches, keyed by the
// local language code taken from the <lang> part, plus its trans.<lang> overrides that exist.
// The source file is left out when it matches the filter too.
func FindTranslations(fsys fs.FS, r *ResourceConfig) (map[string]string, error) {
	out := map[string]string{}
	ff := path.Clean(strings.ReplaceAll(r.FileFilter, "\\", "/"))
	if err := searchFilter(fsys, ".", strings.Split(ff, "/"), "", out); err != nil {
		return nil, err
	}
	for code, p := range r.Overrides {
		p = path.Clean(strings.ReplaceAll(p, "\\", "/"))
		if st, err := fs.Stat(fsys, p); err == nil && st.Mode().IsRegular() {
			out[code] = p
		}
	}
	src := path.Clean(strings.ReplaceAll(r.SourceFile, "\\", "/"))
	for code, p := range out {
		if r.SourceFile != "" && p == src {
			delete(out, code)
		}
	}
	return out, nil
}

// searchFilter walks the filter's parts: a part with <lang> matches directory entries and
// fixes the language, which later parts then use literally.
func searchFilter(fsys fs.FS, dir string, parts []string, lang string, out map[string]string) error {
	if len(parts) == 0 {
		return nil
	}
	part := parts[0]
	last := len(parts) == 1
	join := func(name string) string {
		if dir == "." {
			return name
		}
		return dir + "/" + name
	}
	if lang != "" || !strings.Contains(part, "<lang>") {
		p := join(strings.ReplaceAll(part, "<lang>", lang))
		st, err := fs.Stat(fsys, p)
		if err != nil {
			return nil
		}
		if last {
			if st.Mode().IsRegular() && lang != "" {
				out[lang] = p
			}
			return nil
		}
		if st.IsDir() {
			return searchFilter(fsys, p, parts[1:], lang, out)
		}
		return nil
	}
	prefix, suffix, _ := strings.Cut(part, "<lang>")
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil // a missing directory matches nothing
	}
	for _, e := range entries {
		name := e.Name()
		if len(name) <= len(prefix)+len(suffix) || !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) {
			continue
		}
		code := name[len(prefix) : len(name)-len(suffix)]
		if !languageCodeRE.MatchString(code) {
			continue
		}
		p := join(name)
		if last {
			if e.Type().IsRegular() {
				out[code] = p
			}
			continue
		}
		if e.IsDir() {
			if err := searchFilter(fsys, p, parts[1:], code, out); err != nil {
				return err
			}
		}
	}
	return nil
}
