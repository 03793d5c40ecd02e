package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stackkit/stackkit/kit/storage"
	s3 "github.com/stackkit/stackkit/kit/storage/s3"
)

// put writes data under name through the driver.
func put(t *testing.T, d *s3.Driver, name string, data []byte, opts *storage.WriterOptions) error {
	t.Helper()
	if opts == nil {
		opts = &storage.WriterOptions{ContentType: "application/octet-stream", Size: int64(len(data))}
	}
	w, err := d.NewWriter(context.Background(), name, opts)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		_ = w.Abort()
		return err
	}
	return w.Close()
}

func mustPut(t *testing.T, d *s3.Driver, name string, data []byte) {
	t.Helper()
	if err := put(t, d, name, data, nil); err != nil {
		t.Fatalf("put %q: %v", name, err)
	}
}

// read returns bytes [offset, offset+length) of name through the driver.
func read(t *testing.T, d *s3.Driver, name string, offset, length int64) ([]byte, *storage.Attrs, error) {
	t.Helper()
	r, attrs, err := d.NewReader(context.Background(), name, offset, length)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return b, attrs, err
}

func TestReadWriteStat(t *testing.T) {
	srv := testServer(t)
	prefix := srv.testPrefix(t)
	_, d := openDriver(t, srv.url(testBucket, prefix, "cache_control", "max-age=60"))
	ctx := context.Background()

	data := []byte("0123456789abcdefghij")
	opts := &storage.WriterOptions{ContentType: "text/plain; charset=utf-8", Metadata: map[string]string{"owner": "ada"}, Size: -1}
	if err := put(t, d, "dir/file.txt", data, opts); err != nil {
		t.Fatal(err)
	}

	got, attrs, err := read(t, d, "dir/file.txt", 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read = %q, %v; want %q", got, err, data)
	}
	if attrs.Size != 20 || attrs.ContentType != "text/plain; charset=utf-8" || attrs.Metadata["owner"] != "ada" ||
		attrs.CacheControl != "max-age=60" || !strings.HasPrefix(attrs.ETag, `"`) || attrs.ModTime.IsZero() {
		t.Errorf("attrs = %+v", attrs)
	}

	// Ranges: the attributes describe the whole object.
	for _, c := range []struct {
		off, n int64
		want   string
	}{
		{5, 3, "567"}, {15, -1, "fghij"}, {18, 10, "ij"}, {0, 1, "0"}, {20, -1, ""}, {25, 4, ""}, {3, 0, ""},
	} {
		got, attrs, err := read(t, d, "dir/file.txt", c.off, c.n)
		if err != nil || string(got) != c.want || attrs.Size != 20 {
			t.Errorf("read(%d, %d) = %q, size %v, %v; want %q, size 20", c.off, c.n, got, attrs, err, c.want)
		}
	}

	st, err := d.Stat(ctx, "dir/file.txt")
	if err != nil || st.Size != 20 || st.ETag != attrs.ETag || st.Name != "dir/file.txt" {
		t.Errorf("Stat = %+v, %v", st, err)
	}

	// An empty object, read whole and from an offset.
	mustPut(t, d, "empty", nil)
	for _, off := range []int64{0, 1} {
		got, attrs, err := read(t, d, "empty", off, 4)
		if err != nil || len(got) != 0 || attrs.Size != 0 {
			t.Errorf("read(empty, %d) = %q, %+v, %v", off, got, attrs, err)
		}
	}

	// Missing objects.
	for name, err := range map[string]error{
		"stat": func() error { _, err := d.Stat(ctx, "nope"); return err }(),
		"read": func() error { _, _, err := read(t, d, "nope", 0, -1); return err }(),
		"past": func() error { _, _, err := read(t, d, "nope", 10, 5); return err }(),
		"zero": func() error { _, _, err := read(t, d, "nope", 0, 0); return err }(),
		"copy": d.Copy(ctx, "x", "nope"),
	} {
		if !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("%s of a missing object: %v, want ErrNotExist", name, err)
		}
		var ae interface{ ErrorCode() string }
		if name != "zero" && name != "stat" && !errors.As(err, &ae) {
			t.Errorf("%s: the SDK error is not reachable with errors.As: %v", name, err)
		}
	}

	// Delete is idempotent.
	for range 2 {
		if err := d.Delete(ctx, "dir/file.txt"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	if _, err := d.Stat(ctx, "dir/file.txt"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat after Delete: %v", err)
	}
}

// Names with characters that need escaping in a path, a query or a copy source.
var awkwardNames = []string{
	"a b/c+d.txt", "percent%20literal", "ümlaut/ß.txt", "q?x=1&y=2#frag", "semi;colon,comma=eq@at", "tilde~star*'(quote)",
}

func TestAwkwardNamesAndCopy(t *testing.T) {
	srv := testServer(t)
	prefix := srv.testPrefix(t)
	_, d := openDriver(t, srv.url(testBucket, prefix))
	ctx := context.Background()
	for _, name := range awkwardNames {
		data := []byte("content of " + name)
		mustPut(t, d, name, data)
		if got, _, err := read(t, d, name, 0, -1); err != nil || !bytes.Equal(got, data) {
			t.Errorf("read %q = %q, %v", name, got, err)
		}
		dst := "copies/" + name
		if err := d.Copy(ctx, dst, name); err != nil {
			t.Errorf("Copy(%q, %q): %v", dst, name, err)
			continue
		}
		got, attrs, err := read(t, d, dst, 0, -1)
		if err != nil || !bytes.Equal(got, data) || attrs.ContentType != "application/octet-stream" {
			t.Errorf("copy of %q = %q, %+v, %v", name, got, attrs, err)
		}
	}
	// Copy onto itself is a no-op, not S3's "illegal copy" error.
	if err := d.Copy(ctx, awkwardNames[0], awkwardNames[0]); err != nil {
		t.Errorf("Copy onto itself: %v", err)
	}
	// Copy replaces the destination.
	mustPut(t, d, "old", []byte("old"))
	if err := d.Copy(ctx, "old", awkwardNames[1]); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := read(t, d, "old", 0, -1); string(got) != "content of "+awkwardNames[1] {
		t.Errorf("copy over an object left %q", got)
	}
	// The names come back from List exactly.
	var listed []string
	for tok := ""; ; {
		page, err := d.List(ctx, &storage.ListOptions{Token: tok, PageSize: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Objects {
			listed = append(listed, o.Name)
		}
		if tok = page.NextToken; tok == "" {
			break
		}
	}
	for _, name := range awkwardNames {
		if !slices.Contains(listed, name) || !slices.Contains(listed, "copies/"+name) {
			t.Errorf("List lacks %q or its copy: %q", name, listed)
		}
	}
}

func TestList(t *testing.T) {
	srv := testServer(t)
	prefix := srv.testPrefix(t)
	_, d := openDriver(t, srv.url(testBucket, prefix))
	ctx := context.Background()
	names := []string{"a.txt", "b/1", "b/2", "b/c/3", "c", "d/4"}
	for _, n := range names {
		mustPut(t, d, n, []byte(n))
	}
	all := func(opts storage.ListOptions) []string {
		var out []string
		for {
			page, err := d.List(ctx, &opts)
			if err != nil {
				t.Fatalf("List(%+v): %v", opts, err)
			}
			for _, o := range page.Objects {
				s := o.Name
				if o.IsDir {
					s += " DIR"
				} else if o.Size != int64(len(o.Name)) || o.ETag == "" || o.ModTime.IsZero() {
					t.Errorf("entry %+v", o)
				}
				out = append(out, s)
			}
			if page.NextToken == "" {
				return out
			}
			opts.Token = page.NextToken
		}
	}
	for _, c := range []struct {
		opts storage.ListOptions
		want []string
	}{
		{storage.ListOptions{}, names},
		{storage.ListOptions{PageSize: 1}, names},
		{storage.ListOptions{Delimiter: "/"}, []string{"a.txt", "b/ DIR", "c", "d/ DIR"}},
		{storage.ListOptions{Delimiter: "/", PageSize: 1}, []string{"a.txt", "b/ DIR", "c", "d/ DIR"}},
		{storage.ListOptions{Prefix: "b/", Delimiter: "/"}, []string{"b/1", "b/2", "b/c/ DIR"}},
		{storage.ListOptions{Prefix: "b/"}, []string{"b/1", "b/2", "b/c/3"}},
		{storage.ListOptions{Prefix: "zzz"}, nil},
	} {
		if got := all(c.opts); !slices.Equal(got, c.want) {
			t.Errorf("List(%+v) = %q, want %q", c.opts, got, c.want)
		}
	}
}

func TestServerSideOptions(t *testing.T) {
	srv := testServer(t)
	prefix := srv.testPrefix(t)
	_, d := openDriver(t, srv.url(testBucket, prefix, "sse", "AES256", "storage_class", "STANDARD", "acl", "private", "cache_control", "public, max-age=3600"))
	mustPut(t, d, "obj", []byte("x"))
	head, err := srv.client().HeadObject(context.Background(), &awss3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(prefix + "obj")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(head.CacheControl); got != "public, max-age=3600" {
		t.Errorf("Cache-Control = %q", got)
	}
	// versitygw accepts x-amz-server-side-encryption but does not report it back; AWS does.
	t.Logf("server reports sse=%q storage class=%q", head.ServerSideEncryption, head.StorageClass)

	// A writer's own Cache-Control wins over the default.
	if err := put(t, d, "own", []byte("y"), &storage.WriterOptions{ContentType: "text/plain", CacheControl: "no-store", Size: 1}); err != nil {
		t.Fatal(err)
	}
	if st, err := d.Stat(context.Background(), "own"); err != nil || st.CacheControl != "no-store" {
		t.Errorf("Stat = %+v, %v", st, err)
	}
}

func TestDeadline(t *testing.T) {
	srv := testServer(t)
	prefix := srv.testPrefix(t)
	_, d := openDriver(t, srv.url(testBucket, prefix))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Stat(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Stat with a cancelled context: %v", err)
	}
	if _, err := d.NewWriter(ctx, "x", &storage.WriterOptions{ContentType: "text/plain", Size: -1}); !errors.Is(err, context.Canceled) {
		t.Errorf("NewWriter with a cancelled context: %v", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if _, err := d.List(ctx, &storage.ListOptions{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("List past its deadline: %v", err)
	}
}
