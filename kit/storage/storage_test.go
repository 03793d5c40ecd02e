package storage_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/storage"
	"github.com/stackkit/stackkit/kit/storage/storagetest"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestValidateName(t *testing.T) {
	valid := []string{"a", "a/b/c.txt", "a..b", ".hidden", "a/.b", "with space", "ü", strings.Repeat("x", 255)}
	for _, n := range valid {
		if err := storage.ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q) = %v", n, err)
		}
	}
	invalid := map[string]string{
		"":                        `invalid name "": empty name`,
		".":                       `invalid name ".": "." path component`,
		"a/..":                    `invalid name "a/..": ".." path component`,
		"/etc/passwd":             `invalid name "/etc/passwd": absolute path`,
		"a\\b":                    `invalid name "a\\b": backslash at byte 1`,
		"a\x00b":                  `invalid name "a\x00b": NUL byte at byte 1`,
		"a\x1bb":                  `control character U+001B at byte 1`,
		"a\xc3":                   `not valid UTF-8`,
		"x/":                      `ends with a slash`,
		strings.Repeat("x", 256):  `a path component is 256 bytes long; the limit is 255`,
		strings.Repeat("x/", 600): `1200 bytes long; the limit is 1024`,
	}
	for n, want := range invalid {
		err := storage.ValidateName(n)
		if !errors.Is(err, storage.ErrInvalidName) || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalidName containing %q", n, err, want)
		}
	}
}

func TestSignedURLNeedsKeyAndBase(t *testing.T) {
	ctx := t.Context()
	s := storagetest.Open(t, "mem://")
	if err := s.Put(ctx, "a.txt", strings.NewReader("a"), nil); err != nil {
		t.Fatal(err)
	}
	_, err := s.SignedURL(ctx, "a.txt", nil)
	if !errors.Is(err, storage.ErrNotSupported) || !strings.Contains(err.Error(), "secret URL option or WithSigningKey") {
		t.Errorf("SignedURL without a key = %v", err)
	}
	if _, err := s.SignedURLHandler(); !errors.Is(err, storage.ErrNotSupported) {
		t.Errorf("SignedURLHandler without a key = %v", err)
	}
	if _, err := s.URL("a.txt"); !errors.Is(err, storage.ErrNotSupported) || !strings.Contains(err.Error(), "base_url") {
		t.Errorf("URL without a base URL = %v", err)
	}
	s = storagetest.Open(t, "mem://", storage.WithSigningKey([]byte(storagetest.Secret)))
	if _, err := s.SignedURL(ctx, "a.txt", nil); !errors.Is(err, storage.ErrNotSupported) || !strings.Contains(err.Error(), "base_url") {
		t.Errorf("SignedURL without a base URL = %v", err)
	}
	s = storagetest.Open(t, "mem://?base_url=https://cdn.example.com/media")
	if u, err := s.URL("dir/a b#?.txt"); err != nil || u != "https://cdn.example.com/media/dir/a%20b%23%3F.txt" {
		t.Errorf("URL = %q, %v", u, err)
	}
	s = storagetest.Open(t, "mem://?base_url=/media/")
	if u, err := s.URL("ü.txt"); err != nil || u != "/media/%C3%BC.txt" {
		t.Errorf("URL = %q, %v", u, err)
	}
}

func TestSignedURLHandler(t *testing.T) {
	ctx := t.Context()
	s := storagetest.Open(t, "mem://?base_url=/media/", storage.WithSigningKey([]byte(storagetest.Secret)))
	opts := &storage.WriterOptions{CacheControl: "private, max-age=60"}
	if err := s.Put(ctx, "docs/report.txt", strings.NewReader("0123456789"), opts); err != nil {
		t.Fatal(err)
	}
	h, err := s.SignedURLHandler()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/media/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	signed, err := s.SignedURL(ctx, "docs/report.txt", &storage.SignedURLOptions{Expiry: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(signed, "/media/docs/report.txt?") || !strings.Contains(signed, "X-Kit-Signature=") {
		t.Fatalf("signed URL = %q", signed)
	}
	resp, err := http.Head(srv.URL + signed)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Length") != "10" || resp.Header.Get("Cache-Control") != "private, max-age=60" ||
		resp.Header.Get("Accept-Ranges") != "bytes" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("HEAD: %s %v", resp.Status, resp.Header)
	}
	// Multiple ranges come back as multipart/byteranges.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+signed, nil)
	req.Header.Set("Range", "bytes=0-1,8-")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !strings.Contains(string(body), "01") || !strings.Contains(string(body), "89") {
		t.Errorf("multi-range GET: %s %q", resp.Status, body)
	}
	// Unsigned and outside the mount.
	for _, p := range []string{"/media/docs/report.txt", "/other/docs/report.txt"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s", p, resp.Status)
		}
	}
	// A signed URL for a missing object is a 404.
	missing, _ := s.SignedURL(ctx, "docs/missing.txt", nil)
	resp, err = http.Get(srv.URL + missing)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET missing: %s", resp.Status)
	}
}

func TestSave(t *testing.T) {
	ctx := t.Context()
	s := storagetest.Open(t, "mem://")
	names := map[string]bool{}
	for range 20 {
		n, err := s.Save(ctx, "x.tar.gz", strings.NewReader("x"), nil)
		if err != nil {
			t.Fatal(err)
		}
		names[n] = true
	}
	if len(names) != 20 {
		t.Errorf("20 Saves gave %d names", len(names))
	}
	// AvailableName does not write.
	n, err := s.AvailableName(ctx, "x.tar.gz")
	if err != nil || n == "x.tar.gz" || !strings.HasSuffix(n, ".tar.gz") {
		t.Errorf("AvailableName = %q, %v", n, err)
	}
	if ok, _ := s.Exists(ctx, n); ok {
		t.Errorf("AvailableName created %q", n)
	}
	if n, err := s.AvailableName(ctx, "free.txt"); err != nil || n != "free.txt" {
		t.Errorf("AvailableName(free) = %q, %v", n, err)
	}
	// A non-seekable reader that loses the race cannot be written again: ErrExist, clearly.
	if err := s.Put(ctx, "taken.txt", strings.NewReader("t"), nil); err != nil {
		t.Fatal(err)
	}
	r := &racingReader{s: s, name: "race.txt", data: "mine"}
	_, err = s.Save(ctx, "race.txt", r, nil)
	if !errors.Is(err, storage.ErrExist) || !strings.Contains(err.Error(), "io.Seeker") {
		t.Errorf("Save losing a race with a plain reader = %v", err)
	}
}

// racingReader stores its name behind Save's back while being read, as a concurrent writer would.
type racingReader struct {
	s    *storage.Storage
	name string
	data string
	done bool
}

func (r *racingReader) Read(p []byte) (int, error) {
	if r.done {
		return 0, io.EOF
	}
	r.done = true
	if err := r.s.Put(context.Background(), r.name, strings.NewReader("theirs"), nil); err != nil {
		return 0, err
	}
	return copy(p, r.data), nil
}

func TestTelemetry(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	s := storagetest.Open(t, "mem://", storage.WithMeterProvider(mp), storage.WithTracerProvider(tp))

	ctx, parent := tp.Tracer("test").Start(t.Context(), "request")
	if err := s.Put(ctx, "a.txt", strings.NewReader("hello"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "a.txt"); err != nil {
		t.Fatal(err)
	}
	_, _ = s.Stat(ctx, "missing.txt")
	parent.End()
	// Outside a recording span: metrics, but no span.
	_, _ = s.Get(t.Context(), "a.txt")

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	var bytesRead, bytesWritten int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range data.DataPoints {
					op, _ := dp.Attributes.Value(attribute.Key("storage.operation"))
					res, _ := dp.Attributes.Value(attribute.Key("storage.result"))
					be, _ := dp.Attributes.Value(attribute.Key("storage.backend"))
					if be.AsString() != "mem" {
						t.Errorf("%s: backend %q", m.Name, be.AsString())
					}
					switch m.Name {
					case "storage.operations":
						counts[op.AsString()+"/"+res.AsString()] += dp.Value
					case "storage.bytes":
						if op.AsString() == "read" {
							bytesRead += dp.Value
						} else {
							bytesWritten += dp.Value
						}
					}
				}
			}
		}
	}
	want := map[string]int64{"write/ok": 1, "read/ok": 2, "stat/not_exist": 1}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("storage.operations{%s} = %d, want %d (all: %v)", k, counts[k], v, counts)
		}
	}
	if bytesRead != 10 || bytesWritten != 5 {
		t.Errorf("storage.bytes read %d written %d, want 10 and 5", bytesRead, bytesWritten)
	}
	var names []string
	for _, sp := range spans.GetSpans() {
		names = append(names, sp.Name)
	}
	if strings.Join(names, ",") != "storage.write,storage.read,storage.stat,request" {
		t.Errorf("spans = %q", names)
	}
}
