package cache_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/cache"
	"github.com/stackkit/stackkit/kit/cache/cachetest"
	"github.com/stackkit/stackkit/kit/registry"
)

// fileURL returns the file:// URL of an absolute directory, with query appended.
func fileURL(dir, query string) string {
	p := filepath.ToSlash(dir)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // C:/x on Windows
	}
	if query != "" {
		return "file://" + p + "?" + query
	}
	return "file://" + p
}

func TestFileConformance(t *testing.T) {
	// One directory for every cache of the suite, told apart by prefix only, so that Clear's
	// prefix isolation is tested on a directory that is really shared.
	dir := t.TempDir()
	cachetest.Run(t, func(t *testing.T) *cache.Cache {
		return cachetest.Open(t, fileURL(dir, "prefix="+cachetest.UniquePrefix()))
	})
}

func TestFileSync(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := cachetest.Open(t, fileURL(dir, "sync=true"))
	if err := c.Set(ctx, "k", []byte("1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Incr(ctx, "k", 1); n != 2 || err != nil {
		t.Fatalf("Incr = %d, %v", n, err)
	}
	if v, err := c.Get(ctx, "k"); string(v) != "2" || err != nil {
		t.Fatalf("Get = %q, %v", v, err)
	}
}

func TestFileURL(t *testing.T) {
	ctx := context.Background()

	t.Run("Relative", func(t *testing.T) {
		wd := t.TempDir()
		t.Chdir(wd)
		c := cachetest.Open(t, "file://cache/dir")
		if err := c.Set(ctx, "k", []byte("v"), time.Hour); err != nil {
			t.Fatal(err)
		}
		if n := len(entryFiles(t, filepath.Join(wd, "cache", "dir"))); n != 1 {
			t.Errorf("file://cache/dir: %d entry files under ./cache/dir, want 1", n)
		}
	})

	t.Run("Absolute", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "created", "on", "open")
		cachetest.Open(t, fileURL(dir, ""))
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Fatalf("cache directory not created: %v", err)
		}
	})

	for _, tc := range []struct{ name, url, want string }{
		{"NoDir", "file://", "no cache directory"},
		{"Opaque", "file:rel/dir", "not after file://"},
		{"UnknownOption", fileURL(t.TempDir(), "max_entry=5"), `"max_entry": unknown option`},
		{"BadMode", fileURL(t.TempDir(), "dir_mode=rwx"), `"dir_mode"="rwx": not an octal permission`},
		{"ModeTooWide", fileURL(t.TempDir(), "file_mode=01777"), `"file_mode"="01777": not an octal permission`},
		{"OwnerCannotSearch", fileURL(t.TempDir(), "dir_mode=0600"), "must give the owner at least rwx (0700)"},
		{"OwnerCannotWrite", fileURL(t.TempDir(), "file_mode=0400"), "must give the owner at least rw- (0600)"},
		{"NegativeMaxEntries", fileURL(t.TempDir(), "max_entries=-1"), `"max_entries"="-1": out of range`},
		{"BadSync", fileURL(t.TempDir(), "sync=maybe"), `"sync"="maybe": not a boolean`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := cache.Open(ctx, tc.url)
			if err == nil {
				_ = c.Close()
				t.Fatalf("Open(%q) succeeded", tc.url)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%q): %v; want an error containing %q", tc.url, err, tc.want)
			}
			if strings.Contains(tc.want, "option") && !errors.Is(err, registry.ErrInvalidOption) {
				t.Errorf("Open(%q): %v does not wrap registry.ErrInvalidOption", tc.url, err)
			}
		})
	}

	t.Run("NotADirectory", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := cache.Open(ctx, fileURL(file, "")); err == nil || !strings.Contains(err.Error(), "cache directory") {
			t.Errorf("Open on a regular file: %v, want an error about the cache directory", err)
		}
	})

	t.Run("ReadOnly", func(t *testing.T) {
		if runtime.GOOS == "windows" || os.Geteuid() == 0 {
			t.Skip("needs Unix permissions that apply to the test's user")
		}
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
		if _, err := cache.Open(ctx, fileURL(dir, "")); err == nil || !strings.Contains(err.Error(), "not writable") {
			t.Errorf("Open on a read-only directory: %v, want a 'not writable' error", err)
		}
	})
}

func TestFileSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	u := fileURL(dir, "prefix=app")
	c, err := cache.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "forever", []byte("kept"), cache.NoExpiry); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "hour", []byte("kept for an hour"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "counter", []byte("41"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	c = cachetest.Open(t, u)
	for key, want := range map[string]string{"forever": "kept", "hour": "kept for an hour"} {
		if v, err := c.Get(ctx, key); err != nil || string(v) != want {
			t.Errorf("after reopening, Get(%q) = %q, %v; want %q", key, v, err, want)
		}
	}
	if d, err := c.TTL(ctx, "forever"); d != cache.NoExpiry || err != nil {
		t.Errorf("after reopening, TTL(forever) = %v, %v; want NoExpiry", d, err)
	}
	if d, err := c.TTL(ctx, "hour"); d <= 59*time.Minute || d > time.Hour || err != nil {
		t.Errorf("after reopening, TTL(hour) = %v, %v; want about 1h", d, err)
	}
	if n, err := c.Incr(ctx, "counter", 1); n != 42 || err != nil {
		t.Errorf("after reopening, Incr = %d, %v; want 42", n, err)
	}
}

func TestFileLayout(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := cachetest.Open(t, fileURL(dir, "prefix=app&version=3"))
	if err := c.Set(ctx, "user:1", []byte("Ada"), cache.NoExpiry); err != nil {
		t.Fatal(err)
	}
	files := entryFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("%d entry files, want 1: %v", len(files), files)
	}
	rel, _ := filepath.Rel(dir, files[0])
	parts := strings.Split(filepath.ToSlash(rel), "/")
	if len(parts) != 3 || len(parts[2]) != 64 || parts[0] != parts[2][:2] || parts[1] != parts[2][2:4] {
		t.Errorf("entry at %s, want ab/cd/abcd… (two fan-out levels of a SHA-256 hex name)", rel)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "kitc\x01") || !strings.HasSuffix(string(data), "user:1Ada") || !strings.Contains(string(data), "app") {
		t.Errorf("entry file %q: want the kitc header, the full key with its prefix, then the value", data)
	}
	if runtime.GOOS != "windows" {
		if fi, _ := os.Stat(files[0]); fi.Mode().Perm() != 0o600 {
			t.Errorf("entry file mode %v, want 0600 by default", fi.Mode().Perm())
		}
		if fi, _ := os.Stat(filepath.Dir(files[0])); fi.Mode().Perm() != 0o700 {
			t.Errorf("fan-out directory mode %v, want 0700 by default", fi.Mode().Perm())
		}
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, "*", "*", ".tmp-*")); len(tmp) != 0 {
		t.Errorf("temporary files left behind: %v", tmp)
	}
}

func TestFileModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permissions")
	}
	ctx := context.Background()
	dir := t.TempDir()
	c := cachetest.Open(t, fileURL(dir, "dir_mode=0770&file_mode=0660"))
	if err := c.Set(ctx, "k", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	files := entryFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("%d entry files, want 1", len(files))
	}
	// The modes are exact, whatever the umask.
	if fi, _ := os.Stat(files[0]); fi.Mode().Perm() != 0o660 {
		t.Errorf("entry file mode %v, want 0660", fi.Mode().Perm())
	}
	for _, d := range []string{filepath.Dir(files[0]), filepath.Dir(filepath.Dir(files[0]))} {
		if fi, _ := os.Stat(d); fi.Mode().Perm() != 0o770 {
			t.Errorf("%s: mode %v, want 0770", d, fi.Mode().Perm())
		}
	}
}

func TestFileForeignFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := cachetest.Open(t, fileURL(dir, "prefix=app"))
	if err := c.Set(ctx, "k", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	entry := entryFiles(t, dir)[0]
	fanout := filepath.Dir(entry)
	lookalike := filepath.Join(fanout, filepath.Base(entry)[:60]+"0000")
	if lookalike == entry {
		lookalike = filepath.Join(fanout, filepath.Base(entry)[:60]+"ffff")
	}
	foreign := map[string]string{
		filepath.Join(dir, "README"):         "not a cache entry",
		filepath.Join(dir, "zz", "notes"):    "not a fan-out directory",
		filepath.Join(fanout, "notes.txt"):   "not an entry name",
		lookalike:                            "named like an entry, but no header",
		filepath.Join(dir, "ab", "cd", "ef"): "too short a name",
	}
	for path, content := range foreign {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A stale temporary file, as a writer that crashed leaves; and one being written now.
	stale := filepath.Join(fanout, ".tmp-123")
	fresh := filepath.Join(fanout, ".tmp-456")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}

	if err := c.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Get after Clear: %v, want ErrNotFound", err)
	}
	for path := range foreign {
		if _, err := os.Stat(path); err != nil {
			t.Errorf("Clear removed or broke a file it did not write: %v", err)
		}
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temporary file not removed: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a fresh temporary file was removed: %v", err)
	}

	// An entry file that is not whole is a miss, and a Set repairs it.
	if err := c.Set(ctx, "k", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(entry, []byte("kitc\x01\x00"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Get of a truncated entry: %v, want ErrNotFound", err)
	}
	if err := c.Set(ctx, "k", []byte("v2"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "k"); string(v) != "v2" || err != nil {
		t.Errorf("Get after repairing Set = %q, %v", v, err)
	}
}

func TestFileExpiredRemovedOnRead(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := cachetest.Open(t, fileURL(dir, ""))
	if err := c.Set(ctx, "k", []byte("v"), 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if n := len(entryFiles(t, dir)); n != 1 {
		t.Fatalf("%d entry files, want 1", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := c.Get(ctx, "k"); errors.Is(err, cache.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("entry never expired")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(entryFiles(t, dir)); n != 0 {
		t.Errorf("%d entry files after the expired entry was read, want 0", n)
	}
}

func TestFileMaxEntries(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := cachetest.Open(t, fileURL(dir, "max_entries=20"))
	// Already-expired entries go first, then the least recently written.
	for i := range 5 {
		if err := c.Set(ctx, fmt.Sprint("short-", i), []byte("x"), time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(5 * time.Millisecond) // let them expire; nothing waits on it otherwise
	for i := range 100 {
		if err := c.Set(ctx, fmt.Sprint("key-", i), []byte("x"), time.Hour); err != nil {
			t.Fatal(err)
		}
		if i%10 != 9 {
			continue
		}
		if n := len(entryFiles(t, dir)); n > 20 {
			t.Fatalf("after %d Sets: %d entry files, want at most max_entries=20", i+6, n)
		}
	}
	if v, err := c.Get(ctx, "key-99"); string(v) != "x" || err != nil {
		t.Errorf("the last key written was culled: %v", err)
	}
	// Overwrites and updates do not count as new entries.
	before := len(entryFiles(t, dir))
	for range 50 {
		if err := c.Set(ctx, "key-99", []byte("y"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if after := len(entryFiles(t, dir)); after != before {
		t.Errorf("overwriting one key changed the entry count from %d to %d", before, after)
	}
	if stats, err := c.Driver().(cache.Statser).Stats(ctx); err != nil || stats["max_entries"] != "20" || stats["entries"] != strconv.Itoa(before) {
		t.Errorf("Stats = %v, %v; want %d entries, max_entries 20", stats, err, before)
	}
}

// TestFileIncrSharedDir increments one counter through two caches on the same directory: a
// process that opens file:// twice must not lose increments either.
func TestFileIncrSharedDir(t *testing.T) {
	ctx := context.Background()
	u := fileURL(t.TempDir(), "prefix=app")
	a, b := cachetest.Open(t, u), cachetest.Open(t, u)
	if err := a.Set(ctx, "n", []byte("0"), cache.NoExpiry); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		c := a
		if i%2 == 1 {
			c = b
		}
		wg.Go(func() {
			for range 50 {
				if _, err := c.Incr(ctx, "n", 1); err != nil {
					t.Errorf("Incr: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n, err := a.Incr(ctx, "n", 0); n != 800 || err != nil {
		t.Errorf("after 800 increments through two caches: %d, %v", n, err)
	}
}

// TestFileIncrAcrossProcesses runs copies of the test binary that increment one counter at the
// same time. It is skipped where file:// has no cross-process lock (Capabilities.AtomicIncr).
func TestFileIncrAcrossProcesses(t *testing.T) {
	const env, children, rounds = "KIT_TEST_FILE_CACHE_INCR", 4, 200
	ctx := context.Background()
	if u := os.Getenv(env); u != "" {
		c := cachetest.Open(t, u)
		for range rounds {
			if _, err := c.Incr(ctx, "n", 1); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	u := fileURL(t.TempDir(), "prefix=app")
	c := cachetest.Open(t, u)
	if !c.Driver().Capabilities().AtomicIncr {
		t.Skip("file:// Incr is atomic within a process only on this platform")
	}
	if err := c.Set(ctx, "n", []byte("0"), cache.NoExpiry); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range children {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestFileIncrAcrossProcesses$", "-test.count=1")
			cmd.Env = append(os.Environ(), env+"="+u)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("child: %v\n%s", err, out)
			}
		})
	}
	for range rounds {
		if _, err := c.Incr(ctx, "n", 1); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if n, err := c.Incr(ctx, "n", 0); n != (children+1)*rounds || err != nil {
		t.Errorf("after %d increments from %d processes: %d, %v", (children+1)*rounds, children+1, n, err)
	}
}

func TestFileStats(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := cachetest.Open(t, fileURL(dir, ""))
	for i := range 3 {
		if err := c.Set(ctx, fmt.Sprint("k", i), []byte("value"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	stats, err := c.Driver().(cache.Statser).Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats["entries"] != "3" || stats["expired"] != "0" || stats["dir"] != dir {
		t.Errorf("Stats = %v; want 3 entries, 0 expired, dir %s", stats, dir)
	}
	if n, _ := strconv.Atoi(stats["bytes"]); n < 3*len("value") {
		t.Errorf("Stats bytes = %q, want at least the values' size", stats["bytes"])
	}
}

// entryFiles lists the entry files under dir.
func entryFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "[0-9a-f][0-9a-f]", "[0-9a-f][0-9a-f]", strings.Repeat("[0-9a-f]", 64)))
	if err != nil {
		t.Fatal(err)
	}
	return files
}
