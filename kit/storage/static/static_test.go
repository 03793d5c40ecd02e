package static_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/stackkit/stackkit/kit/storage"
	"github.com/stackkit/stackkit/kit/storage/static"
	"github.com/stackkit/stackkit/kit/storage/storagetest"
)

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s), Mode: 0o644} }

func hash12(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12]
}

func get(t *testing.T, s *storage.Storage, name string) string {
	t.Helper()
	b, err := s.Get(t.Context(), name)
	if err != nil {
		t.Fatalf("Get(%q): %v", name, err)
	}
	return string(b)
}

func list(t *testing.T, s *storage.Storage) []string {
	t.Helper()
	var out []string
	for o, err := range s.List(t.Context(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o.Name)
	}
	return out
}

func collect(t *testing.T, dst *storage.Storage, opts *static.Options, srcs ...fs.FS) *static.Report {
	t.Helper()
	rep, err := static.Collect(t.Context(), dst, srcs, opts)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	return rep
}

const appCSS = `@import "base.css";
@import url('base.css');
/* url(commented-out.png) is not a reference */
body { background: url(../img/logo.png) no-repeat; }
.a { background-image: url( "/static/img/bg.png?v=1#frag" ); }
.b { background: url(data:image/png;base64,iVBORw0KGgo=); }
.c { background: url(https://cdn.example.com/x.png); }
.d { background: url(//cdn.example.com/y.png); }
.e { background: url(/elsewhere/z.png); }
.f { behavior: url(#default#VML); }
@font-face { src: url('../fonts/f.woff2?#iefix') format("woff2"); }
/*# sourceMappingURL=app.css.map */
`

func sources() fstest.MapFS {
	return fstest.MapFS{
		"css/app.css":      file(appCSS),
		"css/base.css":     file("h1 { background: url(../img/bg.png); }\n"),
		"css/app.css.map":  file(`{"version":3}`),
		"img/logo.png":     file("\x89PNG logo"),
		"img/bg.png":       file("\x89PNG bg"),
		"fonts/f.woff2":    file("wOF2 font"),
		"js/app.js":        file("console.log(1);\n//# sourceMappingURL=app.js.map\n"),
		"js/app.js.map":    file(`{"version":3,"file":"app.js"}`),
		"LICENSE":          file("MIT"),
		".hidden":          file("ignored"),
		"backup~":          file("ignored"),
		"CVS/Entries":      file("ignored"),
		"img/.DS_Store":    file("ignored"),
		"css/sub/deep.css": file(`.x { background: url("../../img/logo.png"); }`),
	}
}

func TestCollectRewritesAndHashes(t *testing.T) {
	dst := storagetest.Open(t, "mem://")
	rep := collect(t, dst, nil, sources())
	m := rep.Manifest

	hashedOf := func(name string, content []byte) string {
		t.Helper()
		h := m.Paths[name]
		want := hash12(content)
		if !strings.Contains(h, "."+want) {
			t.Errorf("%s -> %s, want the hash %s of its stored content", name, h, want)
		}
		if got := get(t, dst, h); got != string(content) {
			t.Errorf("stored %s = %q, want %q", h, got, content)
		}
		return h
	}
	logo := hashedOf("img/logo.png", []byte("\x89PNG logo"))
	bg := hashedOf("img/bg.png", []byte("\x89PNG bg"))
	font := hashedOf("fonts/f.woff2", []byte("wOF2 font"))
	cssMap := hashedOf("css/app.css.map", []byte(`{"version":3}`))
	if !regexp.MustCompile(`^img/logo\.[0-9a-f]{12}\.png$`).MatchString(logo) || !regexp.MustCompile(`^LICENSE\.[0-9a-f]{12}$`).MatchString(m.Paths["LICENSE"]) {
		t.Errorf("hashed names: %v", m.Paths)
	}
	base := strings.Replace("h1 { background: url(../img/bg.png); }\n", "bg.png", strings.TrimPrefix(bg, "img/"), 1)
	baseHashed := hashedOf("css/base.css", []byte(base))
	baseBase := strings.TrimPrefix(baseHashed, "css/")
	wantApp := strings.NewReplacer(
		`@import "base.css"`, `@import "`+baseBase+`"`,
		`@import url('base.css')`, `@import url('`+baseBase+`')`,
		`url(../img/logo.png)`, `url(../img/`+strings.TrimPrefix(logo, "img/")+`)`,
		`"/static/img/bg.png?v=1#frag"`, `"/static/img/`+strings.TrimPrefix(bg, "img/")+`?v=1#frag"`,
		`'../fonts/f.woff2?#iefix'`, `'../fonts/`+strings.TrimPrefix(font, "fonts/")+`?#iefix'`,
		`sourceMappingURL=app.css.map`, `sourceMappingURL=`+strings.TrimPrefix(cssMap, "css/"),
	).Replace(appCSS)
	hashedOf("css/app.css", []byte(wantApp))
	jsMap := hashedOf("js/app.js.map", []byte(`{"version":3,"file":"app.js"}`))
	hashedOf("js/app.js", []byte("console.log(1);\n//# sourceMappingURL="+strings.TrimPrefix(jsMap, "js/")+"\n"))
	hashedOf("css/sub/deep.css", []byte(`.x { background: url("../../img/`+strings.TrimPrefix(logo, "img/")+`"); }`))

	// Originals are stored as they are.
	if got := get(t, dst, "css/app.css"); got != appCSS {
		t.Errorf("original app.css changed: %q", got)
	}
	// Ignored files are not collected.
	for _, n := range list(t, dst) {
		if strings.Contains(n, "hidden") || strings.Contains(n, "~") || strings.Contains(n, "CVS") || strings.Contains(n, "DS_Store") {
			t.Errorf("ignored file collected: %s", n)
		}
	}
	if len(m.Paths) != 10 || len(rep.Copied) != 10 || len(rep.PostProcessed) != 10 || len(rep.Unmodified) != 0 || !rep.ManifestWritten {
		t.Errorf("report: %d paths, %s", len(m.Paths), rep)
	}
	// The manifest is Django's format.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(get(t, dst, "staticfiles.json")), &raw); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"hash", "paths", "version"}) || string(raw["version"]) != `"1.1"` {
		t.Errorf("manifest keys %q, version %s", keys, raw["version"])
	}
	// Hashed copies carry the immutable cache control for CDNs serving the bucket directly.
	a, err := dst.Stat(t.Context(), logo)
	if err != nil || a.CacheControl != static.ImmutableCacheControl {
		t.Errorf("hashed copy attrs %+v, %v", a, err)
	}
}

func TestCollectDependencyChangesPropagate(t *testing.T) {
	dst := storagetest.Open(t, "mem://")
	src := sources()
	first := collect(t, dst, nil, src).Manifest
	src["img/bg.png"] = file("\x89PNG bg, new")
	rep := collect(t, dst, nil, src)
	second := rep.Manifest
	for _, name := range []string{"img/bg.png", "css/base.css", "css/app.css"} {
		if first.Paths[name] == second.Paths[name] {
			t.Errorf("%s kept its hash %s after a dependency changed", name, first.Paths[name])
		}
	}
	for _, name := range []string{"img/logo.png", "js/app.js", "css/sub/deep.css"} {
		if first.Paths[name] != second.Paths[name] {
			t.Errorf("%s changed hash though nothing it uses changed", name)
		}
	}
	if !slices.Equal(rep.Copied, []string{"css/app.css", "css/base.css", "img/bg.png"}) || len(rep.PostProcessed) != 3 || len(rep.Unmodified) != 7 {
		t.Errorf("second run: copied %q post-processed %q (%s)", rep.Copied, rep.PostProcessed, rep)
	}
}

func TestCollectIdempotent(t *testing.T) {
	dst := storagetest.Open(t, "mem://")
	collect(t, dst, nil, sources())
	before := map[string]string{}
	for _, n := range list(t, dst) {
		a, _ := dst.Stat(t.Context(), n)
		before[n] = a.ETag
	}
	rep := collect(t, dst, nil, sources())
	if len(rep.Copied) != 0 || len(rep.PostProcessed) != 0 || len(rep.Unmodified) != 10 || rep.ManifestWritten {
		t.Errorf("second identical run: %s, manifest written %v", rep, rep.ManifestWritten)
	}
	for _, n := range list(t, dst) {
		a, _ := dst.Stat(t.Context(), n)
		if before[n] != a.ETag {
			t.Errorf("%s was rewritten by an identical run", n)
		}
	}
	if got := rep.String(); got != "0 static files copied, 10 unmodified, 0 post-processed." {
		t.Errorf("String() = %q", got)
	}
}

func TestCollectErrors(t *testing.T) {
	dst := storagetest.Open(t, "mem://")
	cases := map[string]struct {
		fs   fstest.MapFS
		want string
	}{
		"cycle": {fstest.MapFS{
			"a.css": file(`@import "b.css";`),
			"b.css": file(`@import "c.css";`),
			"c.css": file(`.x{background:url(a.css)}`),
		}, "reference cycle a.css -> b.css -> c.css -> a.css"},
		"self": {fstest.MapFS{"a.css": file(`.x{background:url(a.css#x)}`)}, "reference cycle a.css -> a.css"},
		"missing": {fstest.MapFS{"css/a.css": file(`.x{background:url(../img/gone.png)}`)},
			`css/a.css references "img/gone.png" (as "../img/gone.png"), which is not among the static files`},
		"outside":      {fstest.MapFS{"a.css": file(`.x{background:url(../../etc/passwd)}`)}, `reference "../../etc/passwd" leads outside`},
		"manifest":     {fstest.MapFS{"staticfiles.json": file(`{}`)}, "manifest's name"},
		"invalid name": {fstest.MapFS{`back\slash.css`: file(`x`)}, "backslash"},
	}
	for what, c := range cases {
		_, err := static.Collect(t.Context(), dst, []fs.FS{c.fs}, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Collect = %v, want an error containing %q", what, err, c.want)
		}
	}
	if got := list(t, dst); len(got) != 0 {
		t.Errorf("failed collections stored %q", got)
	}
}

func TestCollectShadowingDryRunClearPrune(t *testing.T) {
	ctx := t.Context()
	dst := storagetest.Open(t, "mem://")
	app := fstest.MapFS{"css/site.css": file("app's"), "app-only.txt": file("a")}
	vendor := fstest.MapFS{"css/site.css": file("vendor's"), "vendor-only.txt": file("v")}

	rep := collect(t, dst, &static.Options{DryRun: true}, app, vendor)
	if got := list(t, dst); len(got) != 0 {
		t.Errorf("dry run stored %q", got)
	}
	if !rep.DryRun || len(rep.Copied) != 3 || !strings.Contains(rep.String(), "would be copied") {
		t.Errorf("dry run report: %s", rep)
	}
	if len(rep.Shadowed) != 1 || rep.Shadowed[0].Name != "css/site.css" || rep.Shadowed[0].Used != 0 || !slices.Equal(rep.Shadowed[0].Ignored, []int{1}) {
		t.Errorf("Shadowed = %+v", rep.Shadowed)
	}

	collect(t, dst, nil, app, vendor)
	if got := get(t, dst, "css/site.css"); got != "app's" {
		t.Errorf("css/site.css = %q, want the first source's", got)
	}
	// Clear removes everything first, like collectstatic --clear.
	if err := dst.Put(ctx, "stray.txt", strings.NewReader("x"), nil); err != nil {
		t.Fatal(err)
	}
	rep = collect(t, dst, &static.Options{Clear: true}, app, vendor)
	if !slices.Contains(rep.Deleted, "stray.txt") || len(rep.Copied) != 3 || len(rep.Unmodified) != 0 {
		t.Errorf("clear: %s deleted %q", rep, rep.Deleted)
	}
	if ok, _ := dst.Exists(ctx, "stray.txt"); ok {
		t.Error("Clear left stray.txt")
	}
	// Prune removes what the new collection does not have, old hashed copies included.
	old := rep.Manifest.Paths["app-only.txt"]
	app["app-only.txt"] = file("changed")
	if err := dst.Put(ctx, "stray.txt", strings.NewReader("x"), nil); err != nil {
		t.Fatal(err)
	}
	rep = collect(t, dst, &static.Options{Prune: true}, app, vendor)
	if !slices.Equal(rep.Deleted, []string{old, "stray.txt"}) {
		t.Errorf("prune deleted %q, want %q and stray.txt", rep.Deleted, old)
	}
	want := []string{"app-only.txt", rep.Manifest.Paths["app-only.txt"], "css/site.css", rep.Manifest.Paths["css/site.css"], "staticfiles.json", "vendor-only.txt", rep.Manifest.Paths["vendor-only.txt"]}
	slices.Sort(want)
	if got := list(t, dst); !slices.Equal(got, want) {
		t.Errorf("after prune: %q, want %q", got, want)
	}
}

func gz(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.String()
}

func TestCollectVariants(t *testing.T) {
	dst := storagetest.Open(t, "mem://")
	big := strings.Repeat("body { color: red; }\n", 200)
	src := fstest.MapFS{
		"js/lib.js":     file("var x = 1;"),
		"js/lib.js.br":  file("BROTLI"),
		"js/lib.js.gz":  file(gz("var x = 1;")),
		"css/a.css":     file(`.x{background:url(i.png)}` + big),
		"css/a.css.gz":  file(gz(`.x{background:url(i.png)}` + big)), // stale once rewritten
		"css/i.png":     file("PNG"),
		"css/plain.css": file(big),
	}
	rep := collect(t, dst, &static.Options{Gzip: true}, src)
	m := rep.Manifest
	lib, a, plain := m.Paths["js/lib.js"], m.Paths["css/a.css"], m.Paths["css/plain.css"]
	if _, ok := m.Paths["js/lib.js.br"]; ok {
		t.Error("a precompressed variant got its own manifest entry")
	}
	for name, want := range map[string]string{
		"js/lib.js.br": "BROTLI", lib + ".br": "BROTLI", lib + ".gz": gz("var x = 1;"),
		"css/a.css.gz": gz(`.x{background:url(i.png)}` + big),
	} {
		if got := get(t, dst, name); got != want {
			t.Errorf("%s = %q", name, got)
		}
	}
	// The rewritten file's stale source variant is not stored beside the hashed copy; Gzip
	// makes a fresh one from the rewritten content.
	zr, err := gzip.NewReader(strings.NewReader(get(t, dst, a+".gz")))
	if err != nil {
		t.Fatal(err)
	}
	unz, _ := io.ReadAll(zr)
	if string(unz) != get(t, dst, a) {
		t.Errorf("gzip variant of %s does not hold its content", a)
	}
	if ok, _ := dst.Exists(t.Context(), plain+".gz"); !ok {
		t.Errorf("Gzip made no variant for %s", plain)
	}
	if ok, _ := dst.Exists(t.Context(), m.Paths["css/i.png"]+".gz"); ok {
		t.Error("Gzip compressed a PNG")
	}
	again := collect(t, dst, &static.Options{Gzip: true}, src)
	if len(again.Copied) != 0 || len(again.PostProcessed) != 0 {
		t.Errorf("second run with variants: copied %q post-processed %q", again.Copied, again.PostProcessed)
	}
}

func TestManifest(t *testing.T) {
	dst := storagetest.Open(t, "mem://?base_url=https://cdn.example.com/static/")
	collect(t, dst, nil, fstest.MapFS{"css/app.css": file("body{}"), "img/a b.png": file("PNG")})
	m, err := static.LoadManifest(t.Context(), dst, "")
	if err != nil {
		t.Fatal(err)
	}
	u, err := m.URL("css/app.css")
	if err != nil || u != "https://cdn.example.com/static/"+m.Paths["css/app.css"] {
		t.Errorf("URL = %q, %v", u, err)
	}
	if u, _ := m.URL("img/a b.png"); !strings.HasPrefix(u, "https://cdn.example.com/static/img/a%20b.") {
		t.Errorf("URL with a space = %q", u)
	}
	if _, err := m.URL("css/missing.css"); err == nil || !strings.Contains(err.Error(), `"css/missing.css" is not in the manifest`) {
		t.Errorf("URL(unknown) = %v", err)
	}
	tmpl := template.Must(template.New("t").Funcs(m.FuncMap()).Parse(`<link href="{{ static "css/app.css" }}">`))
	var out strings.Builder
	if err := tmpl.Execute(&out, nil); err != nil || out.String() != `<link href="https://cdn.example.com/static/`+m.Paths["css/app.css"]+`">` {
		t.Errorf("template: %q, %v", out.String(), err)
	}
	bad := template.Must(template.New("t").Funcs(m.FuncMap()).Parse(`{{ static "nope.css" }}`))
	if err := bad.Execute(io.Discard, nil); err == nil || !strings.Contains(err.Error(), "nope.css") {
		t.Errorf("template with an unknown name: %v", err)
	}
	// A manifest written by Django reads the same.
	dj, err := static.ParseManifest([]byte(`{"paths": {"admin/css/base.css": "admin/css/base.1f2e3d4c5b6a.css"}, "version": "1.1", "hash": "0123456789ab"}`))
	if err != nil {
		t.Fatal(err)
	}
	if u, err := dj.URL("admin/css/base.css"); err != nil || u != "/static/admin/css/base.1f2e3d4c5b6a.css" {
		t.Errorf("Django manifest URL = %q, %v", u, err)
	}
	if _, err := static.ParseManifest([]byte(`{"paths": {}, "version": "9"}`)); err == nil {
		t.Error("ParseManifest accepted version 9")
	}
}

func TestHandler(t *testing.T) {
	ctx := context.Background()
	dst := storagetest.Open(t, "mem://")
	src := fstest.MapFS{
		"js/lib.js":    file("var x = 1;"),
		"js/lib.js.br": file("BROTLI"),
		"js/lib.js.gz": file("GZIP"),
		"css/a.css":    file("body{}"),
	}
	collect(t, dst, nil, src)
	m, err := static.LoadManifest(ctx, dst, "")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/static/", http.StripPrefix("/static/", static.Handler(dst, m, nil)))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	do := func(method, p string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+p, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	lib := "/static/" + m.Paths["js/lib.js"]
	resp, body := do("GET", lib)
	if resp.StatusCode != 200 || body != "var x = 1;" || resp.Header.Get("Cache-Control") != static.ImmutableCacheControl ||
		resp.Header.Get("Vary") != "Accept-Encoding" || resp.Header.Get("ETag") == "" || resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("GET hashed: %s %q %v", resp.Status, body, resp.Header)
	}
	etag := resp.Header.Get("ETag")
	if resp, _ := do("GET", lib, "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET: %s", resp.Status)
	}
	resp, body = do("GET", lib, "Accept-Encoding", "gzip, deflate, br")
	if body != "BROTLI" || resp.Header.Get("Content-Encoding") != "br" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") || resp.Header.Get("ETag") == etag {
		t.Errorf("GET br: %q %v", body, resp.Header)
	}
	resp, body = do("GET", lib, "Accept-Encoding", "gzip, br;q=0")
	if body != "GZIP" || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("GET gzip: %q %v", body, resp.Header)
	}
	resp, body = do("GET", "/static/js/lib.js", "Accept-Encoding", "identity")
	if body != "var x = 1;" || resp.Header.Get("Cache-Control") != "public, max-age=60" {
		t.Errorf("GET unhashed: %q %v", body, resp.Header)
	}
	if resp, body := do("GET", lib, "Range", "bytes=4-4"); resp.StatusCode != http.StatusPartialContent || body != "x" {
		t.Errorf("range: %s %q", resp.Status, body)
	}
	if resp, body := do("HEAD", lib); resp.StatusCode != 200 || body != "" || resp.Header.Get("Content-Length") != "10" {
		t.Errorf("HEAD: %s %q %v", resp.Status, body, resp.Header)
	}
	for p, want := range map[string]int{
		"/static/missing.css":   404,
		"/static/../etc/passwd": 404,
		"/static/a//b":          404,
	} {
		if resp, _ := do("GET", p); resp.StatusCode != want {
			t.Errorf("GET %s: %s, want %d", p, resp.Status, want)
		}
	}
	if resp, _ := do("POST", lib); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %s", resp.Status)
	}
	// Static files are the app's own: active content is served inline, with nosniff.
	if resp, _ := do("GET", lib); resp.Header.Get("Content-Disposition") == "attachment" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET hashed JS: %v", resp.Header)
	}

	// A variant deleted after its existence was remembered: the next one, then the identity file.
	hashed := strings.TrimPrefix(lib, "/static/")
	if err := dst.Delete(ctx, hashed+".br"); err != nil {
		t.Fatal(err)
	}
	resp, body = do("GET", lib, "Accept-Encoding", "gzip, br")
	if resp.StatusCode != 200 || body != "GZIP" || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("GET with the br variant deleted: %s %q %v", resp.Status, body, resp.Header)
	}
	if err := dst.Delete(ctx, hashed+".gz"); err != nil {
		t.Fatal(err)
	}
	resp, body = do("GET", lib, "Accept-Encoding", "gzip, br")
	if resp.StatusCode != 200 || body != "var x = 1;" || resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Cache-Control") != static.ImmutableCacheControl {
		t.Errorf("GET with both variants deleted: %s %q %v", resp.Status, body, resp.Header)
	}
	// A hashed file gone altogether: a 404 with neither Content-Encoding nor the immutable
	// Cache-Control (a cache would keep the 404 for a year).
	css := "/static/" + m.Paths["css/a.css"]
	if err := dst.Delete(ctx, m.Paths["css/a.css"]); err != nil {
		t.Fatal(err)
	}
	resp, _ = do("GET", css, "Accept-Encoding", "gzip, br")
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Cache-Control") != "" {
		t.Errorf("GET of a deleted hashed file: %s %v", resp.Status, resp.Header)
	}
}

// statCounter counts the driver's Stat calls by name.
type statCounter struct {
	storage.Driver
	mu    sync.Mutex
	stats map[string]int
}

func (d *statCounter) Stat(ctx context.Context, name string) (*storage.Attrs, error) {
	d.mu.Lock()
	d.stats[name]++
	d.mu.Unlock()
	return d.Driver.Stat(ctx, name)
}

// TestHandlerLooksUpVariantsOnce: the handler looks the variant it serves up once, whether the
// answer is remembered (hashed names) or found now, and serves it with those attributes.
func TestHandlerLooksUpVariantsOnce(t *testing.T) {
	counter := &statCounter{Driver: storage.NewMemDriver(), stats: map[string]int{}}
	dst, err := storage.New(counter)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	collect(t, dst, nil, fstest.MapFS{"js/lib.js": file("var x = 1;"), "js/lib.js.br": file("BROTLI")})
	m, err := static.LoadManifest(context.Background(), dst, "")
	if err != nil {
		t.Fatal(err)
	}
	h := static.Handler(dst, m, nil)
	for _, name := range []string{"js/lib.js", m.Paths["js/lib.js"], m.Paths["js/lib.js"]} {
		clear(counter.stats)
		req := httptest.NewRequest("GET", "/"+name, nil)
		req.Header.Set("Accept-Encoding", "br")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Body.String() != "BROTLI" {
			t.Fatalf("GET %s: %d %q", name, rec.Code, rec.Body.String())
		}
		if n := counter.stats[name+".br"]; n != 1 {
			t.Errorf("GET %s: the .br variant was looked up %d times", name, n)
		}
	}
}
