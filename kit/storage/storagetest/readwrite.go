package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/kit/storage"
)

func (s *suite) testRoundTrip(t *testing.T) {
	t.Parallel()
	st := s.open(t)
	ctx := ctxFor(t)
	for _, size := range []int{0, 1, 511, 512, 513, 64 << 10, 1<<20 + 7} {
		name := "rt/size-" + strconv.Itoa(size) + ".bin"
		data := randomBytes(size)
		put(t, st, name, data)
		wantContent(t, st, name, data)

		r, err := st.Open(ctx, name)
		if err != nil {
			t.Fatalf("Open(%q): %v", name, err)
		}
		if got := r.Attrs().Size; got != int64(size) {
			t.Errorf("Open(%q).Attrs().Size = %d, want %d", name, got, size)
		}
		var buf bytes.Buffer
		if _, err := io.Copy(&buf, r); err != nil {
			t.Fatalf("read %q: %v", name, err)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("Close reader: %v", err)
		}
		if !bytes.Equal(buf.Bytes(), data) {
			t.Fatalf("streamed %q = %s, want %s", name, describe(buf.Bytes()), describe(data))
		}
	}
	// Create with many small writes.
	w, err := st.Create(ctx, "rt/small-writes.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	for i := range 1000 {
		line := []byte("line " + strconv.Itoa(i) + "\n")
		want.Write(line)
		if _, err := w.Write(line); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantContent(t, st, "rt/small-writes.txt", want.Bytes())
	// A reader that is neither sized nor seekable.
	if err := st.Put(ctx, "rt/stream.txt", onlyReader{strings.NewReader("streamed")}, nil); err != nil {
		t.Fatal(err)
	}
	wantContent(t, st, "rt/stream.txt", []byte("streamed"))
	// Missing objects.
	wantNotExist(t, st, "rt/missing")
	if _, err := st.Open(ctx, "rt/missing"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want ErrNotExist", err)
	}
	if _, err := st.OpenRange(ctx, "rt/missing", 5, 5); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("OpenRange(missing) = %v, want ErrNotExist", err)
	}
}

func (s *suite) testRanges(t *testing.T) {
	t.Parallel()
	st := s.open(t)
	ctx := ctxFor(t)
	data := []byte("0123456789abcdefghij") // 20 bytes
	put(t, st, "range.txt", data)
	cases := []struct {
		off, n int64
		want   string
	}{
		{0, -1, string(data)},
		{0, 5, "01234"},
		{5, 5, "56789"},
		{15, -1, "fghij"},
		{15, 100, "fghij"}, // cut at the end
		{19, 1, "j"},
		{20, -1, ""},  // at the end
		{25, 10, ""},  // past the end
		{0, 0, ""},    // empty range
		{100, -1, ""}, // far past the end
	}
	for _, c := range cases {
		r, err := st.OpenRange(ctx, "range.txt", c.off, c.n)
		if err != nil {
			t.Errorf("OpenRange(%d, %d): %v", c.off, c.n, err)
			continue
		}
		got, err := io.ReadAll(r)
		_ = r.Close()
		if err != nil {
			t.Errorf("OpenRange(%d, %d) read: %v", c.off, c.n, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("OpenRange(%d, %d) = %q, want %q", c.off, c.n, got, c.want)
		}
		if r.Attrs().Size != int64(len(data)) {
			t.Errorf("OpenRange(%d, %d).Attrs().Size = %d, want the whole object's %d", c.off, c.n, r.Attrs().Size, len(data))
		}
	}
	if _, err := st.OpenRange(ctx, "range.txt", -1, 5); err == nil {
		t.Error("OpenRange with a negative offset succeeded")
	}
}

func (s *suite) testOverwrite(t *testing.T) {
	t.Parallel()
	st := s.open(t)
	put(t, st, "ow.txt", []byte("first version, longer"))
	put(t, st, "ow.txt", []byte("second"))
	wantContent(t, st, "ow.txt", []byte("second"))
	put(t, st, "ow.txt", nil)
	wantContent(t, st, "ow.txt", []byte{})
}

func (s *suite) testAtomicCreate(t *testing.T) {
	t.Parallel()
	st := s.open(t)
	ctx := ctxFor(t)
	old := []byte("old content")
	put(t, st, "atomic.txt", old)

	// While a write is under way, readers see the old content, and a new name does not exist.
	w, err := st.Create(ctx, "atomic.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(bytes.Repeat([]byte("new "), 1000)); err != nil {
		t.Fatal(err)
	}
	wantContent(t, st, "atomic.txt", old)
	wNew, err := st.Create(ctx, "atomic-new.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wNew.Write(bytes.Repeat([]byte("x"), 2000)); err != nil {
		t.Fatal(err)
	}
	if ok, err := st.Exists(ctx, "atomic-new.txt"); err != nil || ok {
		t.Errorf("Exists(a name being written) = %v, %v; want false", ok, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := wNew.Close(); err != nil {
		t.Fatal(err)
	}
	wantContent(t, st, "atomic.txt", bytes.Repeat([]byte("new "), 1000))

	// A failed write (the source errors) leaves the old content.
	put(t, st, "atomic.txt", old)
	boom := errors.New("source failed")
	err = st.Put(ctx, "atomic.txt", &failingReader{data: bytes.Repeat([]byte("partial "), 10000), err: boom}, nil)
	if !errors.Is(err, boom) {
		t.Fatalf("Put from a failing reader = %v, want its error", err)
	}
	wantContent(t, st, "atomic.txt", old)
	err = st.Put(ctx, "atomic-failed.txt", &failingReader{data: []byte("partial"), err: boom}, nil)
	if !errors.Is(err, boom) {
		t.Fatalf("Put from a failing reader = %v, want its error", err)
	}
	wantNotExist(t, st, "atomic-failed.txt")

	// A cancelled context discards the write, before or at Close.
	cctx, cancel := context.WithCancel(ctx)
	w, err = st.Create(cctx, "atomic.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(bytes.Repeat([]byte("cancelled "), 1000)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := w.Close(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close after cancel = %v, want context.Canceled", err)
	}
	wantContent(t, st, "atomic.txt", old)

	cctx, cancel = context.WithCancel(ctx)
	w, err = st.Create(cctx, "atomic-cancel-new.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("short")); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := w.Write([]byte("more")); !errors.Is(err, context.Canceled) {
		t.Errorf("Write after cancel = %v, want context.Canceled", err)
	}
	if err := w.Close(); !errors.Is(err, context.Canceled) {
		t.Errorf("Close after cancel = %v, want context.Canceled", err)
	}
	wantNotExist(t, st, "atomic-cancel-new.txt")
}

func (s *suite) testAbort(t *testing.T) {
	t.Parallel()
	st := s.open(t)
	ctx := ctxFor(t)
	put(t, st, "abort.txt", []byte("kept"))
	for _, size := range []int{3, 4096} { // before and after content-type sniffing ends
		w, err := st.Create(ctx, "abort.txt", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(bytes.Repeat([]byte("z"), size)); err != nil {
			t.Fatal(err)
		}
		if err := w.Abort(); err != nil {
			t.Fatalf("Abort: %v", err)
		}
		if err := w.Close(); err == nil {
			t.Error("Close after Abort succeeded")
		}
		if _, err := w.Write([]byte("x")); err == nil {
			t.Error("Write after Abort succeeded")
		}
		wantContent(t, st, "abort.txt", []byte("kept"))

		w, err = st.Create(ctx, "abort-new.txt", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(bytes.Repeat([]byte("z"), size)); err != nil {
			t.Fatal(err)
		}
		if err := w.Abort(); err != nil {
			t.Fatalf("Abort: %v", err)
		}
		wantNotExist(t, st, "abort-new.txt")
	}
	// Abort after a successful Close changes nothing.
	w, err := st.Create(ctx, "abort.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("committed")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Abort after Close = %v, want ErrClosed", err)
	}
	wantContent(t, st, "abort.txt", []byte("committed"))
}

// testFailedCopy: an io.Copy into an ObjectWriter whose source fails (before and after
// content-type sniffing ends) fails the writer: Close does not commit the partial content.
func (s *suite) testFailedCopy(t *testing.T) {
	t.Parallel()
	st := s.open(t)
	ctx := ctxFor(t)
	old := []byte("OLD CONTENT")
	put(t, st, "failed-copy.txt", old)
	boom := errors.New("source failed")
	for _, size := range []int{100, 1000, 70 << 10} {
		for _, name := range []string{"failed-copy.txt", "failed-copy-new.txt"} {
			w, err := st.Create(ctx, name, nil)
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(w, &failingReader{data: bytes.Repeat([]byte("p"), size), err: boom})
			if !errors.Is(err, boom) {
				t.Fatalf("io.Copy of a source failing after %d bytes = %d, %v; want an error wrapping the source's", size, n, err)
			}
			if err := w.Close(); err == nil {
				t.Errorf("Close after a failed io.Copy of %d bytes succeeded", size)
			}
			if _, err := w.Write([]byte("x")); err == nil {
				t.Errorf("Write after a failed io.Copy succeeded")
			}
			if name == "failed-copy.txt" {
				wantContent(t, st, name, old)
			} else {
				wantNotExist(t, st, name)
			}
		}
	}
}

func (s *suite) testDelete(t *testing.T) {
	t.Parallel()
	st := s.open(t)
	ctx := ctxFor(t)
	put(t, st, "del/a.txt", []byte("a"))
	put(t, st, "del/b.txt", []byte("b"))
	for range 2 { // idempotent
		if err := st.Delete(ctx, "del/a.txt"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	wantNotExist(t, st, "del/a.txt")
	wantContent(t, st, "del/b.txt", []byte("b"))
	if err := st.Delete(ctx, "never/existed.txt"); err != nil {
		t.Errorf("Delete(missing) = %v, want nil", err)
	}
	// Deleting the last object under a prefix leaves nothing listed, and the prefix usable.
	if err := st.Delete(ctx, "del/b.txt"); err != nil {
		t.Fatal(err)
	}
	if got := names(t, st, &storage.ListOptions{Prefix: "del/"}); len(got) != 0 {
		t.Errorf("List after deleting everything = %q", got)
	}
	put(t, st, "del/c.txt", []byte("c"))
	wantContent(t, st, "del/c.txt", []byte("c"))
}

func (s *suite) testStat(t *testing.T) {
	t.Parallel()
	st := s.open(t)
	ctx := ctxFor(t)
	put(t, st, "stat/x.txt", []byte("hello"))
	a, err := st.Stat(ctx, "stat/x.txt")
	if err != nil {
		t.Fatal(err)
	}
	if a.Size != 5 {
		t.Errorf("Size = %d, want 5", a.Size)
	}
	if a.ModTime.IsZero() {
		t.Error("ModTime is zero")
	}
	if len(a.ETag) < 3 || !strings.HasPrefix(a.ETag, `"`) || !strings.HasSuffix(a.ETag, `"`) {
		t.Errorf("ETag = %q, want a quoted string", a.ETag)
	}
	if !strings.HasPrefix(a.ContentType, "text/plain") {
		t.Errorf("ContentType = %q, want text/plain", a.ContentType)
	}
	put(t, st, "stat/x.txt", []byte("hello, world"))
	b, err := st.Stat(ctx, "stat/x.txt")
	if err != nil {
		t.Fatal(err)
	}
	if b.ETag == a.ETag {
		t.Errorf("ETag %q did not change with the content", a.ETag)
	}
	if ok, err := st.Exists(ctx, "stat/x.txt"); !ok || err != nil {
		t.Errorf("Exists = %v, %v", ok, err)
	}
	if ok, err := st.Exists(ctx, "stat/missing.txt"); ok || err != nil {
		t.Errorf("Exists(missing) = %v, %v", ok, err)
	}
	if ok, err := st.Exists(ctx, "stat"); ok || err != nil {
		t.Errorf("Exists(a prefix) = %v, %v; a prefix is not an object", ok, err)
	}
	if _, err := st.Stat(ctx, "stat/missing.txt"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat(missing) = %v, want ErrNotExist", err)
	}
	if _, err := st.Stat(ctx, "stat"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat(a prefix) = %v, want ErrNotExist", err)
	}
}

func (s *suite) testAttributes(t *testing.T) {
	t.Parallel()
	st := s.open(t)
	ctx := ctxFor(t)
	opts := &storage.WriterOptions{
		ContentType:  "application/vnd.kit+json",
		CacheControl: "public, max-age=60",
		Metadata:     map[string]string{"owner": "ada", "purpose": "conformance"},
	}
	if err := st.Put(ctx, "attrs.dat", strings.NewReader(`{"a":1}`), opts); err != nil {
		t.Fatal(err)
	}
	check := func(what string, a *storage.Attrs) {
		t.Helper()
		if a.ContentType != opts.ContentType {
			t.Errorf("%s: ContentType = %q, want %q", what, a.ContentType, opts.ContentType)
		}
		if a.CacheControl != opts.CacheControl {
			t.Errorf("%s: CacheControl = %q, want %q", what, a.CacheControl, opts.CacheControl)
		}
		if a.Metadata["owner"] != "ada" || a.Metadata["purpose"] != "conformance" || len(a.Metadata) != 2 {
			t.Errorf("%s: Metadata = %v, want %v", what, a.Metadata, opts.Metadata)
		}
	}
	a, err := st.Stat(ctx, "attrs.dat")
	if err != nil {
		t.Fatal(err)
	}
	check("Stat", a)
	r, err := st.Open(ctx, "attrs.dat")
	if err != nil {
		t.Fatal(err)
	}
	check("Open", r.Attrs())
	_ = r.Close()
	if err := st.Copy(ctx, "attrs-copy.dat", "attrs.dat"); err != nil {
		t.Fatal(err)
	}
	if a, err = st.Stat(ctx, "attrs-copy.dat"); err != nil {
		t.Fatal(err)
	}
	check("Stat of a copy", a)
}

func (s *suite) testContentType(t *testing.T) {
	t.Parallel()
	st := s.open(t)
	ctx := ctxFor(t)
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 600)...)
	cases := []struct {
		name string
		data []byte
		opt  string
		want string
	}{
		{"style.css", []byte("body{}"), "", "text/css; charset=utf-8"},
		{"page.html", []byte("<p>x"), "", "text/html; charset=utf-8"},
		{"image.png", []byte("not really a png"), "", "image/png"}, // the extension wins
		{"upload", png, "", "image/png"},                           // sniffed
		{"notes", []byte("just some text"), "", "text/plain; charset=utf-8"},
		{"empty", nil, "", "text/plain; charset=utf-8"},
		{"data.unknownext", []byte("%PDF-1.7 ..."), "", "application/pdf"},
		{"given.css", []byte("body{}"), "text/x-custom", "text/x-custom"}, // given wins
	}
	for _, c := range cases {
		if err := st.Put(ctx, c.name, bytes.NewReader(c.data), &storage.WriterOptions{ContentType: c.opt}); err != nil {
			t.Fatalf("Put(%q): %v", c.name, err)
		}
		a, err := st.Stat(ctx, c.name)
		if err != nil {
			t.Fatal(err)
		}
		if a.ContentType != c.want {
			t.Errorf("Stat(%q).ContentType = %q, want %q", c.name, a.ContentType, c.want)
		}
	}
	// Sniffing across many small writes and through io.Copy's ReadFrom.
	w, err := st.Create(ctx, "byte-by-byte", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range png {
		if _, err := w.Write(png[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, err = st.Create(ctx, "read-from", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, onlyReader{bytes.NewReader(png)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"byte-by-byte", "read-from"} {
		a, err := st.Stat(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if a.ContentType != "image/png" {
			t.Errorf("Stat(%q).ContentType = %q, want image/png", name, a.ContentType)
		}
		wantContent(t, st, name, png)
	}
}

func (s *suite) testCopy(t *testing.T) {
	t.Parallel()
	st := s.open(t)
	ctx := ctxFor(t)
	data := randomBytes(100 << 10)
	put(t, st, "copy/src.bin", data)
	if err := st.Copy(ctx, "copy/sub/dst.bin", "copy/src.bin"); err != nil {
		t.Fatal(err)
	}
	wantContent(t, st, "copy/sub/dst.bin", data)
	wantContent(t, st, "copy/src.bin", data)
	put(t, st, "copy/other.txt", []byte("other"))
	if err := st.Copy(ctx, "copy/other.txt", "copy/src.bin"); err != nil {
		t.Fatal(err)
	}
	wantContent(t, st, "copy/other.txt", data)
	if err := st.Copy(ctx, "copy/x", "copy/missing"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Copy(missing) = %v, want ErrNotExist", err)
	}
	wantNotExist(t, st, "copy/x")
}

func (s *suite) testLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large object skipped in -short mode")
	}
	t.Parallel()
	st := s.open(t)
	ctx := ctxFor(t)
	const size = 32 << 20
	chunk := randomBytes(1 << 20)
	w, err := st.Create(ctx, "large.bin", nil)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for range size / len(chunk) {
		chunk[0]++ // vary the chunks
		h.Write(chunk)
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := h.Sum(nil)
	r, err := st.Open(ctx, "large.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h.Reset()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatal(err)
	}
	if n != size || !bytes.Equal(h.Sum(nil), want) {
		t.Fatalf("read back %d bytes with a different hash (want %d bytes)", n, size)
	}
}

func (s *suite) testClose(t *testing.T) {
	st := s.open(t)
	ctx := ctxFor(t)
	put(t, st, "closed.txt", []byte("x"))
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	checks := map[string]error{}
	_, checks["Get"] = st.Get(ctx, "closed.txt")
	_, checks["Open"] = st.Open(ctx, "closed.txt")
	_, checks["Stat"] = st.Stat(ctx, "closed.txt")
	_, checks["Exists"] = st.Exists(ctx, "closed.txt")
	checks["Put"] = st.Put(ctx, "closed.txt", strings.NewReader("y"), nil)
	_, checks["Create"] = st.Create(ctx, "closed.txt", nil)
	checks["Delete"] = st.Delete(ctx, "closed.txt")
	checks["Copy"] = st.Copy(ctx, "b.txt", "closed.txt")
	_, checks["Save"] = st.Save(ctx, "closed.txt", strings.NewReader("y"), nil)
	_, checks["SignedURL"] = st.SignedURL(ctx, "closed.txt", nil)
	for _, err := range st.List(ctx, nil) {
		checks["List"] = err
		break
	}
	for op, err := range checks {
		if !errors.Is(err, storage.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", op, err)
		}
	}
}
