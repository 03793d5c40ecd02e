package storage_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/storage"
	"github.com/stackkit/stackkit/kit/storage/storagetest"
)

// signedServer serves s's SignedURLHandler at its base URL's path.
func signedServer(t *testing.T, s *storage.Storage, mount string) *httptest.Server {
	t.Helper()
	h, err := s.SignedURLHandler()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(mount, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func doRequest(t *testing.T, method, u string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// A signed PUT without a signed content type takes the type from the name or the content, never
// from the request's Content-Type: an avatar.png sent as text/html is stored as image/png, and
// served with nosniff.
func TestSignedPutIgnoresRequestContentType(t *testing.T) {
	ctx := t.Context()
	s := storagetest.Open(t, "mem://?base_url=/media/", storage.WithSigningKey([]byte(storagetest.Secret)))
	srv := signedServer(t, s, "/media/")
	html := "<html><script>alert(document.cookie)</script></html>"
	for name, want := range map[string]string{
		"avatars/avatar.png": "image/png",
		"avatars/noext":      "text/html; charset=utf-8", // sniffed from the content: served as an attachment
	} {
		up, err := s.SignedURL(ctx, name, &storage.SignedURLOptions{Method: http.MethodPut, Expiry: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		resp, body := doRequest(t, http.MethodPut, srv.URL+up, strings.NewReader(html), map[string]string{"Content-Type": "text/html"})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT %s: %s %q", name, resp.Status, body)
		}
		a, err := s.Stat(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if a.ContentType != want {
			t.Errorf("%s stored with ContentType %q, want %q", name, a.ContentType, want)
		}
		get, err := s.SignedURL(ctx, name, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, _ = doRequest(t, http.MethodGet, srv.URL+get, nil, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: %s, X-Content-Type-Options %q, want 200 nosniff", name, resp.Status, resp.Header.Get("X-Content-Type-Options"))
		}
		disp := resp.Header.Get("Content-Disposition")
		if strings.HasPrefix(want, "text/html") != strings.HasPrefix(disp, "attachment") {
			t.Errorf("GET %s (%s): Content-Disposition %q", name, resp.Header.Get("Content-Type"), disp)
		}
	}
}

// ServeObject serves active content (HTML, SVG, XML, JavaScript) as an attachment unless the
// caller set a Content-Disposition, and sends nosniff always; error answers drop the headers
// the caller set for the content.
func TestServeObjectActiveContent(t *testing.T) {
	ctx := t.Context()
	s := storagetest.Open(t, "mem://")
	for name, ct := range map[string]string{
		"a.html": "text/html; charset=utf-8", "a.svg": "image/svg+xml", "a.xml": "application/xml",
		"a.xhtml": "application/xhtml+xml", "a.js": "text/javascript; charset=utf-8", "a.atom": "application/atom+xml",
		"a.png": "image/png", "a.txt": "text/plain; charset=utf-8", "a.css": "text/css; charset=utf-8",
	} {
		if err := s.Put(ctx, name, strings.NewReader("<svg></svg>"), &storage.WriterOptions{ContentType: ct}); err != nil {
			t.Fatal(err)
		}
	}
	inline := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if inline {
			w.Header().Set("Content-Disposition", "inline")
		}
		w.Header().Set("Content-Encoding", "br")
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		s.ServeObject(w, r, strings.TrimPrefix(r.URL.Path, "/"))
	}))
	defer srv.Close()
	for _, c := range []struct {
		name   string
		attach bool
	}{
		{"a.html", true}, {"a.svg", true}, {"a.xml", true}, {"a.xhtml", true}, {"a.js", true}, {"a.atom", true},
		{"a.png", false}, {"a.txt", false}, {"a.css", false},
	} {
		resp, _ := doRequest(t, http.MethodGet, srv.URL+"/"+c.name, nil, map[string]string{"Accept-Encoding": "identity"})
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", c.name)
		}
		if got := resp.Header.Get("Content-Disposition"); strings.HasPrefix(got, "attachment") != c.attach {
			t.Errorf("%s (%s): Content-Disposition %q, want attachment %v", c.name, resp.Header.Get("Content-Type"), got, c.attach)
		}
	}
	inline = true
	resp, _ := doRequest(t, http.MethodGet, srv.URL+"/a.html", nil, nil)
	if got := resp.Header.Get("Content-Disposition"); got != "inline" {
		t.Errorf("a.html with the caller's inline: Content-Disposition %q", got)
	}
	resp, body := doRequest(t, http.MethodGet, srv.URL+"/missing.js", nil, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("missing: %s", resp.Status)
	}
	for _, h := range []string{"Content-Encoding", "Cache-Control", "Content-Disposition"} {
		if v := resp.Header.Get(h); v != "" {
			t.Errorf("404 answer carries %s: %q (body %q)", h, v, body)
		}
	}
}

// A PUT URL signed with MaxSize refuses larger uploads with 413, announced or not, and keeps the
// old content.
func TestSignedPutMaxSize(t *testing.T) {
	ctx := t.Context()
	s := storagetest.Open(t, "mem://?base_url=/media/", storage.WithSigningKey([]byte(storagetest.Secret)))
	srv := signedServer(t, s, "/media/")
	if err := s.Put(ctx, "up/file.bin", strings.NewReader("OLD"), nil); err != nil {
		t.Fatal(err)
	}
	up, err := s.SignedURL(ctx, "up/file.bin", &storage.SignedURLOptions{Method: http.MethodPut, Expiry: time.Minute, MaxSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 1001)
	// Announced by Content-Length.
	resp, body := doRequest(t, http.MethodPut, srv.URL+up, bytes.NewReader(big), nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("PUT of 1001 bytes to a 1000-byte URL: %s %q, want 413", resp.Status, body)
	}
	// Chunked: found out while reading.
	resp, body = doRequest(t, http.MethodPut, srv.URL+up, io.MultiReader(bytes.NewReader(big)), nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked PUT of 1001 bytes to a 1000-byte URL: %s %q, want 413", resp.Status, body)
	}
	if got, err := s.Get(ctx, "up/file.bin"); err != nil || string(got) != "OLD" {
		t.Errorf("after refused uploads: %q, %v; want the old content", got, err)
	}
	// The limit is signed: raising it breaks the signature.
	resp, _ = doRequest(t, http.MethodPut, srv.URL+strings.Replace(up, "X-Kit-Max-Size=1000", "X-Kit-Max-Size=100000", 1), bytes.NewReader(big), nil)
	if !strings.Contains(up, "X-Kit-Max-Size=1000") || resp.StatusCode != http.StatusForbidden {
		t.Errorf("PUT with a raised limit: %s (URL %s), want 403", resp.Status, up)
	}
	resp, body = doRequest(t, http.MethodPut, srv.URL+up, io.MultiReader(bytes.NewReader(big[:1000])), nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("PUT of exactly MaxSize: %s %q", resp.Status, body)
	}
	if got, _ := s.Get(ctx, "up/file.bin"); len(got) != 1000 {
		t.Errorf("after a PUT of 1000 bytes: %d bytes stored", len(got))
	}
	for _, o := range []*storage.SignedURLOptions{{Method: http.MethodGet, MaxSize: 10}, {Method: http.MethodPut, MaxSize: -1}} {
		if _, err := s.SignedURL(ctx, "x", o); err == nil {
			t.Errorf("SignedURL(%+v) succeeded", o)
		}
	}
}

// Two Storages sharing a signing key: a URL signed by one is refused by the other.
func TestSignedURLBoundToStorage(t *testing.T) {
	ctx := t.Context()
	key := storage.WithSigningKey([]byte(storagetest.Secret))
	media := storagetest.Open(t, "mem://?base_url=/media/", key)
	private := storagetest.Open(t, "mem://?base_url=/private/", key)
	for _, s := range []*storage.Storage{media, private} {
		if err := s.Put(ctx, "x.txt", strings.NewReader("secret"), nil); err != nil {
			t.Fatal(err)
		}
	}
	hm, err := media.SignedURLHandler()
	if err != nil {
		t.Fatal(err)
	}
	hp, err := private.SignedURLHandler()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/media/", hm)
	mux.Handle("/private/", hp)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	signed, err := media.SignedURL(ctx, "x.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := doRequest(t, http.MethodGet, srv.URL+signed, nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", signed, resp.Status)
	}
	moved := strings.Replace(signed, "/media/", "/private/", 1)
	if resp, _ := doRequest(t, http.MethodGet, srv.URL+moved, nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET %s (signed for /media/): %s, want 403", moved, resp.Status)
	}
}
