package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/storage"
	"github.com/stackkit/stackkit/kit/storage/storagetest"
)

func openDir(t *testing.T, dir string, query string) *storage.Storage {
	t.Helper()
	return storagetest.Open(t, "file://"+dir+query)
}

func listAll(t *testing.T, s *storage.Storage) []string {
	t.Helper()
	var out []string
	for obj, err := range s.List(t.Context(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, obj.Name)
	}
	return out
}

// filesOnDisk lists every entry under dir, temporary files included.
func filesOnDisk(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFileSymlinkOutsideRefused(t *testing.T) {
	ctx := t.Context()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.txt")
	if err := os.WriteFile(secret, []byte("outside secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(secret, filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "evil")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../", filepath.Join(dir, "up")); err != nil {
		t.Fatal(err)
	}
	s := openDir(t, dir, "")

	for _, name := range []string{"link.txt", "evil/secret.txt", "up/etc/passwd"} {
		b, err := s.Get(ctx, name)
		if err == nil || bytes.Contains(b, []byte("secret")) {
			t.Errorf("Get(%q) through a symlink leading outside = %q, %v; want refused", name, b, err)
		}
		if _, err := s.Stat(ctx, name); err == nil {
			t.Errorf("Stat(%q) through a symlink leading outside succeeded", name)
		}
		if _, err := s.OpenRange(ctx, name, 0, 3); err == nil {
			t.Errorf("OpenRange(%q) through a symlink leading outside succeeded", name)
		}
		if err := s.Copy(ctx, "copied.txt", name); err == nil {
			t.Errorf("Copy from %q succeeded", name)
		}
	}
	if _, err := s.Get(ctx, "link.txt"); !errors.Is(err, storage.ErrInvalidName) {
		t.Errorf("Get(link.txt) = %v, want ErrInvalidName naming the symlink", err)
	}

	// Writes through a symlinked directory are refused and create nothing outside.
	if err := s.Put(ctx, "evil/new.txt", strings.NewReader("x"), nil); err == nil {
		t.Error("Put through a symlinked directory leading outside succeeded")
	}
	if err := s.Put(ctx, "up/new.txt", strings.NewReader("x"), nil); err == nil {
		t.Error("Put through a symlink to ../../ succeeded")
	}
	if err := s.Delete(ctx, "evil/secret.txt"); err == nil {
		t.Error("Delete through a symlinked directory leading outside succeeded")
	}
	if _, err := s.Save(ctx, "evil/secret.txt", strings.NewReader("x"), nil); err == nil {
		t.Error("Save through a symlinked directory leading outside succeeded")
	}
	if got, _ := os.ReadFile(secret); string(got) != "outside secret" {
		t.Fatalf("the outside file changed: %q", got)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Fatalf("files appeared outside the storage directory: %v", entries)
	}
	// Put over the symlink itself replaces the link, never the file it points to.
	if err := s.Put(ctx, "link.txt", strings.NewReader("replaced"), nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(secret); string(got) != "outside secret" {
		t.Fatalf("Put over a symlink wrote through it: %q", got)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "link.txt")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("link.txt after Put: %v, %v; want a regular file", fi, err)
	}
	// List shows neither the escaping links nor what is behind them.
	if got := listAll(t, s); !slices.Equal(got, []string{"link.txt"}) {
		t.Errorf("List = %q, want only the replaced link.txt", got)
	}
}

func TestFileSymlinkInsideFollowed(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := openDir(t, dir, "")
	if err := s.Put(ctx, "real/a.txt", strings.NewReader("a"), nil); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real/a.txt", filepath.Join(dir, "a-link.txt")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alias/a.txt", "a-link.txt"} {
		if b, err := s.Get(ctx, name); err != nil || string(b) != "a" {
			t.Errorf("Get(%q) through a symlink inside the root = %q, %v", name, b, err)
		}
	}
	// A symlinked directory is not descended into (it could loop); a symlinked file is listed.
	if err := os.Symlink(".", filepath.Join(dir, "real", "loop")); err != nil {
		t.Fatal(err)
	}
	if got := listAll(t, s); !slices.Equal(got, []string{"a-link.txt", "real/a.txt"}) {
		t.Errorf("List = %q", got)
	}
}

func TestFileReservedAndOddNames(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := openDir(t, dir, "")
	for _, name := range []string{".kit-tmp-x", "a/.kit-tmp-y"} {
		if err := s.Put(ctx, name, strings.NewReader("x"), nil); !errors.Is(err, storage.ErrInvalidName) {
			t.Errorf("Put(%q) = %v, want ErrInvalidName (reserved)", name, err)
		}
	}
	// An object cannot also be a directory on a file system.
	if err := s.Put(ctx, "f", strings.NewReader("file"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "f/under", strings.NewReader("x"), nil); err == nil || !strings.Contains(err.Error(), "is a file") {
		t.Errorf("Put under a file = %v, want an error saying f is a file", err)
	}
	if err := s.Put(ctx, "d/x", strings.NewReader("x"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "d", strings.NewReader("x"), nil); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("Put over a directory = %v, want an error saying d is a directory", err)
	}
	if err := s.Delete(ctx, "d"); err != nil {
		t.Errorf("Delete of a directory = %v, want nil (not an object)", err)
	}
	wantFile(t, s, "d/x", "x")
	// A FIFO placed in the directory is not an object, and reading it must not block.
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if _, err := s.Get(ctx, "fifo"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Get(fifo) = %v, want ErrNotExist", err)
	}
	if got := listAll(t, s); !slices.Equal(got, []string{"d/x", "f"}) {
		t.Errorf("List = %q", got)
	}
}

func wantFile(t *testing.T, s *storage.Storage, name, want string) {
	t.Helper()
	b, err := s.Get(t.Context(), name)
	if err != nil || string(b) != want {
		t.Fatalf("Get(%q) = %q, %v; want %q", name, b, err, want)
	}
}

func TestFileAtomicWrites(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := openDir(t, dir, "")
	if err := s.Put(ctx, "docs/a.txt", strings.NewReader("old"), nil); err != nil {
		t.Fatal(err)
	}
	// A reader opened before a write keeps reading the content it opened.
	r, err := s.Open(ctx, "docs/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Create(ctx, "docs/a.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("new content")); err != nil {
		t.Fatal(err)
	}
	// The write goes to a temporary file beside the target, hidden from List.
	onDisk := filesOnDisk(t, dir)
	if !slices.ContainsFunc(onDisk, func(p string) bool { return strings.HasPrefix(p, "docs/.kit-tmp-") }) {
		t.Errorf("no temporary file in the target's directory during a write: %q", onDisk)
	}
	if got := listAll(t, s); !slices.Equal(got, []string{"docs/a.txt"}) {
		t.Errorf("List during a write = %q", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(r); string(b) != "old" {
		t.Errorf("reader opened before the write read %q, want the old content", b)
	}
	_ = r.Close()
	wantFile(t, s, "docs/a.txt", "new content")

	// Failed, aborted and cancelled writes leave no temporary file behind.
	w, _ = s.Create(ctx, "docs/a.txt", nil)
	_, _ = w.Write([]byte("aborted"))
	_ = w.Abort()
	cctx, cancel := context.WithCancel(ctx)
	w, _ = s.Create(cctx, "docs/b.txt", nil)
	_, _ = w.Write(bytes.Repeat([]byte("x"), 4096))
	cancel()
	_ = w.Close()
	_ = s.Put(ctx, "docs/a.txt", io.MultiReader(strings.NewReader("partial"), errReader{}), nil)
	if got := filesOnDisk(t, dir); !slices.Equal(got, []string{"docs", "docs/a.txt"}) {
		t.Errorf("files on disk = %q, want only docs/a.txt", got)
	}
	wantFile(t, s, "docs/a.txt", "new content")

	// Deleting the last object of a directory removes the directories it leaves empty.
	if err := s.Put(ctx, "x/y/z.txt", strings.NewReader("z"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "x/y/z.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty directories left after Delete: %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("the storage directory itself was removed: %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("source broke") }

func TestFilePermissions(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	old := syscall.Umask(0o077) // the configured modes must win over the umask
	t.Cleanup(func() { syscall.Umask(old) })
	s := openDir(t, dir, "?file_mode=0664&dir_mode=0775")
	if err := s.Put(ctx, "p/q/file.txt", strings.NewReader("x"), nil); err != nil {
		t.Fatal(err)
	}
	check := func(p string, want fs.FileMode) {
		t.Helper()
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", p, got, want)
		}
	}
	check("p", 0o775)
	check("p/q", 0o775)
	check("p/q/file.txt", 0o664)
	if err := s.Copy(ctx, "p/copy.txt", "p/q/file.txt"); err != nil {
		t.Fatal(err)
	}
	check("p/copy.txt", 0o664)

	// Defaults: 0644 and 0755, whatever the umask.
	dir2 := t.TempDir()
	s2 := openDir(t, dir2, "")
	if err := s2.Put(ctx, "d/f", strings.NewReader("x"), nil); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]fs.FileMode{"d": 0o755, "d/f": 0o644} {
		fi, err := os.Stat(filepath.Join(dir2, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("default mode of %s = %o, want %o", p, fi.Mode().Perm(), want)
		}
	}
}

func TestFileOpenErrors(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	cases := map[string]string{
		"file://" + dir + "?file_mode=999":        `option "file_mode"="999": not an octal permission`,
		"file://" + dir + "?file_mode=0444":       "must give the owner at least rw- (0600)",
		"file://" + dir + "?dir_mode=0600":        "must give the owner at least rwx (0700)",
		"file://" + dir + "?fiel_mode=0644":       `option "fiel_mode": unknown option (valid options: base_url, dir_mode, file_mode, secret, sync)`,
		"file://" + dir + "?secret=short":         "signing key is 5 bytes; want at least 16",
		"file://" + dir + "?base_url=ftp:x":       "base URL",
		"file://" + dir + "?base_url=/m/%3Fq=1#f": "base URL",
		"file://": "no storage directory",
	}
	for u, want := range cases {
		_, err := storage.Open(ctx, u)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q) = %v, want an error containing %q", u, err, want)
		}
	}
	_, err := storage.Open(ctx, "file://"+dir+"?secret=short")
	if err != nil && strings.Contains(err.Error(), "secret=short") {
		t.Errorf("the secret leaked into the error: %v", err)
	}
	_, err = storage.Open(ctx, "nope://x")
	if err == nil || !strings.Contains(err.Error(), "registered schemes: file, mem") {
		t.Errorf("Open(unknown scheme) = %v", err)
	}
	if !slices.Contains(storage.Schemes(), "file") || !slices.Contains(storage.Schemes(), "mem") {
		t.Errorf("Schemes() = %q", storage.Schemes())
	}
}

func TestFileDefaultURL(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s := storagetest.Open(t, "")
	if err := s.Put(t.Context(), "x.txt", strings.NewReader("x"), nil); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, ".kit", "media", "x.txt")); err != nil || string(b) != "x" {
		t.Errorf("DefaultURL did not store under .kit/media: %q, %v", b, err)
	}
}

func TestFileSurvivesReopen(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, err := storage.Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	opts := &storage.WriterOptions{ContentType: "application/x-kit", CacheControl: "no-cache", Metadata: map[string]string{"k": "v"}}
	if err := s.Put(ctx, "keep/me.dat", strings.NewReader("persisted"), opts); err != nil {
		t.Fatal(err)
	}
	before, err := s.Stat(ctx, "keep/me.dat")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openDir(t, dir, "")
	wantFile(t, s, "keep/me.dat", "persisted")
	after, err := s.Stat(ctx, "keep/me.dat")
	if err != nil {
		t.Fatal(err)
	}
	if after.ContentType != "application/x-kit" || after.CacheControl != "no-cache" || after.Metadata["k"] != "v" || after.ETag != before.ETag {
		t.Errorf("after reopen Stat = %+v, want %+v", after, before)
	}
	// Files put there by other means get their type from the extension or the content.
	if err := os.WriteFile(filepath.Join(dir, "ext.css"), []byte("body{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "blob"), []byte("\x89PNG\r\n\x1a\nrest"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"ext.css": "text/css; charset=utf-8", "blob": "image/png"} {
		a, err := s.Stat(ctx, name)
		if err != nil || a.ContentType != want {
			t.Errorf("Stat(%q) = %+v, %v; want content type %q", name, a, err, want)
		}
	}
	if got := listAll(t, s); !slices.Equal(got, []string{"blob", "ext.css", "keep/me.dat"}) {
		t.Errorf("List after reopen = %q", got)
	}
}

// TestFileStreamsWithBoundedMemory writes and reads 64 MiB through Create and Open and checks
// that the heap allocated along the way is a small fraction of it: nothing buffers the object.
func TestFileStreamsWithBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB stream skipped in -short mode")
	}
	ctx := t.Context()
	s := openDir(t, t.TempDir(), "")
	const size = 64 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w, err := s.Create(ctx, "big.bin", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, io.LimitReader(zeroes{}, size)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, "big.bin")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	_ = r.Close()
	if err != nil || n != size {
		t.Fatalf("read %d bytes, %v", n, err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("moving 64 MiB in and out allocated %d bytes; want < 4 MiB (no buffering)", alloc)
	} else {
		t.Logf("64 MiB written and read with %d bytes allocated", alloc)
	}
}

type zeroes struct{}

func (zeroes) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestFileConcurrentWritersOneName(t *testing.T) {
	ctx := t.Context()
	s := openDir(t, t.TempDir(), "")
	// Many writers replacing one name: every read sees one whole version, never a mix.
	versions := make([][]byte, 6)
	for i := range versions {
		versions[i] = bytes.Repeat([]byte{byte('a' + i)}, 256<<10)
	}
	if err := s.Put(ctx, "hot.bin", bytes.NewReader(versions[0]), nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	errs := make(chan error, len(versions))
	for i := range versions {
		go func() {
			for range 5 {
				if err := s.Put(ctx, "hot.bin", bytes.NewReader(versions[i]), nil); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	go func() {
		defer close(done)
		deadline := time.Now().Add(30 * time.Second)
		for n := 0; n < 200 && time.Now().Before(deadline); n++ {
			b, err := s.Get(ctx, "hot.bin")
			if err != nil {
				t.Errorf("Get during writes: %v", err)
				return
			}
			if len(b) != 256<<10 || bytes.Count(b, b[:1]) != len(b) {
				t.Errorf("read a mixed or partial version (%d bytes)", len(b))
				return
			}
		}
	}()
	for range versions {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	<-done
}
