package i18n

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"time"

	"golang.org/x/text/language"
)

// DefaultDomain is the catalog file name without extension, gettext's default text domain.
const DefaultDomain = "messages"

// LoadOption configures [LoadSet].
type LoadOption func(*loadConfig)

type loadConfig struct {
	domain string
	dir    string
	langs  []string
}

// WithDomain sets the catalog file name: <lang>/LC_MESSAGES/<domain>.mo (default "messages").
func WithDomain(domain string) LoadOption { return func(c *loadConfig) { c.domain = domain } }

// WithDir sets the directory of fsys the language directories are in (default ".").
func WithDir(dir string) LoadOption { return func(c *loadConfig) { c.dir = dir } }

// WithLanguages loads exactly these languages ("de", "pt_BR") instead of every directory
// found; each must have a catalog except the default language. The file system then needs
// only Open: no directory listing (see [OpenerFS]).
func WithLanguages(langs ...string) LoadOption {
	return func(c *loadConfig) { c.langs = append(c.langs, langs...) }
}

// LoadSet reads a language set from fsys in gettext's (and Django's) layout:
// <dir>/<lang>/LC_MESSAGES/<domain>.mo, or the .po beside it when there is no .mo (it is then
// compiled in memory, fuzzy and untranslated entries dropped). Language directories are
// gettext locale names: "de", "pt_BR", "sr@latin". def is the language msgids are written in.
//
// Any catalog that does not parse fails the whole load, naming file and line, so a swap to a
// broken set never happens:
//
//	//go:embed locale
//	var locales embed.FS
//
//	set, err := i18n.LoadSet(locales, language.English, i18n.WithDir("locale"))
//	tr := i18n.NewTranslator(set)
func LoadSet(fsys fs.FS, def language.Tag, opts ...LoadOption) (*Set, error) {
	cfg := loadConfig{domain: DefaultDomain, dir: "."}
	for _, o := range opts {
		o(&cfg)
	}
	langs := cfg.langs
	explicit := len(langs) > 0
	if !explicit {
		entries, err := fs.ReadDir(fsys, cfg.dir)
		if err != nil {
			return nil, fmt.Errorf("i18n: list languages in %s: %w", cfg.dir, err)
		}
		for _, e := range entries {
			if e.IsDir() {
				langs = append(langs, e.Name())
			}
		}
	}
	var cats []*Catalog
	for _, lang := range langs {
		tag, err := parseLocaleName(lang)
		if err != nil {
			if explicit {
				return nil, err
			}
			continue // a directory that is not a language
		}
		base := path.Join(cfg.dir, lang, "LC_MESSAGES", cfg.domain)
		name := base + ".mo"
		data, err := fs.ReadFile(fsys, name)
		if errors.Is(err, fs.ErrNotExist) {
			name = base + ".po"
			data, err = fs.ReadFile(fsys, name)
		}
		if errors.Is(err, fs.ErrNotExist) {
			if explicit && tag != def {
				return nil, fmt.Errorf("i18n: no catalog for %s: neither %s.mo nor %s.po: %w", lang, base, base, err)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("i18n: read %s: %w", name, err)
		}
		c, err := ParseCatalog(tag, data, name)
		if err != nil {
			return nil, err
		}
		cats = append(cats, c)
	}
	return NewSet(def, cats...)
}

// Load reads a language set from fsys as [LoadSet] does and swaps it in; on error the current
// set stays.
func (t *Translator) Load(fsys fs.FS, opts ...LoadOption) error {
	set, err := LoadSet(fsys, t.Set().Default(), opts...)
	if err != nil {
		return err
	}
	t.Swap(set)
	return nil
}

// OpenerFS adapts an object store's open function to an fs.FS, so [LoadSet] reads catalogs
// from kit/storage (or any store) without kit/i18n depending on it:
//
//	store, _ := storage.Open(ctx, "s3://bucket/app?region=eu-west-1")
//	fsys := i18n.OpenerFS(ctx, store.Open, storage.ErrNotExist)
//	set, err := i18n.LoadSet(fsys, language.English, i18n.WithDir("locale"), i18n.WithLanguages("de", "fr", "pt_BR"))
//
// open is called with slash-separated names as fs.FS gives them; its reader is read whole and
// closed. An error wrapping one of notExist (the store's "no such object" sentinel) is
// reported as fs.ErrNotExist too, so a missing .mo falls back to the .po and a language
// without either is found missing. The file system cannot list directories: pass
// [WithLanguages].
func OpenerFS[R io.ReadCloser](ctx context.Context, open func(ctx context.Context, name string) (R, error), notExist ...error) fs.FS {
	return openerFS[R]{ctx: ctx, open: open, notExist: notExist}
}

type openerFS[R io.ReadCloser] struct {
	ctx      context.Context
	open     func(context.Context, string) (R, error)
	notExist []error
}

func (o openerFS[R]) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	r, err := o.open(o.ctx, name)
	if err != nil {
		for _, ne := range o.notExist {
			if errors.Is(err, ne) {
				err = errors.Join(fs.ErrNotExist, err)
				break
			}
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return &memFile{name: path.Base(name), Reader: bytes.NewReader(data), size: int64(len(data))}, nil
}

type memFile struct {
	*bytes.Reader
	name string
	size int64
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f, nil }
func (f *memFile) Close() error               { return nil }
func (f *memFile) Name() string               { return f.name }
func (f *memFile) Size() int64                { return f.size }
func (f *memFile) Mode() fs.FileMode          { return 0o444 }
func (f *memFile) ModTime() time.Time         { return time.Time{} }
func (f *memFile) IsDir() bool                { return false }
func (f *memFile) Sys() any                   { return nil }
