package transifex

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Destination is where Pull reads and writes files: translation files and the pull state, by
// slash-separated names relative to the project's root. The default is the local directory
// (Dir); a worker can write to object storage through the same two methods.
type Destination interface {
	// ReadFile returns a file's content; an error wrapping fs.ErrNotExist when there is none.
	ReadFile(ctx context.Context, name string) ([]byte, error)
	// WriteFile replaces a file all at once: a reader sees the old content or the new, never a
	// part, and a failed write leaves the old content in place.
	WriteFile(ctx context.Context, name string, data []byte) error
}

// Dir is a Destination on a local directory. WriteFile writes a temporary file beside the
// target, syncs it and renames it over the target, creating parent directories as needed; a
// replaced file keeps its permission bits (new files get 0644).
type Dir string

func (d Dir) path(name string) (string, error) {
	clean := path.Clean(name)
	if name == "" || path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") || filepath.IsAbs(name) || filepath.VolumeName(name) != "" {
		return "", fmt.Errorf("transifex: file name %q is not a relative path inside the project", name)
	}
	return filepath.Join(string(d), filepath.FromSlash(clean)), nil
}

// ReadFile reads root/name.
func (d Dir) ReadFile(_ context.Context, name string) ([]byte, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// WriteFile atomically replaces root/name.
func (d Dir) WriteFile(ctx context.Context, name string, data []byte) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := d.path(name)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(p); err == nil {
		if !st.Mode().IsRegular() {
			return fmt.Errorf("transifex: %s is not a regular file", p)
		}
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(p)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), p); err != nil {
		return err
	}
	// Make the rename itself durable; not every file system can sync a directory.
	if f, derr := os.Open(dir); derr == nil {
		_ = f.Sync()
		f.Close()
	}
	return nil
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
