package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stackkit/stackkit/kit/storage"
)

const mib = 1 << 20

// writeChunks writes data in uneven chunks, as a caller streaming from a socket would.
func writeChunks(w io.Writer, data []byte) error {
	for i, n := 0, 1; i < len(data); n = n*3 + 7 {
		end := min(i+n%(3*mib)+1, len(data))
		if _, err := w.Write(data[i:end]); err != nil {
			return err
		}
		i = end
	}
	return nil
}

func TestMultipartUpload(t *testing.T) {
	srv := testServer(t)
	prefix := srv.testPrefix(t)
	_, d := openDriver(t, srv.url(testBucket, prefix, "part_size", "5MiB", "concurrency", "3"))
	ctx := context.Background()

	data := randomBytes(17*mib + 12345) // four parts, the last one short
	w, err := d.NewWriter(ctx, "big.bin", &storage.WriterOptions{ContentType: "application/octet-stream", Size: -1, Metadata: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeChunks(w, data); err != nil {
		t.Fatal(err)
	}
	// Nothing is visible before Close.
	if _, err := d.Stat(ctx, "big.bin"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat before Close: %v, want ErrNotExist", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	head, err := srv.client().HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(prefix + "big.bin")})
	if err != nil {
		t.Fatal(err)
	}
	// A multipart ETag ends in -<parts>.
	if etag := aws.ToString(head.ETag); !strings.HasSuffix(strings.Trim(etag, `"`), "-4") {
		t.Errorf("ETag %s: want a 4-part multipart upload", etag)
	}
	got, attrs, err := read(t, d, "big.bin", 0, -1)
	if err != nil || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("read back %d bytes (want %d), %v", len(got), len(data), err)
	}
	if attrs.Metadata["k"] != "v" || attrs.ContentType != "application/octet-stream" {
		t.Errorf("attrs = %+v", attrs)
	}
	// A range across a part boundary.
	part, _, err := read(t, d, "big.bin", 5*mib-10, 20)
	if err != nil || !bytes.Equal(part, data[5*mib-10:5*mib+10]) {
		t.Errorf("range across parts: %v", err)
	}
	if u := srv.uploads(t, testBucket, prefix); len(u) != 0 {
		t.Errorf("%d multipart uploads left after a successful one", len(u))
	}
}

// TestAbort checks that an aborted writer, a cancelled context and a failed conditional commit
// leave neither an object nor an unfinished multipart upload, and keep the previous content.
func TestAbort(t *testing.T) {
	srv := testServer(t)
	prefix := srv.testPrefix(t)
	_, d := openDriver(t, srv.url(testBucket, prefix, "part_size", "5MiB", "concurrency", "2"))
	mustPut(t, d, "kept", []byte("previous"))
	data := randomBytes(12 * mib)

	cases := []struct {
		name string
		size int
		run  func(t *testing.T, name string, size int) error
	}{
		{"abort small", 100, func(t *testing.T, name string, size int) error {
			w, err := d.NewWriter(context.Background(), name, &storage.WriterOptions{ContentType: "x/y", Size: -1})
			if err != nil {
				return err
			}
			if _, err := w.Write(data[:size]); err != nil {
				return err
			}
			return w.Abort()
		}},
		{"abort multipart", 12 * mib, func(t *testing.T, name string, size int) error {
			w, err := d.NewWriter(context.Background(), name, &storage.WriterOptions{ContentType: "x/y", Size: -1})
			if err != nil {
				return err
			}
			if _, err := w.Write(data[:size]); err != nil {
				return err
			}
			// Two parts are sent or in flight: an upload exists on the server.
			if len(srv.uploads(t, testBucket, prefix+name)) != 1 {
				t.Errorf("no multipart upload in progress before Abort")
			}
			return w.Abort()
		}},
		{"cancel multipart", 12 * mib, func(t *testing.T, name string, size int) error {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w, err := d.NewWriter(ctx, name, &storage.WriterOptions{ContentType: "x/y", Size: -1})
			if err != nil {
				return err
			}
			if _, err := w.Write(data[:size]); err != nil {
				return err
			}
			cancel()
			if err := w.Close(); !errors.Is(err, context.Canceled) {
				t.Errorf("Close after cancel: %v, want context.Canceled", err)
			}
			// Further writes fail too.
			if _, err := w.Write([]byte("x")); err == nil {
				t.Errorf("Write after Close succeeded")
			}
			return nil
		}},
		{"cancel while idle", 6 * mib, func(t *testing.T, name string, size int) error {
			// The caller stops writing and never calls Close or Abort: cancelling the
			// context alone must end and abort the upload.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w, err := d.NewWriter(ctx, name, &storage.WriterOptions{ContentType: "x/y", Size: -1})
			if err != nil {
				return err
			}
			if _, err := w.Write(data[:size]); err != nil {
				return err
			}
			cancel()
			if _, err := w.Write([]byte("more")); !errors.Is(err, context.Canceled) {
				t.Errorf("Write after cancel: %v, want context.Canceled", err)
			}
			return w.Abort()
		}},
		{"if-not-exist multipart over existing", 12 * mib, func(t *testing.T, name string, size int) error {
			w, err := d.NewWriter(context.Background(), name, &storage.WriterOptions{ContentType: "x/y", Size: -1, IfNotExist: true})
			if err != nil {
				return err
			}
			if _, err := w.Write(data[:size]); err != nil {
				return err
			}
			if err := w.Close(); !errors.Is(err, storage.ErrExist) {
				t.Errorf("Close = %v, want ErrExist", err)
			}
			return nil
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := "new-" + randomHex(4)
			if strings.Contains(c.name, "existing") {
				name = "kept"
			}
			if err := c.run(t, name, c.size); err != nil {
				t.Fatal(err)
			}
			if name == "kept" {
				if got, _, err := read(t, d, "kept", 0, -1); err != nil || string(got) != "previous" {
					t.Errorf("previous content = %q, %v", got, err)
				}
			} else if _, err := d.Stat(context.Background(), name); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("object visible after %s: %v", c.name, err)
			}
			if u := srv.uploads(t, testBucket, prefix+name); len(u) != 0 {
				t.Errorf("%d multipart uploads left behind", len(u))
			}
		})
	}
}

func TestIfNotExist(t *testing.T) {
	srv := testServer(t)
	for _, mode := range []string{"header", "check"} {
		t.Run(mode, func(t *testing.T) {
			prefix := srv.testPrefix(t)
			_, d := openDriver(t, srv.url(testBucket, prefix, "conditional_write", mode, "part_size", "5MiB"))
			opts := &storage.WriterOptions{ContentType: "text/plain", Size: -1, IfNotExist: true}
			for _, size := range []int{3, 6 * mib} {
				name := "obj-" + randomHex(3)
				first := randomBytes(size)
				if err := put(t, d, name, first, opts); err != nil {
					t.Fatalf("first write of %d bytes: %v", size, err)
				}
				if err := put(t, d, name, []byte("second"), opts); !errors.Is(err, storage.ErrExist) {
					t.Errorf("second write of %d bytes: %v, want ErrExist", size, err)
				}
				if got, _, _ := read(t, d, name, 0, -1); !bytes.Equal(got, first) {
					t.Errorf("the refused write changed the object")
				}
			}
		})
	}
}

func TestMultipartCopy(t *testing.T) {
	srv := testServer(t)
	prefix := srv.testPrefix(t)
	_, d := openDriver(t, srv.url(testBucket, prefix, "part_size", "5MiB"))
	d.SetMaxCopySize(5 * mib)
	data := randomBytes(11*mib + 1)
	if err := put(t, d, "src file", data, &storage.WriterOptions{ContentType: "image/png", CacheControl: "max-age=5", Metadata: map[string]string{"a": "b"}, Size: -1}); err != nil {
		t.Fatal(err)
	}
	if err := d.Copy(context.Background(), "dst/copy", "src file"); err != nil {
		t.Fatalf("Copy: %v", err)
	}
	got, attrs, err := read(t, d, "dst/copy", 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("copy: %d bytes, %v", len(got), err)
	}
	if attrs.ContentType != "image/png" || attrs.CacheControl != "max-age=5" || attrs.Metadata["a"] != "b" {
		t.Errorf("copy attrs = %+v", attrs)
	}
	if u := srv.uploads(t, testBucket, prefix); len(u) != 0 {
		t.Errorf("%d multipart uploads left", len(u))
	}
}

// TestTooManyParts checks that a stream outgrowing part_size × the part limit fails with a
// message saying what to do, and leaves nothing behind.
func TestTooManyParts(t *testing.T) {
	srv := testServer(t)
	prefix := srv.testPrefix(t)
	_, d := openDriver(t, srv.url(testBucket, prefix, "part_size", "5MiB"))
	d.SetMaxParts(2)
	w, err := d.NewWriter(context.Background(), "huge", &storage.WriterOptions{ContentType: "x/y", Size: -1})
	if err != nil {
		t.Fatal(err)
	}
	err = writeChunks(w, randomBytes(15*mib+1))
	if err == nil {
		err = w.Close()
	} else {
		_ = w.Abort()
	}
	if err == nil || !strings.Contains(err.Error(), "more than 2 parts") {
		t.Fatalf("write of three parts with a limit of two: %v", err)
	}
	if _, err := d.Stat(context.Background(), "huge"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat: %v", err)
	}
	if u := srv.uploads(t, testBucket, prefix); len(u) != 0 {
		t.Errorf("%d multipart uploads left", len(u))
	}
}

// TestReadFrom writes through the writer's io.ReaderFrom (what Put uses), at sizes around the
// part size: an exact multiple ends with a full last part, a known small size fills a buffer of
// its own size.
func TestReadFrom(t *testing.T) {
	srv := testServer(t)
	prefix := srv.testPrefix(t)
	_, d := openDriver(t, srv.url(testBucket, prefix, "part_size", "5MiB", "concurrency", "2"))
	for _, c := range []struct {
		size     int
		known    bool
		etagPart string // "" for a single PutObject
	}{
		{0, false, ""}, {0, true, ""}, {100, true, ""}, {100, false, ""},
		{5 * mib, false, ""}, {5 * mib, true, ""}, {10 * mib, false, "-2"}, {12*mib + 3, true, "-3"},
	} {
		name := fmt.Sprintf("rf-%d-%v", c.size, c.known)
		data := randomBytes(c.size)
		size := int64(-1)
		if c.known {
			size = int64(c.size)
		}
		w, err := d.NewWriter(context.Background(), name, &storage.WriterOptions{ContentType: "x/y", Size: size})
		if err != nil {
			t.Fatal(err)
		}
		// Only Read, in odd-sized pieces, as from a pipe.
		n, err := w.(io.ReaderFrom).ReadFrom(iotest.HalfReader(bytes.NewReader(data)))
		if err != nil || n != int64(c.size) {
			t.Fatalf("%s: ReadFrom = %d, %v", name, n, err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("%s: Close: %v", name, err)
		}
		got, _, err := read(t, d, name, 0, -1)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: read back %d bytes, %v", name, len(got), err)
		}
		head, err := srv.client().HeadObject(context.Background(), &awss3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(prefix + name)})
		if err != nil {
			t.Fatal(err)
		}
		etag := strings.Trim(aws.ToString(head.ETag), `"`)
		if c.etagPart == "" && strings.Contains(etag, "-") || c.etagPart != "" && !strings.HasSuffix(etag, c.etagPart) {
			t.Errorf("%s: ETag %s, want parts %q", name, etag, c.etagPart)
		}
	}
	// A failing source leaves the writer open for Abort, and nothing behind.
	w, err := d.NewWriter(context.Background(), "rf-fail", &storage.WriterOptions{ContentType: "x/y", Size: -1})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("source failed")
	if _, err := w.(io.ReaderFrom).ReadFrom(io.MultiReader(bytes.NewReader(randomBytes(7*mib)), iotest.ErrReader(boom))); !errors.Is(err, boom) {
		t.Fatalf("ReadFrom of a failing source: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Stat(context.Background(), "rf-fail"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat after a failed ReadFrom and Abort: %v", err)
	}
	if u := srv.uploads(t, testBucket, prefix); len(u) != 0 {
		t.Errorf("%d multipart uploads left", len(u))
	}
}
