package pagecache

import (
	"bytes"
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestParseCacheControl(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want cacheControl
	}{
		{nil, cacheControl{maxAge: absent, sMaxAge: absent}},
		{[]string{"public, max-age=60"}, cacheControl{maxAge: 60, sMaxAge: absent, public: true}},
		{[]string{"Max-Age=10", "S-MAXAGE=\"20\""}, cacheControl{maxAge: 10, sMaxAge: 20}},
		{[]string{"max-age=5, max-age=50"}, cacheControl{maxAge: 5, sMaxAge: absent}}, // the first counts
		{[]string{`private="Set-Cookie, X-Max", max-age=9`}, cacheControl{maxAge: 9, sMaxAge: absent, private: true}},
		{[]string{`no-cache="a,\"b", no-store`}, cacheControl{maxAge: absent, sMaxAge: absent, noCache: true, noStore: true}},
		{[]string{"max-age=", "s-maxage=-1"}, cacheControl{maxAge: invalid, sMaxAge: invalid}},
		{[]string{"max-age=99999999999999999999"}, cacheControl{maxAge: maxDelta, sMaxAge: absent}},
		{[]string{" must-revalidate ,,immutable"}, cacheControl{maxAge: absent, sMaxAge: absent, mustRevalidate: true}},
		{[]string{"nostore, xprivate"}, cacheControl{maxAge: absent, sMaxAge: absent}},
	} {
		if got := parseCacheControl(tc.in); got != tc.want {
			t.Errorf("%q: got %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestVaryNames(t *testing.T) {
	h := http.Header{"Vary": {"accept-encoding, Cookie", " Accept-Language ,ACCEPT-ENCODING", ""}}
	if got, want := (&config{}).varyNames(h), []string{"Accept-Encoding", "Accept-Language", "Cookie"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	withLocale := &config{locale: func(*http.Request) string { return "" }}
	if got, want := withLocale.varyNames(h), []string{"Accept-Encoding", "Cookie"}; !reflect.DeepEqual(got, want) {
		t.Errorf("with Locale: got %q, want %q", got, want)
	}
}

func TestRequestNoCache(t *testing.T) {
	for _, tc := range []struct {
		h                http.Header
		noCache, noStore bool
	}{
		{http.Header{}, false, false},
		{http.Header{"Cache-Control": {"no-cache"}}, true, false},
		{http.Header{"Cache-Control": {"max-age=0"}}, true, false},
		{http.Header{"Cache-Control": {"no-store"}}, false, true},
		{http.Header{"Pragma": {"no-cache"}}, true, false},
		{http.Header{"Pragma": {"no-cache"}, "Cache-Control": {"max-age=10"}}, false, false}, // Cache-Control wins
	} {
		if nc, ns := requestNoCache(tc.h); nc != tc.noCache || ns != tc.noStore {
			t.Errorf("%v: got %v %v", tc.h, nc, ns)
		}
	}
}

func TestPageRoundTrip(t *testing.T) {
	h := http.Header{
		"Content-Type": {"text/html; charset=utf-8"},
		"Link":         {"</a.css>; rel=preload", "</b.js>; rel=preload"},
		"X-Empty":      {""},
		"Set-Cookie":   {"dropped=1"},
		"X-None":       {},
	}
	keep := func(name string, vs []string) bool { return name != "Set-Cookie" && len(vs) > 0 }
	in := page{stored: time.Now().UnixNano(), expires: 1 << 62, status: 203, age: 7, body: bytes.Repeat([]byte("body"), 300)}
	b := encodePage(&in, h, keep)
	if cap(b) != len(b) {
		t.Errorf("encoded into %d bytes of a %d-byte buffer", len(b), cap(b))
	}
	p, err := decodePage(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.stored != in.stored || p.expires != in.expires || p.status != 203 || p.age != 7 || !bytes.Equal(p.body, in.body) {
		t.Fatalf("got %+v", p)
	}
	out := http.Header{"X-Outer": {"kept"}}
	spare := p.apply(out, 2)
	if len(spare) != 2 {
		t.Fatalf("%d spare slots", len(spare))
	}
	want := http.Header{"Content-Type": h["Content-Type"], "Link": h["Link"], "X-Empty": {""}, "X-Outer": {"kept"}}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("got %v, want %v", out, want)
	}
	// Appending to one field must not overwrite the next.
	out.Add("Link", "</c.js>")
	if !reflect.DeepEqual(out["Content-Type"], want["Content-Type"]) || len(spare[0]) != 0 {
		t.Fatal("fields share capacity")
	}
}

func TestVaryRoundTrip(t *testing.T) {
	names := []string{"Accept-Encoding", "Cookie"}
	b := encodeVary(vary{nonce: 42, expires: 99}, names)
	v, err := decodeVary(b)
	if err != nil || v.nonce != 42 || v.expires != 99 || !v.sameNames(names) {
		t.Fatalf("%+v %v", v, err)
	}
	for _, other := range [][]string{nil, {"Accept-Encoding"}, {"Accept-Encoding", "Cookie", "X"}, {"Accept-Encoding", "Cookies"}} {
		if v.sameNames(other) {
			t.Errorf("same as %q", other)
		}
	}
	if v, err := decodeVary(encodeVary(vary{}, nil)); err != nil || !v.sameNames(nil) {
		t.Fatal("empty list")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encodePage(&page{status: 200, body: []byte("x")}, http.Header{"A": {"b", "c"}}, func(string, []string) bool { return true }))
	f.Add(encodeVary(vary{nonce: 1}, []string{"Cookie"}))
	f.Add([]byte("P\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := decodePage(b); err == nil {
			p.apply(http.Header{}, 1)
		}
		if v, err := decodeVary(b); err == nil {
			v.sameNames([]string{"A"})
			r, _ := http.NewRequest("GET", "/", nil)
			appendVariant(nil, r, "", v)
		}
	})
}
