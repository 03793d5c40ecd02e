package static

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/stackkit/stackkit/kit/storage"
)

// ManifestVersion is the manifest format version written, Django's current one.
const ManifestVersion = "1.1"

// Manifest maps logical names ("css/app.css") to hashed names ("css/app.3f2a9c1b7e4d.css"). It
// is stored as JSON in Django's staticfiles.json format, {"paths": {...}, "version": "1.1",
// "hash": "..."}, so either side can read the other's. Lookups are strict, as Django's
// manifest_strict is by default: an unknown name is an error, not a silently unhashed URL.
type Manifest struct {
	Paths   map[string]string `json:"paths"`
	Version string            `json:"version"`
	// Hash identifies this set of paths (12 hex digits of SHA-256 over them).
	Hash string `json:"hash"`
	// BaseURL is prefixed to hashed names by URL (Django's STATIC_URL); LoadManifest sets it
	// from the storage's base_url, default "/static/".
	BaseURL string `json:"-"`

	hashed map[string]bool
	raw    []byte
}

func newManifest(assets map[string]*asset) *Manifest {
	m := &Manifest{Paths: make(map[string]string, len(assets)), Version: ManifestVersion, BaseURL: "/static/"}
	for name, a := range assets {
		m.Paths[name] = a.hashed
	}
	paths, _ := json.Marshal(m.Paths) // sorted keys: the same paths always hash alike
	sum := sha256.Sum256(paths)
	m.Hash = hex.EncodeToString(sum[:])[:12]
	m.index()
	return m
}

func (m *Manifest) index() {
	m.hashed = make(map[string]bool, len(m.Paths))
	for _, h := range m.Paths {
		m.hashed[h] = true
	}
}

func (m *Manifest) marshal() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return nil, fmt.Errorf("static: encode manifest: %w", err)
	}
	return append(b, '\n'), nil
}

// ParseManifest reads a manifest in Django's format (versions 1.0 and 1.1). Its BaseURL is
// "/static/".
func ParseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("static: manifest: %w", err)
	}
	if m.Version != "1.0" && m.Version != "1.1" {
		return nil, fmt.Errorf("static: manifest version %q is not supported (want 1.0 or 1.1)", m.Version)
	}
	if m.Paths == nil {
		m.Paths = map[string]string{}
	}
	m.BaseURL = "/static/"
	m.index()
	return &m, nil
}

// LoadManifest reads the manifest that Collect stored in s (name "" means ManifestName). The
// manifest's BaseURL is s's base URL (base_url), or "/static/" when s has none.
func LoadManifest(ctx context.Context, s *storage.Storage, name string) (*Manifest, error) {
	if name == "" {
		name = ManifestName
	}
	raw, err := s.Get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("static: load manifest: %w", err)
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return nil, err
	}
	if u, err := s.URL(name); err == nil {
		m.BaseURL = strings.TrimSuffix(u, escapePath(name))
	}
	return m, nil
}

// Lookup returns the hashed name of a logical name.
func (m *Manifest) Lookup(name string) (string, bool) {
	h, ok := m.Paths[strings.TrimPrefix(name, "/")]
	return h, ok
}

// IsHashed reports whether name is one of the manifest's hashed names, whose content never
// changes.
func (m *Manifest) IsHashed(name string) bool { return m.hashed[name] }

// URL returns the URL of a logical name's hashed file: BaseURL + hashed name, escaped. A name
// the manifest does not know is an error naming it.
func (m *Manifest) URL(name string) (string, error) {
	h, ok := m.Lookup(name)
	if !ok {
		return "", fmt.Errorf("static: %q is not in the manifest (run collectstatic, or check the name)", name)
	}
	return m.BaseURL + escapePath(h), nil
}

// escapePath escapes each component of a slash-separated name for a URL path.
func escapePath(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// FuncMap returns template functions for html/template and text/template: static, which
// resolves a logical name through the manifest (Django's {% static %}); an unknown name fails
// the template's execution with an error naming it.
//
//	tmpl := template.New("page").Funcs(manifest.FuncMap())
//	// <link rel="stylesheet" href="{{ static "css/app.css" }}">
func (m *Manifest) FuncMap() map[string]any {
	return map[string]any{"static": m.URL}
}
