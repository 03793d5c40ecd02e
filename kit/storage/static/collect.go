package static

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/stackkit/stackkit/kit/storage"
)

// ManifestName is the default name of the manifest, as in Django.
const ManifestName = "staticfiles.json"

// ImmutableCacheControl is stored on, and served for, hashed files: their content never changes.
const ImmutableCacheControl = "public, max-age=31536000, immutable"

// DefaultIgnore are the patterns Django's collectstatic ignores by default.
var DefaultIgnore = []string{".*", "*~", "CVS"}

// Options configure [Collect]. The zero value is Django's default run.
type Options struct {
	// StaticURL is where the static files are served ("/static/", Django's STATIC_URL): CSS
	// references to absolute paths under it are rewritten, others are left alone.
	StaticURL string
	// Ignore holds glob patterns (path.Match) matched against every path component's name; a
	// match skips the file or directory. Nil means DefaultIgnore; use an empty slice for none.
	Ignore []string
	// ManifestName is the manifest's name (default "staticfiles.json").
	ManifestName string
	// DryRun works out and reports everything but writes and deletes nothing.
	DryRun bool
	// Clear deletes every object in the destination before copying, as collectstatic --clear
	// does: the destination must hold only static files.
	Clear bool
	// Prune deletes, after the new manifest is written, the objects that are not part of this
	// collection (old hashed files included), so a destination holding only static files
	// does not grow with every deploy. Leave it off while old deployments still serve their
	// hashed names.
	Prune bool
	// Gzip stores a gzip variant (name.gz) beside every compressible file (CSS, JS, SVG, JSON,
	// text, HTML, XML, source maps) that does not come with one and shrinks by at least 5%,
	// for [Handler] to serve.
	Gzip bool
	// Concurrency is the number of uploads at a time (default 4).
	Concurrency int
}

// Report says what Collect did (or, in a dry run, would do).
type Report struct {
	// Copied are the original files written under their own names (precompressed variants
	// included), Unmodified the files whose original and hashed copies were already there.
	Copied, Unmodified []string
	// PostProcessed are the hashed copies written ("app.3f2a9c1b7e4d.css").
	PostProcessed []string
	// Deleted are the objects removed by Clear or Prune.
	Deleted []string
	// Shadowed are files present in more than one source: the first source wins, as with
	// Django's finders.
	Shadowed []Shadowed
	// Manifest is the new manifest; ManifestWritten says whether it changed and was stored.
	Manifest        *Manifest
	ManifestWritten bool
	DryRun          bool
}

// Shadowed is a logical name found in several sources; Used and Ignored index the sources.
type Shadowed struct {
	Name    string
	Used    int
	Ignored []int
}

// String summarises the report as Django's collectstatic does.
func (r *Report) String() string {
	verb := "copied"
	if r.DryRun {
		verb = "would be copied"
	}
	s := fmt.Sprintf("%d static files %s, %d unmodified, %d post-processed", len(r.Copied), verb, len(r.Unmodified), len(r.PostProcessed))
	if len(r.Deleted) > 0 {
		s += fmt.Sprintf(", %d deleted", len(r.Deleted))
	}
	if len(r.Shadowed) > 0 {
		s += fmt.Sprintf(", %d shadowed", len(r.Shadowed))
	}
	return s + "."
}

// asset is one collected file.
type asset struct {
	name    string // logical name
	src     int
	fsys    fs.FS
	size    int64
	content []byte // for processable files, and small ones
	sum     string // sha256 hex of the original content
	hashed  string // hashed name
	out     []byte // the hashed file's content when it differs from the original
	deps    []string
	refs    []reference
	variant map[string]*asset // ".gz", ".br": precompressed originals from the sources
}

// Collect copies the static files of srcs into dst under their logical names (their paths in
// each source), and beside each a copy with a content hash in its name ("css/app.css" ->
// "css/app.3f2a9c1b7e4d.css", 12 hex digits of SHA-256), like Django's collectstatic with
// ManifestStaticFilesStorage. References in CSS (url(), @import, sourceMappingURL) and JS
// (sourceMappingURL) are rewritten to the hashed names — relative ones and absolute ones under
// StaticURL, keeping queries and fragments, leaving data:, http(s): and //host alone — hashing
// dependencies before the files that reference them; a reference to a missing file, or a cycle
// of references (whose hashes could never settle), is an error naming the files. Precompressed
// variants in the sources ("app.css.gz", "app.css.br") are stored beside the original and,
// unless its content was rewritten, beside the hashed copy.
//
// The manifest (Django's format, see [Manifest]) is written last, so it never names a file not
// yet stored. Collect is idempotent: files whose hashed name the previous manifest already
// mapped them to, with both copies present at the right size, are not uploaded again.
func Collect(ctx context.Context, dst *storage.Storage, srcs []fs.FS, opts *Options) (*Report, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.StaticURL == "" {
		o.StaticURL = "/static/"
	}
	if o.Ignore == nil {
		o.Ignore = DefaultIgnore
	}
	if o.ManifestName == "" {
		o.ManifestName = ManifestName
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if err := dst.ValidateName(o.ManifestName); err != nil {
		return nil, fmt.Errorf("static: manifest name: %w", err)
	}
	rep := &Report{DryRun: o.DryRun}
	assets, err := find(dst, srcs, &o, rep)
	if err != nil {
		return nil, err
	}
	if err := hashAll(ctx, assets, &o); err != nil {
		return nil, err
	}
	m := newManifest(assets)
	rep.Manifest = m

	existing, prev, err := inventory(ctx, dst, &o)
	if err != nil {
		return nil, err
	}
	if o.Clear {
		for _, name := range slices.Sorted(mapKeys(existing)) {
			if !o.DryRun {
				if err := dst.Delete(ctx, name); err != nil {
					return rep, fmt.Errorf("static: clear: %w", err)
				}
			}
			rep.Deleted = append(rep.Deleted, name)
		}
		existing, prev = map[string]int64{}, nil
	}

	plan, keep := planUploads(assets, existing, prev, &o, rep)
	if !o.DryRun {
		if err := runUploads(ctx, dst, plan, o.Concurrency); err != nil {
			return rep, err
		}
	}
	raw, err := m.marshal()
	if err != nil {
		return rep, err
	}
	keep[o.ManifestName] = true
	if prev == nil || !bytes.Equal(prev.raw, raw) || existing[o.ManifestName] != int64(len(raw)) {
		rep.ManifestWritten = true
		if !o.DryRun {
			if err := dst.Put(ctx, o.ManifestName, bytes.NewReader(raw), &storage.WriterOptions{ContentType: "application/json", CacheControl: "no-cache"}); err != nil {
				return rep, fmt.Errorf("static: write manifest: %w", err)
			}
		}
	}
	if o.Prune {
		for _, name := range slices.Sorted(mapKeys(existing)) {
			if keep[name] {
				continue
			}
			if !o.DryRun {
				if err := dst.Delete(ctx, name); err != nil {
					return rep, fmt.Errorf("static: prune: %w", err)
				}
			}
			rep.Deleted = append(rep.Deleted, name)
		}
	}
	return rep, nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// find walks the sources, the first source winning for a name.
func find(dst *storage.Storage, srcs []fs.FS, o *Options, rep *Report) (map[string]*asset, error) {
	assets := map[string]*asset{}
	shadowed := map[string]*Shadowed{}
	for i, fsys := range srcs {
		err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p == "." {
				return nil
			}
			if ignored(d.Name(), o.Ignore) {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			if !d.Type().IsRegular() {
				fi, err := fs.Stat(fsys, p) // a symlink: follow it within the FS
				if err != nil || !fi.Mode().IsRegular() {
					return nil
				}
			}
			if err := dst.ValidateName(p); err != nil {
				return fmt.Errorf("static: source %d: %w", i, err)
			}
			if p == o.ManifestName {
				return fmt.Errorf("static: source %d has a file named %q, which is the manifest's name", i, p)
			}
			if a, ok := assets[p]; ok {
				sh := shadowed[p]
				if sh == nil {
					sh = &Shadowed{Name: p, Used: a.src}
					shadowed[p] = sh
				}
				sh.Ignored = append(sh.Ignored, i)
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			assets[p] = &asset{name: p, src: i, fsys: fsys, size: fi.Size()}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("static: source %d: %w", i, err)
		}
	}
	for _, name := range slices.Sorted(mapKeys(shadowed)) {
		rep.Shadowed = append(rep.Shadowed, *shadowed[name])
	}
	// Precompressed variants travel with the file they compress.
	for name, a := range assets {
		for _, enc := range []string{".gz", ".br"} {
			if base, ok := strings.CutSuffix(name, enc); ok {
				if orig, ok := assets[base]; ok {
					if orig.variant == nil {
						orig.variant = map[string]*asset{}
					}
					orig.variant[enc] = a
					delete(assets, name)
				}
			}
		}
	}
	return assets, nil
}

func ignored(name string, patterns []string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// read loads a's content.
func (a *asset) read() ([]byte, error) {
	b, err := fs.ReadFile(a.fsys, a.name)
	if err != nil {
		return nil, fmt.Errorf("static: read %s: %w", a.name, err)
	}
	return b, nil
}

// hashAll computes every hashed name, dependencies first.
func hashAll(ctx context.Context, assets map[string]*asset, o *Options) error {
	for _, name := range slices.Sorted(mapKeys(assets)) {
		a := assets[name]
		if err := ctx.Err(); err != nil {
			return err
		}
		if processable(name) {
			b, err := a.read()
			if err != nil {
				return err
			}
			a.content = b
			sum := sha256.Sum256(b)
			a.sum = hex.EncodeToString(sum[:])
			for _, ref := range findReferences(name, b) {
				target, _, err := resolve(name, ref.url, o.StaticURL)
				if err != nil {
					return fmt.Errorf("static: %w", err)
				}
				if target == "" {
					continue
				}
				if _, ok := assets[target]; !ok {
					return fmt.Errorf("static: %s references %q (as %q), which is not among the static files", name, target, ref.url)
				}
				a.refs = append(a.refs, ref)
				if !slices.Contains(a.deps, target) {
					a.deps = append(a.deps, target)
				}
			}
			continue
		}
		f, err := a.fsys.Open(name)
		if err != nil {
			return fmt.Errorf("static: read %s: %w", name, err)
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		_ = f.Close()
		if err != nil {
			return fmt.Errorf("static: read %s: %w", name, err)
		}
		a.sum = hex.EncodeToString(h.Sum(nil))
		a.hashed = hashedName(name, a.sum)
	}
	// Depth-first, dependencies before dependents; a file met again while still on the stack
	// closes a cycle.
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(name string) error
	visit = func(name string) error {
		a := assets[name]
		switch state[name] {
		case done:
			return nil
		case visiting:
			i := slices.Index(stack, name)
			return fmt.Errorf("static: reference cycle %s: hashed names depend on each other's hashes and can never settle", strings.Join(append(slices.Clone(stack[i:]), name), " -> "))
		}
		state[name] = visiting
		stack = append(stack, name)
		for _, dep := range a.deps {
			if err := visit(dep); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
		if a.hashed != "" {
			return nil
		}
		out := a.content
		if len(a.refs) > 0 {
			var buf bytes.Buffer
			last := 0
			for _, ref := range a.refs {
				target, _, _ := resolve(name, ref.url, o.StaticURL)
				buf.Write(a.content[last:ref.start])
				buf.WriteString(rewriteURL(ref.url, path.Base(assets[target].hashed)))
				last = ref.end
			}
			buf.Write(a.content[last:])
			out = buf.Bytes()
		}
		sum := sha256.Sum256(out)
		a.hashed = hashedName(name, hex.EncodeToString(sum[:]))
		if !bytes.Equal(out, a.content) {
			a.out = out
		}
		return nil
	}
	for _, name := range slices.Sorted(mapKeys(assets)) {
		if err := visit(name); err != nil {
			return err
		}
	}
	return nil
}

// hashedName puts the first 12 hex digits of sum before name's extension.
func hashedName(name, sum string) string {
	dir, file := path.Split(name)
	ext := path.Ext(file)
	if ext == file { // ".htaccess"
		ext = ""
	}
	return dir + strings.TrimSuffix(file, ext) + "." + sum[:12] + ext
}

// inventory lists what dst holds (name -> size) and reads the previous manifest.
func inventory(ctx context.Context, dst *storage.Storage, o *Options) (map[string]int64, *Manifest, error) {
	existing := map[string]int64{}
	for obj, err := range dst.List(ctx, nil) {
		if err != nil {
			return nil, nil, fmt.Errorf("static: list destination: %w", err)
		}
		existing[obj.Name] = obj.Size
	}
	if _, ok := existing[o.ManifestName]; !ok {
		return existing, nil, nil
	}
	raw, err := dst.Get(ctx, o.ManifestName)
	if err != nil {
		return nil, nil, fmt.Errorf("static: read previous manifest: %w", err)
	}
	prev, err := ParseManifest(raw)
	if err != nil {
		// A damaged manifest only costs re-uploading; the new one replaces it.
		return existing, nil, nil
	}
	prev.raw = raw
	return existing, prev, nil
}

// upload is one object to write.
type upload struct {
	name         string
	content      []byte // or, when nil, read from the source:
	src          *asset // the source file
	cacheControl string // stored cache control
}

func planUploads(assets map[string]*asset, existing map[string]int64, prev *Manifest, o *Options, rep *Report) ([]upload, map[string]bool) {
	var plan []upload
	keep := map[string]bool{}
	has := func(name string, size int64) bool {
		n, ok := existing[name]
		return ok && n == size
	}
	for _, name := range slices.Sorted(mapKeys(assets)) {
		a := assets[name]
		hashedSize := a.size
		if a.out != nil {
			hashedSize = int64(len(a.out))
		}
		keep[name], keep[a.hashed] = true, true
		origFresh := prev != nil && prev.Paths[name] == a.hashed && has(name, a.size)
		hashedFresh := has(a.hashed, hashedSize)
		if !origFresh {
			plan = append(plan, upload{name: name, content: a.content, src: a})
			rep.Copied = append(rep.Copied, name)
		}
		if !hashedFresh {
			u := upload{name: a.hashed, content: a.content, src: a, cacheControl: ImmutableCacheControl}
			if a.out != nil {
				u.content, u.src = a.out, nil
			}
			plan = append(plan, u)
			rep.PostProcessed = append(rep.PostProcessed, a.hashed)
		}
		if origFresh && hashedFresh {
			rep.Unmodified = append(rep.Unmodified, name)
		}
		// Variants: the sources' own, else (with Gzip) made here.
		for _, enc := range []string{".br", ".gz"} {
			v := a.variant[enc]
			if v == nil {
				continue
			}
			keep[name+enc] = true
			if !origFresh || !has(name+enc, v.size) {
				plan = append(plan, upload{name: name + enc, src: v})
				rep.Copied = append(rep.Copied, name+enc)
			}
			if a.out == nil { // the hashed copy has the original's content: same variant
				keep[a.hashed+enc] = true
				if !has(a.hashed+enc, v.size) {
					plan = append(plan, upload{name: a.hashed + enc, src: v, cacheControl: ImmutableCacheControl})
					rep.PostProcessed = append(rep.PostProcessed, a.hashed+enc)
				}
			}
		}
		if o.Gzip && compressible(name) {
			plan, keep = gzipVariants(a, plan, keep, existing, origFresh, rep)
		}
	}
	return plan, keep
}

// gzipVariants plans the gzip variants Collect makes itself, for the original and the hashed
// copy, where the sources did not bring one that fits.
func gzipVariants(a *asset, plan []upload, keep map[string]bool, existing map[string]int64, origFresh bool, rep *Report) ([]upload, map[string]bool) {
	targets := []struct {
		name    string
		content func() ([]byte, error)
		hashed  bool
	}{}
	if a.variant[".gz"] == nil {
		targets = append(targets, struct {
			name    string
			content func() ([]byte, error)
			hashed  bool
		}{a.name + ".gz", a.original, false})
	}
	if a.variant[".gz"] == nil || a.out != nil {
		targets = append(targets, struct {
			name    string
			content func() ([]byte, error)
			hashed  bool
		}{a.hashed + ".gz", a.hashedContent, true})
	}
	for _, t := range targets {
		if _, ok := existing[t.name]; ok && (t.hashed || origFresh) {
			keep[t.name] = true
			continue // hashed: content-addressed; original: unchanged since the last run
		}
		content, err := t.content()
		if err != nil {
			continue // reported by the upload of the file itself
		}
		gz := gzipBytes(content)
		if len(gz) > len(content)*95/100 {
			continue
		}
		keep[t.name] = true
		u := upload{name: t.name, content: gz}
		if t.hashed {
			u.cacheControl = ImmutableCacheControl
			rep.PostProcessed = append(rep.PostProcessed, t.name)
		} else {
			rep.Copied = append(rep.Copied, t.name)
		}
		plan = append(plan, u)
	}
	return plan, keep
}

func (a *asset) original() ([]byte, error) {
	if a.content != nil {
		return a.content, nil
	}
	return a.read()
}

func (a *asset) hashedContent() ([]byte, error) {
	if a.out != nil {
		return a.out, nil
	}
	return a.original()
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func compressible(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".css", ".js", ".mjs", ".svg", ".json", ".txt", ".html", ".htm", ".xml", ".map", ".csv", ".ico", ".wasm":
		return true
	}
	return false
}

// runUploads writes the plan, a few objects at a time; the first error stops it.
func runUploads(ctx context.Context, dst *storage.Storage, plan []upload, concurrency int) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for _, u := range plan {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := put(ctx, dst, u); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

func put(ctx context.Context, dst *storage.Storage, u upload) error {
	opts := &storage.WriterOptions{CacheControl: u.cacheControl}
	var err error
	if u.content != nil || u.src == nil {
		err = dst.Put(ctx, u.name, bytes.NewReader(u.content), opts)
	} else {
		var f fs.File
		if f, err = u.src.fsys.Open(u.src.name); err == nil {
			err = dst.Put(ctx, u.name, f, opts)
			_ = f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("static: store %s: %w", u.name, err)
	}
	return nil
}
