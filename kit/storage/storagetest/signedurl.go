package storagetest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/storage"
)

func (s *suite) testSignedURL(t *testing.T) {
	t.Parallel()
	st := s.open(t)
	ctx := ctxFor(t)
	data := []byte("0123456789 signed content")
	put(t, st, "signed/file.txt", data)
	getURL, err := st.SignedURL(ctx, "signed/file.txt", &storage.SignedURLOptions{Expiry: time.Hour})
	if errors.Is(err, storage.ErrNotSupported) {
		t.Skipf("backend %s cannot sign URLs: %v", st.Backend(), err)
	}
	if err != nil {
		t.Fatal(err)
	}
	client, route := httpClient(t, st)
	do := func(method, raw string, body []byte, hdr map[string]string) (*http.Response, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, route(raw), rd)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, raw, err)
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}

	// GET, and a range of it.
	resp, body := do(http.MethodGet, getURL, nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("GET signed URL: %s %q, want 200 %q", resp.Status, body, data)
	}
	etag := resp.Header.Get("ETag")
	resp, body = do(http.MethodGet, getURL, nil, map[string]string{"Range": "bytes=2-5"})
	if resp.StatusCode != http.StatusPartialContent || string(body) != "2345" {
		t.Errorf("GET range 2-5: %s %q, want 206 \"2345\"", resp.Status, body)
	}
	if etag != "" {
		resp, _ = do(http.MethodGet, getURL, nil, map[string]string{"If-None-Match": etag})
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("GET with If-None-Match of the ETag: %s, want 304", resp.Status)
		}
	}

	// Tampering: another name, another expiry, another method, a changed signature.
	u, _ := url.Parse(getURL)
	tampered := []string{
		strings.Replace(getURL, "signed/file.txt", "signed/other.txt", 1),
		strings.Replace(getURL, "file.txt", "file.txT", 1),
	}
	q := u.Query()
	for k, vs := range q {
		lk := strings.ToLower(k)
		if strings.Contains(lk, "signature") {
			v := []byte(vs[0])
			v[len(v)/2] ^= 1
			if v[len(v)/2] == '%' || v[len(v)/2] == '&' {
				v[len(v)/2] = 'A'
			}
			tq := cloneQuery(q)
			tq.Set(k, string(v))
			tu := *u
			tu.RawQuery = tq.Encode()
			tampered = append(tampered, tu.String())
		}
		if last := vs[0][len(vs[0])-1]; strings.Contains(lk, "expires") && last >= '0' && last <= '9' {
			tq := cloneQuery(q)
			tq.Set(k, vs[0][:len(vs[0])-1]+string(rune('0'+(last-'0'+1)%10)))
			tu := *u
			tu.RawQuery = tq.Encode()
			tampered = append(tampered, tu.String())
		}
	}
	put(t, st, "signed/other.txt", []byte("other"))
	for _, raw := range tampered {
		resp, _ := do(http.MethodGet, raw, nil, nil)
		if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET tampered URL %s: %s, want 403", raw, resp.Status)
		}
	}
	// A GET URL does not allow a PUT.
	resp, _ = do(http.MethodPut, getURL, []byte("overwrite"), nil)
	if resp.StatusCode < 400 {
		t.Errorf("PUT to a GET URL: %s, want an error", resp.Status)
	}
	wantContent(t, st, "signed/file.txt", data)

	// PUT, with and without a bound content type.
	putURL, err := st.SignedURL(ctx, "signed/upload.bin", &storage.SignedURLOptions{Method: http.MethodPut, Expiry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	resp, body = do(http.MethodPut, putURL, []byte("uploaded"), nil)
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT signed URL: %s %q", resp.Status, body)
	}
	wantContent(t, st, "signed/upload.bin", []byte("uploaded"))
	typedURL, err := st.SignedURL(ctx, "signed/typed.json", &storage.SignedURLOptions{Method: http.MethodPut, Expiry: time.Hour, ContentType: "application/json"})
	if err != nil {
		t.Fatal(err)
	}
	resp, body = do(http.MethodPut, typedURL, []byte(`{"ok":true}`), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode >= 300 {
		t.Fatalf("PUT with the signed content type: %s %q", resp.Status, body)
	}
	a, err := st.Stat(ctx, "signed/typed.json")
	if err != nil {
		t.Fatal(err)
	}
	if a.ContentType != "application/json" {
		t.Errorf("uploaded ContentType = %q, want application/json", a.ContentType)
	}
	resp, _ = do(http.MethodPut, typedURL, []byte(`<html>`), map[string]string{"Content-Type": "text/html"})
	if resp.StatusCode < 400 {
		t.Errorf("PUT with another content type than signed: %s, want an error", resp.Status)
	}
	wantContent(t, st, "signed/typed.json", []byte(`{"ok":true}`))
	// A PUT URL does not allow reading.
	resp, _ = do(http.MethodGet, putURL, nil, nil)
	if resp.StatusCode < 400 {
		t.Errorf("GET of a PUT URL: %s, want an error", resp.Status)
	}

	// Bad options.
	for _, o := range []*storage.SignedURLOptions{
		{Method: http.MethodDelete, Expiry: time.Minute},
		{Expiry: -time.Minute},
		{Expiry: storage.MaxSignedURLExpiry + time.Hour},
		{Method: http.MethodGet, Expiry: time.Minute, ContentType: "text/plain"},
	} {
		if _, err := st.SignedURL(ctx, "signed/file.txt", o); err == nil {
			t.Errorf("SignedURL(%+v) succeeded", o)
		}
	}

	// Expiry: a URL valid for a second stops working (polled, not slept on).
	shortURL, err := st.SignedURL(ctx, "signed/file.txt", &storage.SignedURLOptions{Expiry: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, _ := do(http.MethodGet, shortURL, nil, nil)
		if resp.StatusCode == http.StatusForbidden {
			break
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET of a short-lived URL: %s", resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatal("a signed URL valid for 1s still works after 10s")
		}
		wait := time.NewTimer(100 * time.Millisecond)
		<-wait.C
	}
}

func cloneQuery(q url.Values) url.Values {
	c := url.Values{}
	for k, v := range q {
		c[k] = append([]string(nil), v...)
	}
	return c
}
