// Package storagetest is kit/storage's conformance suite: every storage backend runs [Run] in
// its own tests, against a real server for network backends, and a third-party backend can too.
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) *storage.Storage {
//			return storagetest.Open(t, "file://"+t.TempDir()+"?secret="+storagetest.Secret+"&base_url=http://storage.test/media/")
//		})
//	}
//
// open must return a Storage that shares no objects with any other it returned (on a shared
// bucket, give each a unique prefix, see [UniquePrefix]). It is called from parallel subtests
// and must close the Storage when the test ends ([Open] does).
//
// Signed URLs are fetched with a plain HTTP client. A Storage with a signing key and a base URL
// signs them itself: the suite serves its [storage.Storage.SignedURLHandler] on an httptest
// server and sends each signed URL's path and query there, whatever host the base URL names.
// Otherwise the backend signs (S3 presigns) and the suite fetches the URL as it is; a backend
// that cannot sign at all (ErrNotSupported) skips those tests.
//
// What a backend must do to pass, beyond the obvious:
//
//   - Content is stored byte for byte; ranges past the end are cut at the end, an offset at or
//     past it reads nothing; a missing object is ErrNotExist for every read.
//   - A write is visible only after a successful Close: readers see the old content during the
//     write and after an Abort, a failed write (a failed io.Copy into the writer included) or a
//     cancelled context.
//   - WriterOptions.IfNotExist is atomic (Save under concurrency never loses an object).
//   - Stat gives the size, a modification time, a quoted ETag that changes with the content, the
//     content type (given or detected), cache control and metadata.
//   - List is lexicographic, rolls up by delimiter, and pages across page boundaries with
//     NextToken, small page sizes included.
//   - Invalid names are ErrInvalidName for every operation, with nothing stored.
//   - After Close every operation fails with ErrClosed.
package storagetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/storage"
)

// Secret is a signing key for tests (the secret URL option), long enough for MinSigningKeyLen.
const Secret = "storagetest-signing-key-0123456789"

// Run runs the conformance suite against the storages open returns.
func Run(t *testing.T, open func(t *testing.T) *storage.Storage) {
	s := &suite{open: open}
	t.Run("RoundTrip", s.testRoundTrip)
	t.Run("Ranges", s.testRanges)
	t.Run("Overwrite", s.testOverwrite)
	t.Run("AtomicCreate", s.testAtomicCreate)
	t.Run("Abort", s.testAbort)
	t.Run("FailedCopy", s.testFailedCopy)
	t.Run("Delete", s.testDelete)
	t.Run("Stat", s.testStat)
	t.Run("Attributes", s.testAttributes)
	t.Run("ContentType", s.testContentType)
	t.Run("List", s.testList)
	t.Run("ListPaging", s.testListPaging)
	t.Run("Copy", s.testCopy)
	t.Run("Save", s.testSave)
	t.Run("SaveConcurrent", s.testSaveConcurrent)
	t.Run("Names", s.testNames)
	t.Run("InvalidNames", s.testInvalidNames)
	t.Run("Context", s.testContext)
	t.Run("SignedURL", s.testSignedURL)
	t.Run("Large", s.testLarge)
	t.Run("Close", s.testClose)
}

type suite struct {
	open func(t *testing.T) *storage.Storage
}

// Open opens rawURL and closes the Storage when the test ends.
func Open(t testing.TB, rawURL string, opts ...storage.Option) *storage.Storage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := storage.Open(ctx, rawURL, opts...)
	if err != nil {
		t.Fatalf("storagetest: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// UniquePrefix returns a fresh prefix ("storagetest-<random>/") for a Storage on a shared bucket.
func UniquePrefix() string { return "storagetest-" + strings.ToLower(rand.Text()[:12]) + "/" }

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func put(t *testing.T, s *storage.Storage, name string, data []byte) {
	t.Helper()
	if err := s.Put(ctxFor(t), name, bytes.NewReader(data), nil); err != nil {
		t.Fatalf("Put(%q): %v", name, err)
	}
}

func mustGet(t *testing.T, s *storage.Storage, name string) []byte {
	t.Helper()
	b, err := s.Get(ctxFor(t), name)
	if err != nil {
		t.Fatalf("Get(%q): %v", name, err)
	}
	return b
}

func wantContent(t *testing.T, s *storage.Storage, name string, want []byte) {
	t.Helper()
	got := mustGet(t, s, name)
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %s, want %s", name, describe(got), describe(want))
	}
}

func wantNotExist(t *testing.T, s *storage.Storage, name string) {
	t.Helper()
	_, err := s.Get(ctxFor(t), name)
	if !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("Get(%q) error = %v, want ErrNotExist", name, err)
	}
}

func describe(b []byte) string {
	if len(b) <= 64 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%q... (%d bytes)", b[:32], len(b))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// httpClient returns a client and a function that turns a signed URL into the request URL:
// for a Storage that signs itself, its handler served on an httptest server.
func httpClient(t *testing.T, s *storage.Storage) (*http.Client, func(string) string) {
	h, err := s.SignedURLHandler()
	if err != nil {
		return http.DefaultClient, func(u string) string { return u }
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.Client(), func(raw string) string {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("signed URL %q: %v", raw, err)
		}
		base, _ := url.Parse(srv.URL)
		u.Scheme, u.Host = base.Scheme, base.Host
		return u.String()
	}
}

// failingReader returns data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// onlyReader hides every method but Read (no Seek, no Len, no WriteTo).
type onlyReader struct{ io.Reader }
