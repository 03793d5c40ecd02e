package cache

// The file:// backend: Django's FileBasedCache, with atomic writes, a key check on every read,
// a Clear that removes only one prefix, and culling that does not list the directory on every Set.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stackkit/stackkit/kit/registry"
)

func init() { Register("file", openFile) }

// Layout of a cache directory:
//
//	DIR/ab/cd/abcd…(64 hex digits)   one entry: the SHA-256 of its full key, in two fan-out levels
//	DIR/ab/cd/.tmp-*                  a write in progress, renamed over the entry when complete
//	DIR/ab/.lock                      the lock file of stripe ab, on platforms with file locks
//
// An entry file is a 17-byte header, the full key, then the value:
//
//	"kitc" | format (1) | expiry, Unix milliseconds, 0 = never (int64 BE) | key length (uint32 BE)
//
// The stored key makes a hash collision, or a foreign file that happens to be named like an entry,
// a miss rather than someone else's value, and lets Clear select entries by prefix. Clear, culling
// and Stats touch only files named like entries, in directories named like fan-out levels, whose
// header is valid: pointing file:// at a directory that holds other files never deletes them.
const (
	fileMagic      = "kitc"
	fileFormat     = 1
	fileHeaderLen  = len(fileMagic) + 1 + 8 + 4
	fileMaxKeyLen  = 1024
	fileTempPrefix = ".tmp-"
	fileLockName   = ".lock"
	// fileStaleTemp is the age after which Clear and culling remove a temporary file: no write
	// takes that long, so its writer crashed.
	fileStaleTemp = time.Hour
	// fileLargeValue is the size from which a value is written with its own write call instead of
	// being copied behind the header.
	fileLargeValue = 64 << 10
)

// crossProcessLock, when not nil, takes an exclusive lock on the lock file at path that other
// processes honour (flock(2) on Unix), waiting until ctx is done; unlock releases it and closes the
// file. A platform file (file_lock_unix.go) sets it; without it, changes to an entry are serialised
// within this process only and Capabilities.AtomicIncr is false.
var crossProcessLock func(ctx context.Context, path string, perm fs.FileMode) (unlock func(), err error)

// fileStripes serialise changes to entries within the process. They are shared by every file://
// cache, so two caches opened on one directory cannot interleave a read-modify-write. An entry's
// stripe is the first byte of its hash, which also names its top-level fan-out directory and the
// lock file there that serialises processes; holding the stripe first means a process never
// contends with itself on that lock file.
var fileStripes = func() (s [256]chan struct{}) {
	for i := range s {
		s[i] = make(chan struct{}, 1)
	}
	return s
}()

// fileDriver stores each entry in its own file under dir. Reads take no lock: every write goes to
// a temporary file renamed over the entry, so a reader sees the old file or the new one, whole.
// Every change to an entry (Set, Add, Replace, Incr, Touch, Delete, and the deletions of expiry,
// Clear and culling) holds the entry's stripe, so read-modify-write operations are atomic.
//
// On Windows, a file open for reading cannot be replaced, so a write racing a read of the same
// entry can fail with an access error; the next write succeeds.
type fileDriver struct {
	dir        string
	sync       bool
	maxEntries int64
	dirMode    fs.FileMode
	fileMode   fs.FileMode

	// count is the number of entries as far as this process knows, kept only when maxEntries > 0:
	// counted when the cache opens and at every cull, and moved by this process's own inserts and
	// deletions in between.
	count   atomic.Int64
	culling atomic.Bool
	closed  atomic.Bool
}

// openFile opens file://DIR. Options:
//
//	sync=true          fsync each entry and its directory before a write returns (default false)
//	max_entries=N      cull beyond N entries (default 0, unlimited)
//	dir_mode=0700      permissions of the directories the cache creates (octal)
//	file_mode=0600     permissions of the entry files (octal)
//
// The defaults keep the cache private to the user running the service, since cached values often
// hold session data; widen them (dir_mode=0770&file_mode=0660) to share a cache between users.
func openFile(ctx context.Context, u *url.URL, opts *registry.Options) (Driver, error) {
	syncWrites := opts.Bool("sync", false)
	maxEntries := opts.Int("max_entries", 0, 0, math.MaxInt64)
	dirMode := opts.FileMode("dir_mode", 0o700, 0o700)
	fileMode := opts.FileMode("file_mode", 0o600, 0o600)
	if err := opts.Err(); err != nil {
		return nil, err
	}
	dir, err := registry.LocalDir(u, "cache directory")
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("create cache directory: %w", err)
	}
	// Fail at open, not at the first Set, when the directory cannot be written.
	probe, err := os.CreateTemp(dir, fileTempPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("cache directory is not writable: %w", err)
	}
	_ = probe.Close()
	_ = os.Remove(probe.Name())

	d := &fileDriver{dir: dir, sync: syncWrites, maxEntries: maxEntries, dirMode: dirMode, fileMode: fileMode}
	if maxEntries > 0 {
		n := 0
		if err := d.walk(ctx, func(fileWalkEntry) error { n++; return nil }); err != nil {
			return nil, fmt.Errorf("count cache entries: %w", err)
		}
		d.count.Store(int64(n))
	}
	return d, nil
}

// fileKey is where an entry lives.
type fileKey struct {
	path   string
	stripe byte
}

func (d *fileDriver) locate(key string) fileKey {
	sum := sha256.Sum256([]byte(key))
	var name [64]byte
	hex.Encode(name[:], sum[:])
	sep := string(filepath.Separator)
	return fileKey{
		path:   d.dir + sep + string(name[0:2]) + sep + string(name[2:4]) + sep + string(name[:]),
		stripe: sum[0],
	}
}

// lock holds k's stripe: within the process, and across processes where the platform can.
func (d *fileDriver) lock(ctx context.Context, stripe byte) (unlock func(), err error) {
	sem := fileStripes[stripe]
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if crossProcessLock == nil {
		return func() { <-sem }, nil
	}
	name := hex.EncodeToString([]byte{stripe})
	path := filepath.Join(d.dir, name, fileLockName)
	release, err := crossProcessLock(ctx, path, d.fileMode)
	if errors.Is(err, fs.ErrNotExist) {
		if err = d.mkdir(filepath.Join(d.dir, name)); err == nil {
			release, err = crossProcessLock(ctx, path, d.fileMode)
		}
	}
	if err != nil {
		<-sem
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { release(); <-sem }, nil
}

// mkdir creates dir and its missing parents with the configured mode, which the umask must not
// narrow: an operator who sets dir_mode=0770 to share the cache means it.
func (d *fileDriver) mkdir(dir string) error {
	if err := os.MkdirAll(dir, d.dirMode); err != nil {
		return err
	}
	if d.dirMode != 0o700 {
		for p := dir; len(p) > len(d.dir); p = filepath.Dir(p) {
			if err := os.Chmod(p, d.dirMode); err != nil {
				return err
			}
		}
	}
	return nil
}

// fileEntry is a decoded entry file.
type fileEntry struct {
	expiry int64 // Unix milliseconds; 0: never
	key    []byte
	value  []byte
}

func (e *fileEntry) expired(nowMs int64) bool { return e.expiry != 0 && e.expiry <= nowMs }

// decodeEntry parses an entry file. ok is false for anything that is not a whole entry of the
// current format.
func decodeEntry(data []byte) (e fileEntry, ok bool) {
	if len(data) < fileHeaderLen || string(data[:len(fileMagic)]) != fileMagic || data[len(fileMagic)] != fileFormat {
		return e, false
	}
	e.expiry = int64(binary.BigEndian.Uint64(data[len(fileMagic)+1:]))
	keyLen := binary.BigEndian.Uint32(data[len(fileMagic)+9:])
	if uint64(keyLen) > uint64(len(data)-fileHeaderLen) {
		return e, false
	}
	e.key = data[fileHeaderLen : fileHeaderLen+int(keyLen)]
	e.value = data[fileHeaderLen+int(keyLen):]
	return e, true
}

// read returns the entry at path if it holds key (any key when key is nil); found is false for a
// missing file, a foreign file or another key's entry. With headerOnly, the value is not read.
func (d *fileDriver) read(path string, key []byte, headerOnly bool) (e fileEntry, found bool, err error) {
	var data []byte
	if headerOnly {
		data, err = readHeader(path, key)
	} else {
		data, err = os.ReadFile(path)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return e, false, nil
	}
	if err != nil {
		return e, false, err
	}
	e, ok := decodeEntry(data)
	if !ok || key != nil && !bytes.Equal(e.key, key) {
		return e, false, nil
	}
	return e, true, nil
}

// readHeader reads the header and key of an entry file, and whatever value bytes the same read
// returned. key gives the expected key length; nil means unknown (up to the longest key).
func readHeader(path string, key []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n := fileMaxKeyLen
	if key != nil {
		n = len(key)
	}
	buf := make([]byte, fileHeaderLen+n)
	m, err := io.ReadFull(f, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, err
	}
	return buf[:m], nil
}

// write stores an entry at k.path: a temporary file in the same directory, renamed over the entry.
func (d *fileDriver) write(k fileKey, key string, value []byte, expiry int64) error {
	head := make([]byte, fileHeaderLen, fileHeaderLen+len(key)+min(len(value), fileLargeValue))
	copy(head, fileMagic)
	head[len(fileMagic)] = fileFormat
	binary.BigEndian.PutUint64(head[len(fileMagic)+1:], uint64(expiry))
	binary.BigEndian.PutUint32(head[len(fileMagic)+9:], uint32(len(key)))
	head = append(head, key...)
	if len(value) < fileLargeValue {
		head = append(head, value...)
		value = nil
	}

	dir := filepath.Dir(k.path)
	f, err := os.CreateTemp(dir, fileTempPrefix+"*")
	if errors.Is(err, fs.ErrNotExist) {
		if err = d.mkdir(dir); err == nil {
			f, err = os.CreateTemp(dir, fileTempPrefix+"*")
		}
	}
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = writeAll(f, head, value, d.fileMode, d.sync)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, k.path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if d.sync {
		return syncDir(dir)
	}
	return nil
}

func writeAll(f *os.File, head, value []byte, mode fs.FileMode, sync bool) error {
	if _, err := f.Write(head); err != nil {
		return err
	}
	if len(value) > 0 {
		if _, err := f.Write(value); err != nil {
			return err
		}
	}
	if mode != 0o600 { // CreateTemp made it 0600
		if err := f.Chmod(mode); err != nil {
			return err
		}
	}
	if sync {
		return f.Sync()
	}
	return nil
}

// syncDir makes a rename in dir durable. Windows cannot sync a directory, and does not need to.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// remove deletes the entry file at path, reporting whether there was one.
func (d *fileDriver) remove(path string) (bool, error) {
	err := os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if d.maxEntries > 0 {
		d.count.Add(-1)
	}
	return true, nil
}

func (d *fileDriver) check(ctx context.Context) error {
	if d.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

func nowMs() int64 { return time.Now().UnixMilli() }

// expiryAt converts a driver TTL (positive, or 0 for never) into an absolute expiry, rounding up
// to the millisecond so that a short TTL never becomes "never".
func expiryAt(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	ms := int64((ttl + time.Millisecond - 1) / time.Millisecond)
	now := nowMs()
	if ms > math.MaxInt64-now {
		return math.MaxInt64
	}
	return now + ms
}

func fileErr(op, key string, err error) error {
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotInteger) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrClosed) {
		return err
	}
	return fmt.Errorf("file cache: %s %q: %w", op, key, err)
}

func (d *fileDriver) Get(ctx context.Context, key string) ([]byte, error) {
	if err := d.check(ctx); err != nil {
		return nil, err
	}
	v, err := d.get(ctx, key)
	return v, fileErr("get", key, err)
}

func (d *fileDriver) get(ctx context.Context, key string) ([]byte, error) {
	k := d.locate(key)
	e, found, err := d.read(k.path, []byte(key), false)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrNotFound
	}
	if e.expired(nowMs()) {
		d.removeExpired(ctx, k, key)
		return nil, ErrNotFound
	}
	return e.value, nil
}

// removeExpired deletes an entry found expired, unless a writer replaced it meanwhile. Failing
// to delete it is harmless: it is still a miss, and the next reader or cull tries again.
func (d *fileDriver) removeExpired(ctx context.Context, k fileKey, key string) {
	unlock, err := d.lock(ctx, k.stripe)
	if err != nil {
		return
	}
	defer unlock()
	if e, found, err := d.read(k.path, []byte(key), true); err == nil && found && e.expired(nowMs()) {
		_, _ = d.remove(k.path)
	}
}

func (d *fileDriver) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	if err := d.check(ctx); err != nil {
		return nil, err
	}
	found := make(map[string][]byte, len(keys))
	for _, key := range keys {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if _, dup := found[key]; dup {
			continue
		}
		v, err := d.get(ctx, key)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fileErr("get", key, err)
		}
		found[key] = v
	}
	return found, nil
}

func (d *fileDriver) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := d.check(ctx); err != nil {
		return err
	}
	return fileErr("set", key, d.set(ctx, key, value, ttl))
}

func (d *fileDriver) set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	k := d.locate(key)
	unlock, err := d.lock(ctx, k.stripe)
	if err != nil {
		return err
	}
	inserted := false
	if d.maxEntries > 0 {
		_, err := os.Lstat(k.path)
		inserted = errors.Is(err, fs.ErrNotExist)
	}
	err = d.write(k, key, value, expiryAt(ttl))
	unlock()
	if err == nil && inserted {
		d.inserted(ctx)
	}
	return err
}

func (d *fileDriver) SetMany(ctx context.Context, items []Item) error {
	if err := d.check(ctx); err != nil {
		return err
	}
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := d.set(ctx, it.Key, it.Value, it.TTL); err != nil {
			return fileErr("set", it.Key, err)
		}
	}
	return nil
}

// change runs fn on key's current entry (found false when absent or expired) under the entry's
// stripe. fn returns the entry to write, or nil to leave the file alone.
func (d *fileDriver) change(ctx context.Context, key string, fn func(e *fileEntry, found bool) (*fileEntry, error)) error {
	if err := d.check(ctx); err != nil {
		return err
	}
	k := d.locate(key)
	unlock, err := d.lock(ctx, k.stripe)
	if err != nil {
		return err
	}
	e, found, err := d.read(k.path, []byte(key), false)
	if err != nil {
		unlock()
		return err
	}
	exists := found
	if found && e.expired(nowMs()) {
		found = false
	}
	next, err := fn(&e, found)
	if err == nil && next != nil {
		err = d.write(k, key, next.value, next.expiry)
	}
	unlock()
	if err == nil && next != nil && !exists && d.maxEntries > 0 {
		d.inserted(ctx)
	}
	return err
}

func (d *fileDriver) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	stored := false
	err := d.change(ctx, key, func(_ *fileEntry, found bool) (*fileEntry, error) {
		if found {
			return nil, nil
		}
		stored = true
		return &fileEntry{value: value, expiry: expiryAt(ttl)}, nil
	})
	return stored, fileErr("add", key, err)
}

func (d *fileDriver) Replace(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	stored := false
	err := d.change(ctx, key, func(_ *fileEntry, found bool) (*fileEntry, error) {
		if !found {
			return nil, nil
		}
		stored = true
		return &fileEntry{value: value, expiry: expiryAt(ttl)}, nil
	})
	return stored, fileErr("replace", key, err)
}

func (d *fileDriver) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	var n int64
	err := d.change(ctx, key, func(e *fileEntry, found bool) (*fileEntry, error) {
		if !found {
			return nil, ErrNotFound
		}
		cur, err := strconv.ParseInt(string(e.value), 10, 64)
		if err != nil {
			return nil, ErrNotInteger
		}
		if delta > 0 && cur > math.MaxInt64-delta || delta < 0 && cur < math.MinInt64-delta {
			return nil, fmt.Errorf("%w: %d%+d overflows a 64-bit integer", ErrNotInteger, cur, delta)
		}
		n = cur + delta
		// The expiry is absolute, so keeping it keeps the remaining TTL, as Redis INCRBY does.
		return &fileEntry{value: strconv.AppendInt(nil, n, 10), expiry: e.expiry}, nil
	})
	return n, fileErr("incr", key, err)
}

func (d *fileDriver) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	touched := false
	err := d.change(ctx, key, func(e *fileEntry, found bool) (*fileEntry, error) {
		if !found {
			return nil, nil
		}
		touched = true
		return &fileEntry{value: e.value, expiry: expiryAt(ttl)}, nil
	})
	return touched, fileErr("touch", key, err)
}

func (d *fileDriver) Delete(ctx context.Context, key string) (bool, error) {
	if err := d.check(ctx); err != nil {
		return false, err
	}
	existed, err := d.delete(ctx, key)
	return existed, fileErr("delete", key, err)
}

func (d *fileDriver) delete(ctx context.Context, key string) (bool, error) {
	k := d.locate(key)
	unlock, err := d.lock(ctx, k.stripe)
	if err != nil {
		return false, err
	}
	defer unlock()
	e, found, err := d.read(k.path, []byte(key), true)
	if err != nil || !found {
		return false, err
	}
	if _, err := d.remove(k.path); err != nil {
		return false, err
	}
	return !e.expired(nowMs()), nil
}

func (d *fileDriver) DeleteMany(ctx context.Context, keys []string) (int, error) {
	if err := d.check(ctx); err != nil {
		return 0, err
	}
	n := 0
	for _, key := range keys {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		existed, err := d.delete(ctx, key)
		if err != nil {
			return n, fileErr("delete", key, err)
		}
		if existed {
			n++
		}
	}
	return n, nil
}

func (d *fileDriver) Has(ctx context.Context, key string) (bool, error) {
	if err := d.check(ctx); err != nil {
		return false, err
	}
	e, found, err := d.read(d.locate(key).path, []byte(key), true)
	if err != nil {
		return false, fileErr("has", key, err)
	}
	return found && !e.expired(nowMs()), nil
}

func (d *fileDriver) TTL(ctx context.Context, key string) (time.Duration, error) {
	if err := d.check(ctx); err != nil {
		return 0, err
	}
	e, found, err := d.read(d.locate(key).path, []byte(key), true)
	if err != nil {
		return 0, fileErr("ttl", key, err)
	}
	now := nowMs()
	if !found || e.expired(now) {
		return 0, ErrNotFound
	}
	if e.expiry == 0 {
		return 0, nil
	}
	return time.Duration(e.expiry-now) * time.Millisecond, nil
}

// Clear deletes the entries whose key starts with prefix. It reads the header of every entry in
// the directory, so it takes time in proportion to the whole directory, not to the prefix.
func (d *fileDriver) Clear(ctx context.Context, prefix string) error {
	if err := d.check(ctx); err != nil {
		return err
	}
	err := d.walk(ctx, func(w fileWalkEntry) error {
		e, found, err := d.read(w.path, nil, true)
		if err != nil || !found || !bytes.HasPrefix(e.key, []byte(prefix)) {
			return err
		}
		unlock, err := d.lock(ctx, w.stripe)
		if err != nil {
			return err
		}
		defer unlock()
		_, err = d.remove(w.path)
		return err
	})
	if err != nil {
		return fmt.Errorf("file cache: clear %q: %w", prefix, err)
	}
	return nil
}

// inserted counts a new entry and culls when there are more than max_entries.
func (d *fileDriver) inserted(ctx context.Context) {
	if d.count.Add(1) > d.maxEntries && d.culling.CompareAndSwap(false, true) {
		defer d.culling.Store(false)
		_ = d.cull(ctx)
	}
}

// cull brings the directory to 90% of max_entries: expired entries first, then the least recently
// written. Like Django's CULL_FREQUENCY, removing a tenth at a time keeps the directory scans to
// one per max_entries/10 inserts. A failed cull leaves the count high, so the next insert retries.
func (d *fileDriver) cull(ctx context.Context) error {
	type candidate struct {
		fileWalkEntry
		mtime time.Time
	}
	var live []candidate
	now := nowMs()
	err := d.walk(ctx, func(w fileWalkEntry) error {
		e, found, err := d.read(w.path, nil, true)
		if err != nil || !found {
			return err
		}
		if e.expired(now) {
			return d.removeIfExpired(ctx, w)
		}
		info, err := w.entry.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		live = append(live, candidate{w, info.ModTime()})
		return nil
	})
	if err != nil {
		return err
	}
	target := int(d.maxEntries - d.maxEntries/10)
	if excess := len(live) - target; excess > 0 {
		slices.SortFunc(live, func(a, b candidate) int { return a.mtime.Compare(b.mtime) })
		for _, c := range live[:excess] {
			if err := ctx.Err(); err != nil {
				return err
			}
			unlock, err := d.lock(ctx, c.stripe)
			if err != nil {
				return err
			}
			_ = os.Remove(c.path)
			unlock()
		}
		live = live[excess:]
	}
	d.count.Store(int64(len(live)))
	return nil
}

// removeIfExpired deletes an entry found expired while walking, unless a writer replaced it.
func (d *fileDriver) removeIfExpired(ctx context.Context, w fileWalkEntry) error {
	unlock, err := d.lock(ctx, w.stripe)
	if err != nil {
		return err
	}
	defer unlock()
	if e, found, err := d.read(w.path, nil, true); err == nil && found && e.expired(nowMs()) {
		_ = os.Remove(w.path)
	}
	return nil
}

// Stats reports the entries in the directory for kitctl cache stats.
func (d *fileDriver) Stats(ctx context.Context) (map[string]string, error) {
	if err := d.check(ctx); err != nil {
		return nil, err
	}
	var entries, expired, size int64
	now := nowMs()
	err := d.walk(ctx, func(w fileWalkEntry) error {
		e, found, err := d.read(w.path, nil, true)
		if err != nil || !found {
			return err
		}
		if info, err := w.entry.Info(); err == nil {
			size += info.Size()
		}
		if e.expired(now) {
			expired++
		} else {
			entries++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("file cache: stats: %w", err)
	}
	stats := map[string]string{
		"dir":     d.dir,
		"entries": strconv.FormatInt(entries, 10),
		"expired": strconv.FormatInt(expired, 10),
		"bytes":   strconv.FormatInt(size, 10),
	}
	if d.maxEntries > 0 {
		stats["max_entries"] = strconv.FormatInt(d.maxEntries, 10)
	}
	return stats, nil
}

// fileWalkEntry is an entry file found by walk.
type fileWalkEntry struct {
	path   string
	stripe byte
	entry  fs.DirEntry
}

// walk calls fn for every file named like an entry in directories named like fan-out levels, and
// removes temporary files that crashed writers left behind. Entries vanishing during the walk are
// expected: other goroutines and processes keep writing.
func (d *fileDriver) walk(ctx context.Context, fn func(fileWalkEntry) error) error {
	top, err := readDir(d.dir)
	if err != nil {
		return err
	}
	for _, l1 := range top {
		stripe, ok := fanOut(l1)
		if !ok {
			continue
		}
		p1 := filepath.Join(d.dir, l1.Name())
		mid, err := readDir(p1)
		if err != nil {
			return err
		}
		for _, l2 := range mid {
			if _, ok := fanOut(l2); !ok {
				continue
			}
			p2 := filepath.Join(p1, l2.Name())
			files, err := readDir(p2)
			if err != nil {
				return err
			}
			for _, f := range files {
				if err := ctx.Err(); err != nil {
					return err
				}
				name := f.Name()
				if strings.HasPrefix(name, fileTempPrefix) {
					if info, err := f.Info(); err == nil && time.Since(info.ModTime()) > fileStaleTemp {
						_ = os.Remove(filepath.Join(p2, name))
					}
					continue
				}
				if !f.Type().IsRegular() || len(name) != 64 || name[:2] != l1.Name() || name[2:4] != l2.Name() || !isLowerHex(name) {
					continue
				}
				if err := fn(fileWalkEntry{path: filepath.Join(p2, name), stripe: stripe, entry: f}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// readDir lists dir; a directory removed meanwhile is empty.
func readDir(dir string) ([]fs.DirEntry, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return entries, err
}

// fanOut reports whether e is a fan-out directory (two lower-case hex digits) and its byte.
func fanOut(e fs.DirEntry) (byte, bool) {
	name := e.Name()
	if !e.IsDir() || len(name) != 2 || !isLowerHex(name) {
		return 0, false
	}
	b, _ := hex.DecodeString(name)
	return b[0], true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func (d *fileDriver) Capabilities() Capabilities {
	return Capabilities{
		Name:          "file",
		MaxKeyLen:     fileMaxKeyLen,
		AtomicIncr:    crossProcessLock != nil,
		TTLResolution: time.Millisecond,
	}
}

// Close marks the driver closed; it holds no open files between operations.
func (d *fileDriver) Close() error {
	d.closed.Store(true)
	return nil
}
