package middleware

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// compressBody is compressible JSON comfortably above the default minimum size.
var compressBody = []byte(strings.Repeat(`{"id":42,"name":"widget","tags":["a","b"]},`, 100))

func compressServe(t *testing.T, mw func(http.Handler) http.Handler, h http.HandlerFunc, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	mw(h).ServeHTTP(w, r)
	return w
}

func compressRequest(method, acceptEncoding string) *http.Request {
	r := httptest.NewRequest(method, "/", nil)
	if acceptEncoding != "" {
		r.Header.Set("Accept-Encoding", acceptEncoding)
	}
	return r
}

func compressGunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gzip.NewReader: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("reading gzip: %v", err)
	}
	return out
}

func compressJSON(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(body)
	}
}

func TestCompressGzip(t *testing.T) {
	for _, level := range []int{gzip.HuffmanOnly, gzip.BestSpeed, gzip.DefaultCompression, gzip.BestCompression} {
		t.Run(fmt.Sprint(level), func(t *testing.T) {
			handler := func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Length", fmt.Sprint(len(compressBody)))
				w.Header().Set("ETag", `"v1"`)
				w.Header().Set("Accept-Ranges", "bytes")
				_, _ = w.Write(compressBody[:10]) // several writes
				_, _ = w.Write(compressBody[10:])
			}
			w := compressServe(t, Compress(CompressLevel(level)), handler, compressRequest("GET", "gzip, deflate, br"))
			h := w.Result().Header
			if h.Get("Content-Encoding") != "gzip" {
				t.Fatalf("Content-Encoding = %q", h.Get("Content-Encoding"))
			}
			if h.Get("Vary") != "Accept-Encoding" || h.Get("Content-Length") != "" || h.Get("Accept-Ranges") != "" {
				t.Errorf("headers: %v", h)
			}
			if h.Get("Etag") != `W/"v1"` {
				t.Errorf("ETag = %q, want weak", h.Get("Etag"))
			}
			if got := compressGunzip(t, w.Body.Bytes()); !bytes.Equal(got, compressBody) {
				t.Errorf("decoded body differs: %d bytes, want %d", len(got), len(compressBody))
			}
			if w.Body.Len() >= len(compressBody) {
				t.Errorf("not smaller: %d bytes", w.Body.Len())
			}
		})
	}
}

func TestCompressManySmallWrites(t *testing.T) {
	html := []byte("<!DOCTYPE html><html>" + strings.Repeat("<p>hello</p>", 200))
	handler := func(w http.ResponseWriter, r *http.Request) {
		for _, b := range html { // no Content-Type: sniffed from the first 512 bytes
			_, _ = w.Write([]byte{b})
		}
	}
	w := compressServe(t, Compress(), handler, compressRequest("GET", "gzip"))
	if w.Header().Get("Content-Encoding") != "gzip" || w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("headers: %v", w.Header())
	}
	if got := compressGunzip(t, w.Body.Bytes()); !bytes.Equal(got, html) {
		t.Error("decoded body differs")
	}
}

func TestCompressAcceptEncoding(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"x-gzip", true},
		{"deflate, gzip;q=1.0, *;q=0.5", true},
		{"br;q=1.0, gzip;q=0.8, *;q=0.1", true},
		{"gzip;q=0", false},
		{"gzip;q=0.000", false},
		{"gzip;q=0.001", true},
		{"gzip ; q=0.5", true},
		{"gzip;level=1;q=0.5", true},
		{"*", true},
		{"*;q=0", false},
		{"gzip;q=0, *", false}, // an explicit refusal beats the wildcard
		{"*, gzip;q=0", false},
		{"br", false},
		{"identity", false},
		{"gzip;q=0.5, identity", false}, // the client prefers identity
		{"gzip, identity;q=0.5", true},
		{"gzip;q=0.5, identity;q=0.5", true},
		{"gzip;q=0.5, *", false}, // * gives identity q=1
		{"identity;q=0, *;q=0.5", true},
		{"gzip;q=2", false},      // malformed weight: ignored
		{"gzip;q=abc", false},    // malformed weight: ignored
		{"gzip;q=1.0001", false}, // too many digits
		{"deflate,,gzip", true},
		{"gzip foo", false},          // malformed item: ignored
		{"gzip foo, *;q=0.2", true},  // ... but the rest still counts
		{"\tgzip\t;\tq=0.5", true},   // tabs are OWS
		{"deflate;q=0.5,gzip", true}, // no spaces
		{"br,gzip;q=0,x-gzip", true}, // the higher of the aliases' weights
		{"identity;q=1, gzip;q=0.9", false},
	} {
		if got := compressAcceptsGzip([]string{tc.header}); got != tc.want {
			t.Errorf("Accept-Encoding %q: got %v, want %v", tc.header, got, tc.want)
		}
	}
	if !compressAcceptsGzip([]string{"br", "gzip"}) {
		t.Error("gzip in a second header line not found")
	}
	if compressAcceptsGzip(nil) {
		t.Error("no Accept-Encoding must mean identity")
	}
}

func TestCompressBelowMinimum(t *testing.T) {
	small := []byte(`{"ok":true}`)
	w := compressServe(t, Compress(), compressJSON(small), compressRequest("GET", "gzip"))
	if w.Header().Get("Content-Encoding") != "" || !bytes.Equal(w.Body.Bytes(), small) {
		t.Fatalf("small response changed: %v %q", w.Header(), w.Body.Bytes())
	}
	if w.Header().Get("Vary") != "Accept-Encoding" {
		t.Errorf("Vary = %q", w.Header().Get("Vary"))
	}

	// Exactly the minimum compresses; one byte less does not.
	body := bytes.Repeat([]byte("a"), 100)
	for n, want := range map[int]string{100: "gzip", 101: ""} {
		w = compressServe(t, Compress(CompressMinSize(n)), compressJSON(body), compressRequest("GET", "gzip"))
		if got := w.Header().Get("Content-Encoding"); got != want {
			t.Errorf("min %d: Content-Encoding %q, want %q", n, got, want)
		}
		if want == "" && !bytes.Equal(w.Body.Bytes(), body) {
			t.Errorf("min %d: body changed", n)
		}
	}

	// A declared Content-Length below the minimum is sent at once, and kept.
	w = compressServe(t, Compress(), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "5")
		_, _ = w.Write([]byte("hello"))
	}, compressRequest("GET", "gzip"))
	if w.Header().Get("Content-Encoding") != "" || w.Header().Get("Content-Length") != "5" || w.Body.String() != "hello" {
		t.Errorf("declared small response: %v %q", w.Header(), w.Body.String())
	}
}

func TestCompressStatusKept(t *testing.T) {
	w := compressServe(t, Compress(), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write(compressBody)
	}, compressRequest("GET", "gzip"))
	if w.Code != 404 || w.Header().Get("Content-Encoding") != "gzip" {
		t.Errorf("404: %d %v", w.Code, w.Header())
	}
	w = compressServe(t, Compress(), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusCreated) // no body
	}, compressRequest("GET", "gzip"))
	if w.Code != 201 || w.Header().Get("Content-Encoding") != "" || w.Body.Len() != 0 {
		t.Errorf("201 without body: %d %v %q", w.Code, w.Header(), w.Body.Bytes())
	}
}

func TestCompressVary(t *testing.T) {
	for _, tc := range []struct {
		name, accept, ctype, vary string
		encoded                   bool
	}{
		{"accepted", "gzip", "text/html", "Accept-Encoding", true},
		{"no Accept-Encoding", "", "text/html", "Accept-Encoding", false},
		{"refused", "gzip;q=0", "application/json", "Accept-Encoding", false},
		{"not compressible", "gzip", "image/png", "", false},
		{"suffix type", "gzip", "application/vnd.api+json", "Accept-Encoding", true},
		{"xml suffix", "gzip", "application/atom+xml; charset=utf-8", "Accept-Encoding", true},
		{"svg", "gzip", "IMAGE/SVG+XML", "Accept-Encoding", true},
		{"octet-stream", "gzip", "application/octet-stream", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := compressServe(t, Compress(), func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				_, _ = w.Write(compressBody)
			}, compressRequest("GET", tc.accept))
			if got := w.Header().Get("Vary"); got != tc.vary {
				t.Errorf("Vary = %q, want %q", got, tc.vary)
			}
			if got := w.Header().Get("Content-Encoding") == "gzip"; got != tc.encoded {
				t.Errorf("compressed = %v", got)
			}
		})
	}

	// An existing Vary is extended, not duplicated.
	for existing, want := range map[string][]string{
		"Origin":                  {"Origin", "Accept-Encoding"},
		"origin, accept-encoding": {"origin, accept-encoding"},
		"*":                       {"*"},
	} {
		w := compressServe(t, Compress(), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Vary", existing)
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write(compressBody)
		}, compressRequest("GET", "gzip"))
		if got := w.Header().Values("Vary"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Vary %q: got %q, want %q", existing, got, want)
		}
	}
}

func TestCompressNever(t *testing.T) {
	for _, tc := range []struct {
		name    string
		method  string
		range_  string
		status  int
		handler string // Content-Encoding set by the handler
	}{
		{name: "HEAD", method: "HEAD"},
		{name: "Range", method: "GET", range_: "bytes=0-9"},
		{name: "204", method: "GET", status: 204},
		{name: "206", method: "GET", status: 206},
		{name: "304", method: "GET", status: 304},
		{name: "handler encoding", method: "GET", handler: "br"},
		{name: "handler identity", method: "GET", handler: "identity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := compressRequest(tc.method, "gzip")
			if tc.range_ != "" {
				r.Header.Set("Range", tc.range_)
			}
			w := compressServe(t, Compress(), func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				if tc.handler != "" {
					w.Header().Set("Content-Encoding", tc.handler)
				}
				if tc.status != 0 {
					w.WriteHeader(tc.status)
				}
				_, _ = w.Write(compressBody)
			}, r)
			if got := w.Header().Get("Content-Encoding"); got != tc.handler {
				t.Errorf("Content-Encoding = %q, want %q", got, tc.handler)
			}
			if tc.status != 0 && w.Code != tc.status {
				t.Errorf("status = %d", w.Code)
			}
			if tc.status == 0 && !bytes.Equal(w.Body.Bytes(), compressBody) {
				t.Error("body changed")
			}
			if tc.handler != "" && w.Header().Get("Vary") != "" {
				t.Errorf("Vary added to a handler-encoded response: %q", w.Header().Get("Vary"))
			}
			if tc.method == "HEAD" && w.Header().Get("Vary") != "Accept-Encoding" {
				t.Error("HEAD lacks the Vary a GET would carry")
			}
		})
	}
}

func TestCompressContentTypesOption(t *testing.T) {
	mw := Compress(CompressContentTypes("application/x-ndjson", "image/*"))
	for ctype, want := range map[string]bool{
		"application/x-ndjson": true, "image/png": true, "text/html": false, "image/": false,
	} {
		w := compressServe(t, mw, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			_, _ = w.Write(compressBody)
		}, compressRequest("GET", "gzip"))
		if got := w.Header().Get("Content-Encoding") == "gzip"; got != want {
			t.Errorf("%s: compressed %v, want %v", ctype, got, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("no panic for level 10")
		}
	}()
	Compress(CompressLevel(10))
}

// TestCompressFlushStreams checks over a real connection that each Flush delivers what was
// written so far, decodable before the handler has finished.
func TestCompressFlushStreams(t *testing.T) {
	next := make(chan struct{})
	chunk := bytes.Repeat([]byte("event: tick\ndata: 0123456789abcdef\n\n"), 60) // > 1 KiB
	srv := httptest.NewServer(Compress()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for range 3 {
			_, _ = w.Write(chunk)
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
			select {
			case <-next:
			case <-time.After(5 * time.Second):
				t.Error("client did not read the flushed chunk")
				return
			}
		}
	})))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept-Encoding", "gzip") // set explicitly: the transport then does not decode
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		got := make([]byte, len(chunk))
		if _, err := io.ReadFull(zr, got); err != nil || !bytes.Equal(got, chunk) {
			t.Fatalf("chunk %d: %v", i, err)
		}
		next <- struct{}{}
	}
	if rest, err := io.ReadAll(zr); err != nil || len(rest) != 0 {
		t.Errorf("after the chunks: %q, %v", rest, err)
	}
}

// A handler that flushes before the minimum size sends identity, streamed.
func TestCompressEarlyFlushSendsIdentity(t *testing.T) {
	w := compressServe(t, Compress(), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte("data: hi\n\n"))
		w.(http.Flusher).Flush()
		_, _ = w.Write(compressBody) // later bytes follow uncompressed
	}, compressRequest("GET", "gzip"))
	if !w.Flushed || w.Header().Get("Content-Encoding") != "" || w.Header().Get("Vary") != "Accept-Encoding" {
		t.Errorf("flushed %v, headers %v", w.Flushed, w.Header())
	}
	if want := append([]byte("data: hi\n\n"), compressBody...); !bytes.Equal(w.Body.Bytes(), want) {
		t.Error("body changed")
	}
}

func TestCompressServerIntegration(t *testing.T) {
	srv := httptest.NewServer(Compress()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			_, _ = w.Write([]byte("hello")) // sniffed as text/plain by net/http
			return
		}
		compressJSON(compressBody)(w, r)
	})))
	defer srv.Close()
	// The transport asks for gzip and decodes it transparently.
	resp, err := srv.Client().Get(srv.URL + "/big")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !resp.Uncompressed || !bytes.Equal(body, compressBody) {
		t.Errorf("big: uncompressed by transport %v, body equal %v", resp.Uncompressed, bytes.Equal(body, compressBody))
	}
	resp, err = srv.Client().Get(srv.URL + "/small")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Uncompressed || string(body) != "hello" || resp.ContentLength != 5 ||
		resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("small: %v %q %d %v", resp.Uncompressed, body, resp.ContentLength, resp.Header)
	}
}

func TestCompressUnwrapAndHijack(t *testing.T) {
	srv := httptest.NewServer(Compress()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline through Unwrap: %v", err)
		}
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
		_ = brw.Flush()
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hi" {
		t.Errorf("hijacked body %q", body)
	}
}

func TestCompressReadFrom(t *testing.T) {
	w := compressServe(t, Compress(), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.Copy(w, bufio.NewReader(bytes.NewReader(compressBody)))
	}, compressRequest("GET", "gzip"))
	if got := compressGunzip(t, w.Body.Bytes()); !bytes.Equal(got, compressBody) {
		t.Error("io.Copy through ReadFrom: body differs")
	}
}

func TestCompressAllocs(t *testing.T) {
	mw := Compress()
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(compressSmall)
	}))
	for accept, limit := range map[string]float64{"gzip": 1, "": 0} {
		r := compressRequest("GET", accept)
		w := &compressBenchWriter{h: make(http.Header)}
		allocs := testing.AllocsPerRun(1000, func() {
			clear(w.h)
			h.ServeHTTP(w, r)
		})
		// Header.Set of Content-Type in the handler costs one allocation of its own.
		if allocs-1 > limit {
			t.Errorf("Accept-Encoding %q: %v allocations by Compress, want at most %v", accept, allocs-1, limit)
		}
	}
}

var compressSmall = []byte("Hello, World!")

// compressBenchWriter is a ResponseWriter that discards, so that benchmarks count only the
// middleware's allocations.
type compressBenchWriter struct {
	h      http.Header
	status int
}

func (w *compressBenchWriter) Header() http.Header         { return w.h }
func (w *compressBenchWriter) WriteHeader(code int)        { w.status = code }
func (w *compressBenchWriter) Write(p []byte) (int, error) { return len(p), nil }

func BenchmarkCompress(b *testing.B) {
	ctype := []string{"text/plain; charset=utf-8"}
	small := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = ctype
		_, _ = w.Write(compressSmall)
	})
	big := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = ctype
		_, _ = w.Write(compressBody)
	})
	for _, bc := range []struct {
		name    string
		handler http.Handler
		accept  string
	}{
		{"bare/small", small, "gzip"},
		{"small/gzip", Compress()(small), "gzip, deflate, br, zstd"},
		{"small/identity", Compress()(small), ""},
		{"4KiB/gzip", Compress()(big), "gzip, deflate, br, zstd"},
		{"4KiB/identity", Compress()(big), ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := compressRequest("GET", bc.accept)
			w := &compressBenchWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				bc.handler.ServeHTTP(w, r)
			}
		})
	}
}
