package middleware

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var etagBody = []byte(`{"items":[1,2,3]}`)

func etagServe(h http.Handler, method string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/", nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func etagJSON(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Encoding")
		_, _ = w.Write(body[:3])
		_, _ = w.Write(body[3:])
	})
}

func TestConditionalGETSetsETag(t *testing.T) {
	h := ConditionalGET()(etagJSON(etagBody))
	w := etagServe(h, "GET")
	etag := w.Header().Get("ETag")
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), etagBody) {
		t.Fatalf("response changed: %d %q", w.Code, w.Body.String())
	}
	if len(etag) < 4 || etag[0] != '"' || etag[len(etag)-1] != '"' || strings.HasPrefix(etag, "W/") {
		t.Fatalf("ETag %q is not a quoted strong tag", etag)
	}
	if again := etagServe(h, "GET").Header().Get("ETag"); again != etag {
		t.Errorf("ETag not stable: %q then %q", etag, again)
	}
	other := etagServe(ConditionalGET()(etagJSON([]byte(`{"items":[1,2,4]}`))), "GET").Header().Get("ETag")
	if other == etag {
		t.Error("different bodies, same ETag")
	}
	// An empty 200 is tagged too.
	w = etagServe(ConditionalGET()(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})), "GET")
	if w.Code != 200 || w.Header().Get("ETag") == "" {
		t.Errorf("empty response: %d %v", w.Code, w.Header())
	}
}

func TestConditionalGETNotModified(t *testing.T) {
	h := ConditionalGET()(etagJSON(etagBody))
	etag := etagServe(h, "GET").Header().Get("ETag")
	for _, inm := range []string{
		etag,
		"W/" + etag,
		`"other", ` + etag,
		`"a,b", W/"x",` + etag, // commas inside a tag
		"*",
	} {
		for _, method := range []string{"GET", "HEAD"} {
			w := etagServe(h, method, "If-None-Match", inm)
			if w.Code != http.StatusNotModified {
				t.Errorf("%s If-None-Match %s: status %d", method, inm, w.Code)
				continue
			}
			if w.Body.Len() != 0 {
				t.Errorf("304 with a body: %q", w.Body.String())
			}
			hdr := w.Header()
			if hdr.Get("ETag") != etag || hdr.Get("Cache-Control") != "max-age=60" || hdr.Get("Vary") != "Accept-Encoding" {
				t.Errorf("304 lost headers: %v", hdr)
			}
			if hdr.Get("Content-Type") != "" || hdr.Get("Content-Length") != "" {
				t.Errorf("304 kept representation headers: %v", hdr)
			}
		}
	}
	// Several If-None-Match lines count as one list.
	if w := etagServe(h, "GET", "If-None-Match", `"x"`, "If-None-Match", etag); w.Code != 304 {
		t.Errorf("second line: %d", w.Code)
	}
	for _, inm := range []string{`"other"`, `W/"other", "also-not"`, strings.Trim(etag, `"`), `garbage`} {
		if w := etagServe(h, "GET", "If-None-Match", inm); w.Code != 200 || !bytes.Equal(w.Body.Bytes(), etagBody) {
			t.Errorf("If-None-Match %s: %d", inm, w.Code)
		}
	}
}

func TestConditionalGETOtherMethodsAndStatuses(t *testing.T) {
	for _, tc := range []struct {
		name, method string
		status       int
		cacheControl string
	}{
		{"POST", "POST", 200, ""},
		{"PUT", "PUT", 200, ""},
		{"404", "GET", 404, ""},
		{"201", "GET", 201, ""},
		{"no-store", "GET", 200, "private, no-store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := ConditionalGET()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.cacheControl != "" {
					w.Header().Set("Cache-Control", tc.cacheControl)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write(etagBody)
			}))
			w := etagServe(h, tc.method, "If-None-Match", "*")
			if w.Code != tc.status || w.Header().Get("ETag") != "" || !bytes.Equal(w.Body.Bytes(), etagBody) {
				t.Errorf("%d %v %q", w.Code, w.Header(), w.Body.String())
			}
		})
	}
}

func TestConditionalGETLargeAndFlushed(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 100)
	// Larger than the limit: passes through untagged, streamed before the handler returns.
	var rec *httptest.ResponseRecorder
	h := ConditionalGET(ETagMaxSize(64))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(big[:50])
		if rec.Body.Len() != 0 {
			t.Error("wrote through below the limit")
		}
		_, _ = w.Write(big[50:])
		if rec.Body.Len() != 100 {
			t.Errorf("not passed through above the limit: %d bytes", rec.Body.Len())
		}
	}))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Header().Get("ETag") != "" || !bytes.Equal(rec.Body.Bytes(), big) {
		t.Errorf("large: %v %d bytes", rec.Header(), rec.Body.Len())
	}
	// A declared length above the limit is not buffered at all.
	w := etagServe(ConditionalGET(ETagMaxSize(64))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = w.Write(big)
	})), "GET", "If-None-Match", "*")
	if w.Code != 200 || w.Header().Get("ETag") != "" {
		t.Errorf("declared large: %d %v", w.Code, w.Header())
	}
	// Exactly the limit is tagged.
	if w := etagServe(ConditionalGET(ETagMaxSize(100))(etagJSON(big)), "GET"); w.Header().Get("ETag") == "" {
		t.Error("body of exactly ETagMaxSize not tagged")
	}
	// Flushed: streamed, untagged.
	w = etagServe(ConditionalGET()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("a"))
		w.(http.Flusher).Flush()
		_, _ = w.Write([]byte("b"))
	})), "GET", "If-None-Match", "*")
	if w.Code != 200 || !w.Flushed || w.Header().Get("ETag") != "" || w.Body.String() != "ab" {
		t.Errorf("flushed: %d %v %q", w.Code, w.Header(), w.Body.String())
	}
}

func TestConditionalGETHandlerValidators(t *testing.T) {
	lastMod := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var rec *httptest.ResponseRecorder
	h := ConditionalGET()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/etag":
			w.Header().Set("ETag", `W/"v7"`)
		case "/modified":
			w.Header().Set("Last-Modified", lastMod.Format(http.TimeFormat))
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("hello"))
		if rec.Body.Len() == 0 && rec.Code != 304 && rec.Code != 412 {
			t.Errorf("%s: buffered despite the handler's validator", r.URL.Path)
		}
	}))
	serve := func(path string, header ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	if w := serve("/etag"); w.Header().Get("ETag") != `W/"v7"` || w.Body.String() != "hello" {
		t.Errorf("handler ETag replaced: %v", w.Header())
	}
	if w := serve("/etag", "If-None-Match", `"v7"`); w.Code != 304 || w.Body.Len() != 0 {
		t.Errorf("weak handler ETag: %d", w.Code)
	}
	if w := serve("/modified"); w.Header().Get("ETag") != "" {
		t.Error("ETag added to a response with Last-Modified")
	}
	ims := func(t time.Time) string { return t.Format(http.TimeFormat) }
	for _, tc := range []struct {
		name   string
		header []string
		want   int
	}{
		{"same time", []string{"If-Modified-Since", ims(lastMod)}, 304},
		{"later", []string{"If-Modified-Since", ims(lastMod.Add(time.Hour))}, 304},
		{"earlier", []string{"If-Modified-Since", ims(lastMod.Add(-time.Second))}, 200},
		{"invalid date", []string{"If-Modified-Since", "yesterday"}, 200},
		{"If-None-Match wins", []string{"If-Modified-Since", ims(lastMod), "If-None-Match", `"nope"`}, 200},
		{"If-Unmodified-Since passed", []string{"If-Unmodified-Since", ims(lastMod)}, 200},
		{"If-Unmodified-Since failed", []string{"If-Unmodified-Since", ims(lastMod.Add(-time.Hour))}, 412},
	} {
		if w := serve("/modified", tc.header...); w.Code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, w.Code, tc.want)
		} else if tc.want == 304 && (w.Header().Get("Last-Modified") == "" || w.Body.Len() != 0) {
			t.Errorf("%s: 304 without Last-Modified or with a body", tc.name)
		}
	}
	// If-Match compares strongly: a weak tag never matches.
	if w := serve("/etag", "If-Match", `W/"v7"`); w.Code != 412 || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("If-Match on a weak tag: %d %v", w.Code, w.Header())
	} else {
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["status"] != 412.0 {
			t.Errorf("412 body %q", w.Body.String())
		}
	}
	if w := serve("/etag", "If-Match", "*"); w.Code != 200 {
		t.Errorf("If-Match *: %d", w.Code)
	}
}

func TestConditionalGETIfMatchGenerated(t *testing.T) {
	h := ConditionalGET()(etagJSON(etagBody))
	etag := etagServe(h, "GET").Header().Get("ETag")
	if w := etagServe(h, "GET", "If-Match", etag); w.Code != 200 {
		t.Errorf("If-Match own tag: %d", w.Code)
	}
	if w := etagServe(h, "GET", "If-Match", `"stale"`); w.Code != 412 {
		t.Errorf("If-Match stale: %d", w.Code)
	}
}

func TestConditionalGETHead(t *testing.T) {
	h := ConditionalGET()(etagJSON(etagBody))
	get, head := etagServe(h, "GET"), etagServe(h, "HEAD")
	if head.Header().Get("ETag") == "" || head.Header().Get("ETag") != get.Header().Get("ETag") {
		t.Errorf("HEAD ETag %q, GET %q", head.Header().Get("ETag"), get.Header().Get("ETag"))
	}
	// A HEAD handler that writes no body (as http.ServeContent does) gets no ETag: it would be the
	// empty body's.
	noBody := ConditionalGET()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "17")
		if r.Method == "GET" {
			_, _ = w.Write(etagBody)
		}
	}))
	if w := etagServe(noBody, "HEAD"); w.Code != 200 || w.Header().Get("ETag") != "" || w.Header().Get("Content-Length") != "17" {
		t.Errorf("HEAD without body: %d %v", w.Code, w.Header())
	}
	if w := etagServe(noBody, "GET"); w.Header().Get("ETag") != get.Header().Get("ETag") {
		t.Errorf("GET with Content-Length: %v", w.Header())
	}
}

// Compress outside ConditionalGET: the tag is the identity body's, weakened when gzipped, and a
// client revalidating with the weak tag gets a 304.
func TestConditionalGETWithCompress(t *testing.T) {
	h := Compress()(ConditionalGET()(etagJSON(compressBody)))
	w := etagServe(h, "GET", "Accept-Encoding", "gzip")
	etag := w.Header().Get("ETag")
	if w.Header().Get("Content-Encoding") != "gzip" || !strings.HasPrefix(etag, `W/"`) {
		t.Fatalf("headers %v", w.Header())
	}
	if plain := etagServe(h, "GET").Header().Get("ETag"); "W/"+plain != etag {
		t.Errorf("identity tag %q, gzip tag %q", plain, etag)
	}
	w = etagServe(h, "GET", "Accept-Encoding", "gzip", "If-None-Match", etag)
	if w.Code != 304 || w.Body.Len() != 0 || w.Header().Get("Content-Encoding") != "" {
		t.Errorf("revalidation: %d %v %d bytes", w.Code, w.Header(), w.Body.Len())
	}
}

func TestETagListMatches(t *testing.T) {
	for _, tc := range []struct {
		list, etag string
		weak, want bool
	}{
		{`"a"`, `"a"`, false, true},
		{`W/"a"`, `"a"`, false, false},
		{`"a"`, `W/"a"`, false, false},
		{`W/"a"`, `W/"a"`, true, true},
		{`W/"a"`, `"a"`, true, true},
		{` "b" , "a" `, `"a"`, true, true},
		{`"b",,"a"`, `"a"`, true, true},
		{`"a`, `"a"`, true, false},
		{`a`, `"a"`, true, false},
		{`*`, `"a"`, false, true},
		{`"a"`, ``, true, false},
		{`"x y"`, `"x y"`, true, false}, // space is not an etagc
	} {
		if got := etagListMatches([]string{tc.list}, tc.etag, tc.weak); got != tc.want {
			t.Errorf("%s vs %s (weak %v): %v", tc.list, tc.etag, tc.weak, got)
		}
	}
}

func BenchmarkConditionalGET(b *testing.B) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(etagBody)
	})
	h := ConditionalGET()(inner)
	etag := etagCompute(etagBody)
	for _, bc := range []struct {
		name    string
		handler http.Handler
		method  string
		inm     string
	}{
		{"bare", inner, "GET", ""},
		{"200", h, "GET", ""},
		{"304", h, "GET", etag},
		{"POST", h, "POST", ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest(bc.method, "/", nil)
			if bc.inm != "" {
				r.Header.Set("If-None-Match", bc.inm)
			}
			w := &compressBenchWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				bc.handler.ServeHTTP(w, r)
			}
		})
	}
}
