package txsync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/stackkit/stackkit/kit/storage"
)

// DefaultPrefix is where in kit/storage the worker keeps everything:
//
//	i18n/work/...                                           the pulled PO files and the pull state
//	i18n/<version>/locale/<lang>/LC_MESSAGES/<domain>.mo    one complete catalog set per version
//	i18n/<version>/manifest.json                            what the version holds
//	i18n/current                                            the current version's name, written last
const DefaultPrefix = "i18n/"

// ErrNoVersion means no catalog version has been published yet under the prefix.
var ErrNoVersion = errors.New("txsync: no catalog version published yet")

// versionRE matches the names NewVersion makes: a UTC time to the millisecond and 8 hex digits
// of the content's digest. The names sort in time order.
var versionRE = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}\.[0-9]{3}Z-[0-9a-f]{8}$`)

// ValidVersion reports whether v is a version name the worker makes.
func ValidVersion(v string) bool { return versionRE.MatchString(v) }

func newVersion(t time.Time, digest string) string {
	return t.UTC().Format("20060102T150405.000Z") + "-" + digest[:8]
}

func versionTime(v string) time.Time {
	t, _ := time.Parse("20060102T150405.000Z", v[:20])
	return t
}

// Layout names the objects under a prefix.
type Layout struct{ Prefix string }

func normPrefix(p string) string {
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// Work is the working copy's prefix: the PO files as .tx/config places them, and the pull state.
func (l Layout) Work() string { return l.Prefix + "work/" }

// Current is the name of the pointer to the current version.
func (l Layout) Current() string { return l.Prefix + "current" }

// Dir is a version's prefix.
func (l Layout) Dir(version string) string { return l.Prefix + version + "/" }

// LocaleDir is a version's locale directory, for i18n.WithDir.
func (l Layout) LocaleDir(version string) string { return l.Prefix + version + "/locale" }

// Catalog is the name of one catalog of a version.
func (l Layout) Catalog(version, lang, domain string) string {
	return l.LocaleDir(version) + "/" + lang + "/LC_MESSAGES/" + domain + ".mo"
}

// Manifest is the name of a version's manifest.
func (l Layout) Manifest(version string) string { return l.Prefix + version + "/manifest.json" }

// Manifest describes one catalog version.
type Manifest struct {
	Version string    `json:"version"`
	Created time.Time `json:"created"`
	// Digest covers every catalog's name and content: two versions with the same digest serve
	// the same translations.
	Digest string `json:"digest"`
	// Domains lists each domain's languages (local codes, as directory names), sorted.
	Domains map[string][]string `json:"domains"`
	Files   []ManifestFile      `json:"files"`
	// Reason is what the sync requests that made the version said.
	Reason string `json:"reason,omitempty"`
}

// ManifestFile is one catalog of a version.
type ManifestFile struct {
	Name     string `json:"name"` // relative to the version's directory: locale/de/LC_MESSAGES/web.mo
	Resource string `json:"resource"`
	Language string `json:"language"` // local code
	Domain   string `json:"domain"`
	SHA256   string `json:"sha256"`
	Size     int    `json:"size"`
	Messages int    `json:"messages"`
}

// ReadCurrent returns the current version's name, or ErrNoVersion.
func ReadCurrent(ctx context.Context, store *storage.Storage, prefix string) (string, error) {
	l := Layout{normPrefix(prefix)}
	b, err := store.Get(ctx, l.Current())
	if errors.Is(err, storage.ErrNotExist) {
		return "", ErrNoVersion
	}
	if err != nil {
		return "", fmt.Errorf("txsync: reading %s: %w", l.Current(), err)
	}
	v := strings.TrimSpace(string(b))
	if !ValidVersion(v) {
		return "", fmt.Errorf("txsync: %s holds %q, not a version name", l.Current(), truncate(v, 80))
	}
	return v, nil
}

// ReadManifest returns a version's manifest.
func ReadManifest(ctx context.Context, store *storage.Storage, prefix, version string) (*Manifest, error) {
	if !ValidVersion(version) {
		return nil, fmt.Errorf("txsync: %q is not a version name", truncate(version, 80))
	}
	l := Layout{normPrefix(prefix)}
	b, err := store.Get(ctx, l.Manifest(version))
	if err != nil {
		return nil, fmt.Errorf("txsync: reading the manifest of version %s: %w", version, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("txsync: the manifest of version %s is unreadable: %w", version, err)
	}
	if m.Version != version {
		return nil, fmt.Errorf("txsync: the manifest of version %s names version %q", version, truncate(m.Version, 80))
	}
	return &m, nil
}

// Versions lists the versions stored under prefix, oldest first.
func Versions(ctx context.Context, store *storage.Storage, prefix string) ([]string, error) {
	l := Layout{normPrefix(prefix)}
	var out []string
	for obj, err := range store.List(ctx, &storage.ListOptions{Prefix: l.Prefix, Delimiter: "/"}) {
		if err != nil {
			return nil, err
		}
		if !obj.IsDir {
			continue
		}
		if v := strings.TrimSuffix(strings.TrimPrefix(obj.Name, l.Prefix), "/"); ValidVersion(v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out, nil
}

// StorageDestination is a transifex.Destination on kit/storage: Pull's files and state are stored
// under Prefix, by the names .tx/config gives them. Each write is one Put, which replaces the
// object whole or not at all on every kit/storage backend.
type StorageDestination struct {
	Store  *storage.Storage
	Prefix string
}

func (d StorageDestination) name(name string) (string, error) {
	clean := path.Clean(name)
	if name == "" || path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("txsync: file name %q is not a relative path inside the project", name)
	}
	return normPrefix(d.Prefix) + clean, nil
}

// ReadFile returns an object's content; a missing object is an error wrapping fs.ErrNotExist
// (and storage.ErrNotExist).
func (d StorageDestination) ReadFile(ctx context.Context, name string) ([]byte, error) {
	n, err := d.name(name)
	if err != nil {
		return nil, err
	}
	b, err := d.Store.Get(ctx, n)
	if errors.Is(err, storage.ErrNotExist) {
		return nil, fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	return b, err
}

// WriteFile stores data under the name.
func (d StorageDestination) WriteFile(ctx context.Context, name string, data []byte) error {
	n, err := d.name(name)
	if err != nil {
		return err
	}
	return d.Store.Put(ctx, n, bytes.NewReader(data), &storage.WriterOptions{ContentType: contentType(n)})
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".po", ".pot":
		return "text/x-gettext-translation; charset=utf-8"
	case ".mo":
		return "application/x-gettext-translation"
	case ".json":
		return "application/json"
	}
	return "application/octet-stream"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "..."
}
