package storage

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/stackkit/stackkit/kit/registry"
)

func init() { Register("file", openFile) }

// fileTempPrefix starts the names of the temporary files that writes go through. Object names
// whose last component starts with it are refused on file://, and List never shows them.
const fileTempPrefix = ".kit-tmp-"

// maxAttrsLen bounds the stored content type, cache control and metadata: S3's 2 KiB for
// metadata, and well within an ext4 inode's extended attribute space.
const maxAttrsLen = 2048

// openFile opens file://DIR: objects are files under DIR, opened through os.Root so that no name
// or symlink can reach outside it. Options: file_mode (default 0644) and dir_mode (default 0755),
// octal permissions set on the files and directories it creates; sync (default false) fsyncs
// each file and its directory on commit.
func openFile(ctx context.Context, u *url.URL, opts *registry.Options) (Driver, error) {
	syncWrites := opts.Bool("sync", false)
	dirMode := opts.FileMode("dir_mode", 0o755, 0o700)
	fileMode := opts.FileMode("file_mode", 0o644, 0o600)
	if err := opts.Err(); err != nil {
		return nil, err
	}
	dir, err := registry.LocalDir(u, "storage directory")
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return NewFileDriver(dir, FileOptions{FileMode: fileMode, DirMode: dirMode, Sync: syncWrites})
}

// FileOptions configure [NewFileDriver]; the zero value means 0644 files, 0755 directories and no
// fsync.
type FileOptions struct {
	FileMode fs.FileMode
	DirMode  fs.FileMode
	Sync     bool
}

// NewFileDriver returns the file:// driver over dir, creating it if needed.
//
// Names map to paths under dir. Every access goes through an os.Root, so neither a name nor a
// symlink inside dir can reach outside it (symlinks that stay inside are followed). Writes go to
// a temporary file in the target's directory, renamed over the name on Close, so readers see
// the old content or the new, never a part. Content type, cache control and metadata are kept
// in an extended attribute (user.kit.attrs) of the file, written before the rename; on a file
// system without user extended attributes, or for files put there by other means, the content
// type comes from the extension or the first 512 bytes, and writes with cache control or
// metadata fail with ErrNotSupported. ETags are size and modification time in nanoseconds
// (cheap, and every write replaces the file); a content hash would cost a full read per Stat or
// a hashing pass on every write.
func NewFileDriver(dir string, opts FileOptions) (Driver, error) {
	if opts.FileMode == 0 {
		opts.FileMode = 0o644
	}
	if opts.DirMode == 0 {
		opts.DirMode = 0o755
	}
	if err := os.MkdirAll(dir, opts.DirMode); err != nil {
		return nil, fmt.Errorf("create storage directory: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open storage directory: %w", err)
	}
	d := &fileDriver{dir: dir, root: root, fileMode: opts.FileMode, dirMode: opts.DirMode, sync: opts.Sync}
	// Fail at open, not at the first write, when the directory cannot be written; and learn
	// whether the file system keeps extended attributes.
	probe, tmp, err := d.createTemp(".")
	if err != nil {
		_ = root.Close()
		return nil, fmt.Errorf("storage directory is not writable: %w", err)
	}
	d.xattrs = setAttrs(probe, []byte("{}")) == nil
	_ = probe.Close()
	_ = root.Remove(tmp)
	return d, nil
}

type fileDriver struct {
	dir      string
	root     *os.Root
	fileMode fs.FileMode
	dirMode  fs.FileMode
	sync     bool
	xattrs   bool        // the file system keeps user extended attributes
	closed   atomic.Bool // operations check it first; one racing with Close gets os.ErrClosed from the root
}

func (d *fileDriver) Capabilities() Capabilities { return Capabilities{Name: "file"} }

// use checks the driver is open, the context live and name not reserved.
func (d *fileDriver) use(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if strings.HasPrefix(path.Base(name), fileTempPrefix) {
		return fmt.Errorf("%w %q: names starting with %q are reserved for file:// temporary files", ErrInvalidName, shorten(name), fileTempPrefix)
	}
	if d.closed.Load() {
		return ErrClosed
	}
	return nil
}

// fileErr maps a file system error to the portable sentinels, keeping it reachable.
func fileErr(name string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrClosed):
		return fmt.Errorf("%w: %w", ErrClosed, err)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("%w: %w", ErrNotExist, err)
	case errors.Is(err, syscall.ENAMETOOLONG):
		return fmt.Errorf("%w %q: too long for the file system: %w", ErrInvalidName, shorten(name), err)
	case strings.Contains(err.Error(), "path escapes from parent"):
		// os.Root refused a symlink (or a "..") that leads outside the storage directory; its
		// error has no exported sentinel.
		return fmt.Errorf("%w %q: resolves outside the storage directory through a symlink: %w", ErrInvalidName, shorten(name), err)
	}
	return err
}

// openRegular opens name for reading, refusing anything but a regular file: a directory is not
// an object, and a FIFO or device must not block or be read.
func (d *fileDriver) openRegular(name string) (*os.File, fs.FileInfo, error) {
	f, err := d.root.OpenFile(name, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, nil, fileErr(name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, nil, fmt.Errorf("%w: %q is a %s, not a file", ErrNotExist, shorten(name), fileKind(fi))
	}
	return f, fi, nil
}

func fileKind(fi fs.FileInfo) string {
	if fi.IsDir() {
		return "directory"
	}
	return "special file (" + fi.Mode().Type().String() + ")"
}

// storedAttrs is what the user.kit.attrs extended attribute holds.
type storedAttrs struct {
	ContentType  string            `json:"content_type,omitempty"`
	CacheControl string            `json:"cache_control,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

// attrs describes the open file f.
func (d *fileDriver) attrs(name string, f *os.File, fi fs.FileInfo) *Attrs {
	a := &Attrs{
		Name:    name,
		Size:    fi.Size(),
		ModTime: fi.ModTime(),
		ETag:    fmt.Sprintf(`"%x-%x"`, fi.ModTime().UnixNano(), fi.Size()),
	}
	if d.xattrs {
		if raw, err := getAttrs(f); err == nil {
			var sa storedAttrs
			if json.Unmarshal(raw, &sa) == nil {
				a.ContentType, a.CacheControl, a.Metadata = sa.ContentType, sa.CacheControl, sa.Metadata
			}
		}
	}
	if a.ContentType == "" {
		a.ContentType = mime.TypeByExtension(path.Ext(name))
	}
	if a.ContentType == "" {
		var head [sniffLen]byte
		n, _ := f.ReadAt(head[:], 0)
		a.ContentType = http.DetectContentType(head[:n])
	}
	return a
}

func (d *fileDriver) NewReader(ctx context.Context, name string, offset, length int64) (io.ReadCloser, *Attrs, error) {
	if err := d.use(ctx, name); err != nil {
		return nil, nil, err
	}
	f, fi, err := d.openRegular(name)
	if err != nil {
		return nil, nil, err
	}
	a := d.attrs(name, f, fi)
	offset = min(offset, fi.Size())
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	fr := &fileReader{f: f, r: f}
	if length >= 0 && offset+length < fi.Size() {
		fr.r = &io.LimitedReader{R: f, N: length}
	}
	return fr, a, nil
}

// fileReader reads a file or a range of it; WriteTo lets io.Copy reach the kernel's copy paths
// (copy_file_range to a file, sendfile to a socket).
type fileReader struct {
	f *os.File
	r io.Reader // f, or a LimitedReader over it for a range
}

func (r *fileReader) Read(p []byte) (int, error)         { return r.r.Read(p) }
func (r *fileReader) WriteTo(w io.Writer) (int64, error) { return io.Copy(w, r.r) }
func (r *fileReader) Close() error                       { return r.f.Close() }

func (d *fileDriver) Stat(ctx context.Context, name string) (*Attrs, error) {
	if err := d.use(ctx, name); err != nil {
		return nil, err
	}
	f, fi, err := d.openRegular(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return d.attrs(name, f, fi), nil
}

// createTemp creates a temporary file in dir (creating dir as needed) with the file mode.
func (d *fileDriver) createTemp(dir string) (*os.File, string, error) {
	var lastErr error
	for range 5 {
		if err := d.mkdirs(dir); err != nil {
			return nil, "", err
		}
		tmp := path.Join(dir, fileTempPrefix+rand.Text())
		f, err := d.root.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, d.fileMode)
		if err == nil {
			// The umask must not decide the mode the operator configured.
			if err := f.Chmod(d.fileMode); err != nil {
				_ = f.Close()
				_ = d.root.Remove(tmp)
				return nil, "", err
			}
			return f, tmp, nil
		}
		// A Delete emptying dir may have removed it between mkdirs and the create: retry.
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, "", fileErr(tmp, err)
		}
		lastErr = err
	}
	return nil, "", lastErr
}

// mkdirs creates dir and its parents with the directory mode.
func (d *fileDriver) mkdirs(dir string) error {
	if dir == "." {
		return nil
	}
	if fi, err := d.root.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	cur := ""
	for part := range strings.SplitSeq(dir, "/") {
		cur = path.Join(cur, part)
		err := d.root.Mkdir(cur, d.dirMode)
		switch {
		case err == nil:
			if err := d.root.Chmod(cur, d.dirMode); err != nil {
				return err
			}
		case errors.Is(err, fs.ErrExist):
			fi, serr := d.root.Stat(cur)
			if serr != nil {
				return fileErr(cur, serr)
			}
			if !fi.IsDir() {
				return fmt.Errorf("%q is a file, so nothing can be stored under %q on file://", cur, cur+"/")
			}
		default:
			return fileErr(cur, err)
		}
	}
	return nil
}

func (d *fileDriver) NewWriter(ctx context.Context, name string, opts *WriterOptions) (Writer, error) {
	if err := d.use(ctx, name); err != nil {
		return nil, err
	}
	raw, err := d.encodeAttrs(name, storedAttrs{ContentType: opts.ContentType, CacheControl: opts.CacheControl, Metadata: opts.Metadata})
	if err != nil {
		return nil, err
	}
	f, tmp, err := d.createTemp(path.Dir(name))
	if err != nil {
		return nil, err
	}
	return &fileWriter{d: d, ctx: ctx, name: name, tmp: tmp, f: f, attrs: raw, ifNotExist: opts.IfNotExist}, nil
}

// encodeAttrs returns the extended attribute to store, or nil when there is nothing the
// extension and the content would not tell again.
func (d *fileDriver) encodeAttrs(name string, sa storedAttrs) ([]byte, error) {
	if !d.xattrs {
		if sa.CacheControl != "" || len(sa.Metadata) > 0 {
			return nil, fmt.Errorf("file:// in %s: the file system keeps no extended attributes for cache control or metadata: %w", d.dir, ErrNotSupported)
		}
		return nil, nil
	}
	raw, err := json.Marshal(sa)
	if err != nil {
		return nil, err
	}
	if len(raw) > maxAttrsLen {
		return nil, fmt.Errorf("content type, cache control and metadata of %q take %d bytes; the limit is %d", shorten(name), len(raw), maxAttrsLen)
	}
	return raw, nil
}

type fileWriter struct {
	d          *fileDriver
	ctx        context.Context
	name, tmp  string
	f          *os.File
	attrs      []byte
	ifNotExist bool
	done       bool
}

func (w *fileWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, ErrClosed
	}
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.f.Write(p)
}

// copyChunk is how much ReadFrom hands the kernel at a time between context checks.
const copyChunk = 64 << 20

// ReadFrom copies r into the file, through copy_file_range when r is a file.
func (w *fileWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.done {
		return 0, ErrClosed
	}
	var total int64
	for {
		if err := w.ctx.Err(); err != nil {
			return total, err
		}
		n, err := w.f.ReadFrom(io.LimitReader(r, copyChunk))
		total += n
		if err != nil || n < copyChunk {
			return total, err
		}
	}
}

func (w *fileWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	_ = w.f.Close()
	return w.d.root.Remove(w.tmp)
}

func (w *fileWriter) Close() error {
	if w.done {
		return ErrClosed
	}
	if err := w.ctx.Err(); err != nil {
		_ = w.Abort()
		return err
	}
	w.done = true
	err := w.commit()
	if err != nil {
		_ = w.d.root.Remove(w.tmp)
	}
	return err
}

func (w *fileWriter) commit() error {
	d := w.d
	if w.attrs != nil {
		if err := setAttrs(w.f, w.attrs); err != nil {
			_ = w.f.Close()
			return fmt.Errorf("store attributes: %w", err)
		}
	}
	if d.sync {
		if err := w.f.Sync(); err != nil {
			_ = w.f.Close()
			return err
		}
	}
	if err := w.f.Close(); err != nil {
		return err
	}
	if d.closed.Load() {
		return ErrClosed
	}
	if w.ifNotExist {
		// link(2) fails if the name exists: an atomic create-if-absent.
		if err := d.root.Link(w.tmp, w.name); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return ErrExist
			}
			return fileErr(w.name, err)
		}
		_ = d.root.Remove(w.tmp)
	} else if err := d.root.Rename(w.tmp, w.name); err != nil {
		if fi, serr := d.root.Stat(w.name); serr == nil && fi.IsDir() {
			return fmt.Errorf("%q is a directory on file://, so it cannot be an object too: %w", shorten(w.name), err)
		}
		return fileErr(w.name, err)
	}
	if d.sync {
		return d.syncDir(path.Dir(w.name))
	}
	return nil
}

func (d *fileDriver) syncDir(dir string) error {
	f, err := d.root.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func (d *fileDriver) Delete(ctx context.Context, name string) error {
	if err := d.use(ctx, name); err != nil {
		return err
	}
	fi, err := d.root.Lstat(name)
	if err != nil {
		if err = fileErr(name, err); errors.Is(err, ErrNotExist) {
			return nil
		}
		return err
	}
	if fi.IsDir() {
		return nil // a directory is not an object
	}
	if err := d.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fileErr(name, err)
	}
	// Directories exist only to hold objects, as prefixes do on S3: remove the ones left
	// empty (rmdir fails on the first that is not).
	for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
		if d.root.Remove(dir) != nil {
			break
		}
	}
	return nil
}

func (d *fileDriver) Copy(ctx context.Context, dst, src string) error {
	if err := d.use(ctx, dst); err != nil {
		return err
	}
	if err := d.use(ctx, src); err != nil {
		return err
	}
	in, _, err := d.openRegular(src)
	if err != nil {
		return err
	}
	defer in.Close()
	var raw []byte
	if d.xattrs {
		raw, _ = getAttrs(in)
	}
	f, tmp, err := d.createTemp(path.Dir(dst))
	if err != nil {
		return err
	}
	w := &fileWriter{d: d, ctx: ctx, name: dst, tmp: tmp, f: f, attrs: raw}
	if _, err := w.ReadFrom(in); err != nil {
		_ = w.Abort()
		return err
	}
	return w.Close()
}

func (d *fileDriver) List(ctx context.Context, opts *ListOptions) (*ListPage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d.closed.Load() {
		return nil, ErrClosed
	}
	dir := "."
	if i := strings.LastIndexByte(opts.Prefix, '/'); i >= 0 {
		dir = opts.Prefix[:i]
	}
	var walkErr error
	page := Paginate(opts, d.walk(ctx, dir, opts, &walkErr))
	if walkErr != nil {
		return nil, walkErr
	}
	return page, nil
}

// walk yields the objects under dir in lexicographic order of their names, skipping subtrees
// that are outside the prefix or wholly before the continuation token. With the "/" delimiter
// it yields only the first object of each subdirectory, which List rolls up into one entry.
// Symlinks to files inside the root are listed; symlinked directories are not descended into
// (they could loop), and symlinks leading outside are skipped.
func (d *fileDriver) walk(ctx context.Context, dir string, opts *ListOptions, errp *error) iter.Seq[ListObject] {
	return func(yield func(ListObject) bool) {
		d.walkDir(ctx, dir, opts, true, errp, yield)
	}
}

type walkEntry struct {
	name string // the object name, or the directory's name with a trailing slash
	info fs.FileInfo
}

// walkDir walks dir; top says dir is the prefix's directory, where names must still be
// checked against the prefix. It returns false when the walk must stop.
func (d *fileDriver) walkDir(ctx context.Context, dir string, opts *ListOptions, top bool, errp *error, yield func(ListObject) bool) bool {
	if err := ctx.Err(); err != nil {
		*errp = err
		return false
	}
	entries, err := d.readDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return true // gone, or never there: nothing under it
		}
		*errp = err
		return false
	}
	for _, e := range entries {
		isDir := strings.HasSuffix(e.name, "/")
		if top && !strings.HasPrefix(e.name, opts.Prefix) && !(isDir && strings.HasPrefix(opts.Prefix, e.name)) {
			continue
		}
		if t := opts.Token; t != "" && e.name <= t && !(isDir && strings.HasPrefix(t, e.name)) {
			continue // wholly before the token
		}
		if !isDir {
			if !yield(ListObject{Name: e.name, Size: e.info.Size(), ModTime: e.info.ModTime(),
				ETag: fmt.Sprintf(`"%x-%x"`, e.info.ModTime().UnixNano(), e.info.Size())}) {
				return false
			}
			continue
		}
		sub := strings.TrimSuffix(e.name, "/")
		if opts.Delimiter == "/" && strings.HasPrefix(e.name, opts.Prefix) {
			// A directory that List rolls up: its first object stands for it, if it has any.
			var first *ListObject
			d.walkDir(ctx, sub, opts, false, errp, func(o ListObject) bool { first = &o; return false })
			if *errp != nil || (first != nil && !yield(*first)) {
				return false
			}
			continue
		}
		if !d.walkDir(ctx, sub, opts, false, errp, yield) {
			return false
		}
	}
	return true
}

// readDir returns dir's files and directories sorted as their names sort: a directory's
// entries sort as its name with a slash, so "a/b" comes after "a-c".
func (d *fileDriver) readDir(dir string) ([]walkEntry, error) {
	f, err := d.root.Open(dir)
	if err != nil {
		return nil, err
	}
	des, err := f.ReadDir(-1)
	_ = f.Close()
	if err != nil {
		return nil, err
	}
	out := make([]walkEntry, 0, len(des))
	for _, de := range des {
		base := de.Name()
		if strings.HasPrefix(base, fileTempPrefix) {
			continue
		}
		name := base
		if dir != "." {
			name = dir + "/" + base
		}
		if validateName(name, 1<<30) != nil {
			continue // a file no object name can reach (a backslash, a control character)
		}
		var fi fs.FileInfo
		switch de.Type() {
		case 0, fs.ModeDir:
			fi, err = de.Info()
		case fs.ModeSymlink:
			// Followed inside the root only; a symlinked directory is not descended into.
			fi, err = d.root.Stat(name)
			if err == nil && fi.IsDir() {
				continue
			}
		default:
			continue
		}
		if err != nil {
			continue // removed meanwhile, or a symlink leading outside
		}
		switch {
		case fi.IsDir():
			out = append(out, walkEntry{name: name + "/", info: fi})
		case fi.Mode().IsRegular():
			out = append(out, walkEntry{name: name, info: fi})
		}
	}
	slices.SortFunc(out, func(a, b walkEntry) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

func (d *fileDriver) SignedURL(context.Context, string, *SignedURLOptions) (string, error) {
	return "", ErrNotSupported
}

func (d *fileDriver) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	return d.root.Close()
}
