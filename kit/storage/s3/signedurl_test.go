package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stackkit/stackkit/kit/storage"
)

func httpDo(t *testing.T, method, rawURL string, body []byte, header http.Header) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestSignedURL checks that the server, not the client, enforces the signature: a presigned
// URL works, and an unsigned request or any change to a signed one is refused with 403.
func TestSignedURL(t *testing.T) {
	srv := testServer(t)
	prefix := srv.testPrefix(t)
	_, d := openDriver(t, srv.url(testBucket, prefix))
	ctx := context.Background()
	mustPut(t, d, "doc/report 1.pdf", []byte("%PDF secret report"))
	mustPut(t, d, "doc/other.pdf", []byte("other"))

	signed, err := d.SignedURL(ctx, "doc/report 1.pdf", &storage.SignedURLOptions{Method: http.MethodGet, Expiry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := httpDo(t, "GET", signed, nil, nil); code != 200 || string(body) != "%PDF secret report" {
		t.Fatalf("GET signed URL: %d %q", code, body)
	}

	u, _ := url.Parse(signed)
	q := u.Query()
	if q.Get("X-Amz-Expires") != "3600" || q.Get("X-Amz-Signature") == "" {
		t.Fatalf("signed URL query = %v", q)
	}
	unsigned := *u
	unsigned.RawQuery = ""
	tamper := func(f func(u *url.URL, q url.Values)) string {
		c := *u
		cq := c.Query()
		f(&c, cq)
		c.RawQuery = cq.Encode()
		return c.String()
	}
	sig := q.Get("X-Amz-Signature")
	flipped := []byte(sig)
	flipped[10] = "0123456789abcdef"[(strings.IndexByte("0123456789abcdef", flipped[10])+1)%16]
	// Refused with 403 AccessDenied or SignatureDoesNotMatch.
	for what, bad := range map[string]string{
		"unsigned":       unsigned.String(),
		"signature byte": tamper(func(_ *url.URL, q url.Values) { q.Set("X-Amz-Signature", string(flipped)) }),
		"other key": tamper(func(u *url.URL, _ url.Values) {
			u.Path = strings.Replace(u.Path, "report 1.pdf", "other.pdf", 1)
			u.RawPath = ""
		}),
		"longer expiry": tamper(func(_ *url.URL, q url.Values) { q.Set("X-Amz-Expires", "7200") }),
	} {
		if code, body := httpDo(t, "GET", bad, nil, nil); code != http.StatusForbidden {
			t.Errorf("%s: GET %s = %d %q, want 403", what, bad, code, body)
		}
	}
	// Malformed rather than wrong: AWS answers 403 or 400; versitygw 400 (a date that does
	// not match the credential scope, a missing signature) or 404 (an unknown access key).
	for what, bad := range map[string]string{
		"earlier date": tamper(func(_ *url.URL, q url.Values) { q.Set("X-Amz-Date", "20200101T000000Z") }),
		"no signature": tamper(func(_ *url.URL, q url.Values) { q.Del("X-Amz-Signature") }),
		"other credential": tamper(func(_ *url.URL, q url.Values) {
			q.Set("X-Amz-Credential", strings.Replace(q.Get("X-Amz-Credential"), srv.accessKey, "AKIAOTHER", 1))
		}),
	} {
		if code, body := httpDo(t, "GET", bad, nil, nil); code < 400 || code >= 500 || bytes.Contains(body, []byte("secret report")) {
			t.Errorf("%s: GET %s = %d %q, want a 4xx refusal", what, bad, code, body)
		}
	}
	// The GET URL does not allow a PUT.
	if code, _ := httpDo(t, "PUT", signed, []byte("overwrite"), nil); code != http.StatusForbidden {
		t.Errorf("PUT with a GET URL = %d, want 403", code)
	}

	// A signed PUT with a content type: the upload must carry it.
	put, err := d.SignedURL(ctx, "upload/new.txt", &storage.SignedURLOptions{Method: http.MethodPut, Expiry: time.Minute, ContentType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := httpDo(t, "PUT", put, []byte("hi"), http.Header{"Content-Type": {"image/png"}}); code != http.StatusForbidden {
		t.Errorf("PUT with another content type = %d %q, want 403", code, body)
	}
	if code, body := httpDo(t, "PUT", put, []byte("uploaded"), http.Header{"Content-Type": {"text/plain"}}); code != 200 {
		t.Fatalf("PUT signed URL = %d %q", code, body)
	}
	if got, attrs, err := read(t, d, "upload/new.txt", 0, -1); err != nil || string(got) != "uploaded" || attrs.ContentType != "text/plain" {
		t.Errorf("uploaded object = %q, %+v, %v", got, attrs, err)
	}

	for _, bad := range []storage.SignedURLOptions{
		{Method: http.MethodGet, Expiry: 8 * 24 * time.Hour},
		{Method: http.MethodGet, Expiry: -time.Second},
		{Method: http.MethodDelete, Expiry: time.Minute},
	} {
		if _, err := d.SignedURL(ctx, "x", &bad); err == nil {
			t.Errorf("SignedURL(%+v) succeeded", bad)
		}
	}
	// A presigned PUT cannot bound the size: MaxSize is refused, not silently ignored.
	_, err = d.SignedURL(ctx, "x", &storage.SignedURLOptions{Method: http.MethodPut, Expiry: time.Minute, MaxSize: 1 << 20})
	if !errors.Is(err, storage.ErrNotSupported) {
		t.Errorf("SignedURL with MaxSize = %v, want ErrNotSupported", err)
	}
}

// TestSignedURLExpiry waits for a one-second URL to expire, polling until the server refuses
// it (bounded), and checks a URL signed an hour ago is refused at once.
func TestSignedURLExpiry(t *testing.T) {
	srv := testServer(t)
	prefix := srv.testPrefix(t)
	_, d := openDriver(t, srv.url(testBucket, prefix))
	ctx := context.Background()
	mustPut(t, d, "f", []byte("data"))

	signed, err := d.SignedURL(ctx, "f", &storage.SignedURLOptions{Method: http.MethodGet, Expiry: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(signed)
	// The signing time has second resolution: the URL is valid until X-Amz-Date + 1s.
	signedAt, err := time.Parse("20060102T150405Z", u.Query().Get("X-Amz-Date"))
	if err != nil {
		t.Fatal(err)
	}
	expires := signedAt.Add(time.Second)
	// The server compares with its own sub-second clock (versitygw was seen refusing 4 ms early):
	// allow it a second either way.
	const tolerance = time.Second
	if code, _ := httpDo(t, "GET", signed, nil, nil); code != 200 && time.Now().Before(expires.Add(-tolerance)) {
		t.Fatalf("fresh one-second URL = %d", code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		before := time.Now()
		code, _ := httpDo(t, "GET", signed, nil, nil)
		if code == http.StatusForbidden {
			if before.Before(expires.Add(-tolerance)) {
				t.Errorf("refused at %v, more than %v before its expiry at %v", before, tolerance, expires)
			}
			break
		}
		if code != 200 {
			t.Fatalf("GET = %d", code)
		}
		if time.Now().After(deadline) {
			t.Fatalf("one-second URL still accepted %v after its expiry", time.Since(expires))
		}
		time.Sleep(100 * time.Millisecond) // polling interval, not synchronisation
	}

	// Signed an hour in the past with a 30-minute expiry: expired on arrival.
	past := awss3.NewPresignClient(srv.client(), func(o *awss3.PresignOptions) {
		o.Presigner = pastSigner{v4.NewSigner(), time.Hour}
	})
	req, err := past.PresignGetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(prefix + "f")},
		awss3.WithPresignExpires(30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if code, body := httpDo(t, "GET", req.URL, nil, nil); code != http.StatusForbidden {
		t.Errorf("URL expired on signing = %d %q, want 403", code, body)
	}
}

// pastSigner presigns as if the clock were ago behind.
type pastSigner struct {
	*v4.Signer
	ago time.Duration
}

func (p pastSigner) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string, signingTime time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return p.Signer.PresignHTTP(ctx, creds, r, payloadHash, service, region, signingTime.Add(-p.ago), optFns...)
}
