package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stackkit/stackkit/kit/registry"
)

func init() { Register("file", openFile) }

func openFile(ctx context.Context, u *url.URL, opts *registry.Options) (Driver, error) {
	if err := opts.Err(); err != nil {
		return nil, err
	}
	const want = "want file:///absolute/dir or file://relative/dir"
	if u.Opaque != "" {
		return nil, fmt.Errorf("mail directory %q is not after file:// (%s)", u.Opaque, want)
	}
	dir := u.Host + u.Path
	if dir == "" {
		return nil, fmt.Errorf("no mail directory in URL (%s)", want)
	}
	if strings.ContainsRune(dir, 0) {
		return nil, errors.New("mail directory name contains NUL")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return NewFile(filepath.Clean(filepath.FromSlash(dir)))
}

// File is the driver behind file://DIR: each message becomes one file DIR/<time>-<id>.eml
// holding its RFC 5322 bytes (Django's file-based backend), written to a temporary file and
// renamed, so a reader never sees half a message. Bcc recipients are not recorded.
type File struct {
	dir string
}

// NewFile returns a file driver writing into dir, which it creates (mode 0700) if needed.
func NewFile(dir string) (*File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create mail directory: %w", err)
	}
	probe, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return nil, fmt.Errorf("mail directory is not writable: %w", err)
	}
	_ = probe.Close()
	_ = os.Remove(probe.Name())
	return &File{dir: dir}, nil
}

// Dir returns the directory messages are written to.
func (d *File) Dir() string { return d.dir }

// Capabilities implements Driver.
func (*File) Capabilities() Capabilities { return Capabilities{Name: "file"} }

// Send implements Driver.
func (d *File) Send(ctx context.Context, env *Envelope) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := time.Now().UTC().Format("20060102-150405.000000000") + "-" + fileSafe(env.MessageID) + "-" + hex.EncodeToString(rnd[:]) + ".eml"
	tmp, err := os.CreateTemp(d.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("mail: file: %w", err)
	}
	_, err = tmp.Write(env.Data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(d.dir, name))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("mail: file: %w", err)
	}
	return nil
}

// fileSafe keeps the characters of a Message-ID that are safe in a file name.
func fileSafe(id string) string {
	b := []byte(id)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_' || c == '@') {
			b[i] = '_'
		}
	}
	if len(b) > 100 {
		b = b[:100]
	}
	return string(b)
}

// Close implements Driver.
func (*File) Close() error { return nil }
