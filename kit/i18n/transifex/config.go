package transifex

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ConfigFile is where tx keeps a project's configuration, relative to the project's root.
const ConfigFile = ".tx/config"

// DefaultHost is the [main] host tx writes, and the ~/.transifexrc section it names.
const DefaultHost = "https://www.transifex.com"

// Config is a project's .tx/config, read as tx reads it, so existing projects work unchanged.
type Config struct {
	// Root is the directory holding .tx/; file_filter, source_file and trans.<lang> paths are
	// relative to it.
	Root string
	// Host is [main] host: the ~/.transifexrc section holding rest_hostname and token.
	Host string
	// LangMap is [main] lang_map: remote language code -> local code ("pt_BR: pt-br").
	LangMap map[string]string
	// Resources are the resource sections, sorted by ID.
	Resources []ResourceConfig
}

// ResourceConfig is one [o:org:p:proj:r:res] section.
type ResourceConfig struct {
	ID           string // "o:org:p:proj:r:res"
	Organization string
	Project      string // project slug
	Slug         string // resource slug
	FileFilter   string // "locale/<lang>/LC_MESSAGES/django.po"
	SourceFile   string
	SourceLang   string
	Type         string // i18n type ("PO")
	// MinimumPerc is minimum_perc, or -1 when the section has none.
	MinimumPerc  int
	ResourceName string
	// LangMap is the section's own lang_map, which overrides [main]'s per code.
	LangMap map[string]string
	// Overrides are trans.<lang> paths, keyed by the local language code.
	Overrides map[string]string
}

// ProjectID is the API's ID of the resource's project ("o:org:p:proj").
func (r *ResourceConfig) ProjectID() string { return "o:" + r.Organization + ":p:" + r.Project }

// ShortName is "proj.res", the name tx prints and -r matches.
func (r *ResourceConfig) ShortName() string { return r.Project + "." + r.Slug }

var (
	idPart         = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
	slugPart       = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	languageCodeRE = regexp.MustCompile(`^[a-zA-Z0-9@_.-]+$`)
)

// ParseResourceID splits "o:org:p:proj:r:res".
func ParseResourceID(id string) (org, project, slug string, err error) {
	p := strings.Split(id, ":")
	if len(p) != 6 || p[0] != "o" || p[2] != "p" || p[4] != "r" || !idPart.MatchString(p[1]) || !slugPart.MatchString(p[3]) || !slugPart.MatchString(p[5]) {
		return "", "", "", configErrorf("resource ID %q: want o:ORGANIZATION:p:PROJECT:r:RESOURCE", id)
	}
	return p[1], p[3], p[5], nil
}

// FindConfig looks for .tx/config in dir and its parents, as tx does, and returns its path.
func FindConfig(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; {
		p := filepath.Join(d, filepath.FromSlash(ConfigFile))
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", configErrorf("no %s in %s or any parent directory (run tx init, or pass --config)", ConfigFile, abs)
		}
		d = parent
	}
}

// LoadConfig reads a .tx/config file; Root is the directory above its .tx directory.
func LoadConfig(file string) (*Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, configErrorf("%s does not exist (run tx init, or pass --config)", file)
		}
		return nil, fmt.Errorf("transifex: %w", err)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(data, file)
	if err != nil {
		return nil, err
	}
	cfg.Root = filepath.Dir(filepath.Dir(abs))
	return cfg, nil
}

// ParseConfig reads .tx/config's text; name labels errors. Root is left empty.
func ParseConfig(data []byte, name string) (*Config, error) {
	secs, err := parseINI(data, name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	cfg := &Config{LangMap: map[string]string{}}
	var sawMain bool
	for _, s := range secs {
		if s.name == "main" {
			sawMain = true
			cfg.Host, _ = s.get("host")
			if v, ok := s.get("lang_map"); ok {
				if cfg.LangMap, err = parseLangMap(v); err != nil {
					return nil, configErrorf("%s: [main] lang_map: %v", name, err)
				}
			}
			continue
		}
		r, err := parseResourceSection(s, name)
		if err != nil {
			return nil, err
		}
		cfg.Resources = append(cfg.Resources, r)
	}
	if !sawMain {
		return nil, configErrorf("%s has no [main] section", name)
	}
	if cfg.Host == "" {
		return nil, configErrorf("%s: [main] has no host", name)
	}
	slices.SortFunc(cfg.Resources, func(a, b ResourceConfig) int { return strings.Compare(a.ID, b.ID) })
	return cfg, nil
}

func parseResourceSection(s *iniSection, name string) (ResourceConfig, error) {
	where := fmt.Sprintf("%s:%d: [%s]", name, s.line, s.name)
	if !strings.Contains(s.name, ":") {
		return ResourceConfig{}, configErrorf("%s is in the old project.resource form without an organization; run tx migrate, or rename it [o:ORGANIZATION:p:PROJECT:r:RESOURCE]", where)
	}
	org, proj, slug, err := ParseResourceID(s.name)
	if err != nil {
		return ResourceConfig{}, fmt.Errorf("%s: %w", where, err)
	}
	r := ResourceConfig{
		ID: s.name, Organization: org, Project: proj, Slug: slug, MinimumPerc: -1,
		LangMap: map[string]string{}, Overrides: map[string]string{},
	}
	r.FileFilter, _ = s.get("file_filter")
	r.SourceFile, _ = s.get("source_file")
	r.SourceLang, _ = s.get("source_lang")
	r.Type, _ = s.get("type")
	r.ResourceName, _ = s.get("resource_name")
	if v, ok := s.get("minimum_perc"); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100 {
			return r, configErrorf("%s: minimum_perc %q: want a whole number from 0 to 100", where, v)
		}
		r.MinimumPerc = n
	}
	if v, ok := s.get("lang_map"); ok {
		if r.LangMap, err = parseLangMap(v); err != nil {
			return r, configErrorf("%s: lang_map: %v", where, err)
		}
	}
	for _, k := range s.keys {
		if code, ok := strings.CutPrefix(k, "trans."); ok {
			if !languageCodeRE.MatchString(code) {
				return r, configErrorf("%s: %s: bad language code", where, k)
			}
			r.Overrides[code] = s.vals[k]
		}
	}
	if r.FileFilter == "" {
		return r, configErrorf("%s has no file_filter", where)
	}
	if err := checkFileFilter(r.FileFilter); err != nil {
		return r, fmt.Errorf("%s: %w", where, err)
	}
	return r, nil
}

// parseLangMap reads "remote: local, remote: local" (commas or new lines between pairs).
func parseLangMap(v string) (map[string]string, error) {
	m := map[string]string{}
	for _, pair := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' }) {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		remote, local, ok := strings.Cut(pair, ":")
		remote, local = strings.TrimSpace(remote), strings.TrimSpace(local)
		if !ok || remote == "" || local == "" || strings.Contains(local, ":") {
			return nil, fmt.Errorf("mapping %q: want REMOTE: LOCAL", strings.TrimSpace(pair))
		}
		m[remote] = local
	}
	return m, nil
}

// checkFileFilter requires exactly one "<lang>" in a relative path, as tx does.
func checkFileFilter(ff string) error {
	switch n := strings.Count(ff, "<lang>"); {
	case n == 0:
		return configErrorf("file_filter %q has no <lang>", ff)
	case n > 1:
		return configErrorf("file_filter %q has <lang> %d times", ff, n)
	}
	if path.IsAbs(filepath.ToSlash(ff)) || filepath.IsAbs(ff) {
		return configErrorf("file_filter %q must be relative to the project root", ff)
	}
	return nil
}

// LocalLanguage maps a remote language code to the local one: the resource's lang_map, then
// [main]'s, else the same code.
func (c *Config) LocalLanguage(r *ResourceConfig, remote string) string {
	if l, ok := r.LangMap[remote]; ok {
		return l
	}
	if l, ok := c.LangMap[remote]; ok {
		// A resource mapping another remote code to the same local one wins over [main].
		for rr, ll := range r.LangMap {
			if ll == l && rr != remote {
				return remote
			}
		}
		return l
	}
	return remote
}

// RemoteLanguage maps a local language code back to the remote one.
func (c *Config) RemoteLanguage(r *ResourceConfig, local string) string {
	for remote, l := range r.LangMap {
		if l == local {
			return remote
		}
	}
	for remote, l := range c.LangMap {
		if l == local {
			if _, shadowed := r.LangMap[remote]; shadowed {
				continue
			}
			return remote
		}
	}
	return local
}

// TranslationPath is the slash-separated path, relative to Root, of the resource's file in a
// local language: its trans.<lang> override, else file_filter with <lang> replaced.
func (r *ResourceConfig) TranslationPath(local string) string {
	if p, ok := r.Overrides[local]; ok {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(strings.Replace(r.FileFilter, "<lang>", local, 1))
}

// SelectResources returns the resources that patterns name, as tx's -r does: "proj.res" or the
// full ID, with * as a wildcard. No patterns select every resource; a pattern that matches
// nothing is an error.
func (c *Config) SelectResources(patterns []string) ([]*ResourceConfig, error) {
	if len(patterns) == 0 {
		out := make([]*ResourceConfig, len(c.Resources))
		for i := range c.Resources {
			out[i] = &c.Resources[i]
		}
		return out, nil
	}
	picked := map[string]bool{}
	var out []*ResourceConfig
	for _, p := range patterns {
		re, err := regexp.Compile("^" + strings.ReplaceAll(regexp.QuoteMeta(p), `\*`, ".*") + "$")
		if err != nil {
			return nil, configErrorf("resource pattern %q: %v", p, err)
		}
		found := false
		for i := range c.Resources {
			r := &c.Resources[i]
			if re.MatchString(r.ShortName()) || re.MatchString(r.ID) {
				found = true
				if !picked[r.ID] {
					picked[r.ID] = true
					out = append(out, r)
				}
			}
		}
		if !found {
			return nil, configErrorf("no resource in .tx/config matches %q (use project.resource or o:ORG:p:PROJECT:r:RESOURCE)", p)
		}
	}
	slices.SortFunc(out, func(a, b *ResourceConfig) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
