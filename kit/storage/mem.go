package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/stackkit/stackkit/kit/registry"
)

func init() { Register("mem", openMem) }

// openMem opens mem://, a private in-memory store for tests and development: every Open is a
// new, empty store, gone when closed. It takes no options of its own.
func openMem(_ context.Context, u *url.URL, opts *registry.Options) (Driver, error) {
	if err := opts.Err(); err != nil {
		return nil, err
	}
	if u.Host != "" || (u.Path != "" && u.Path != "/") || u.Opaque != "" {
		return nil, fmt.Errorf("mem:// takes no host or path (every mem:// store is private to its Storage)")
	}
	return NewMemDriver(), nil
}

// NewMemDriver returns the mem:// driver: objects in a map, with the same semantics as file://
// (atomic writes, IfNotExist, content-hash ETags), for tests and development.
func NewMemDriver() Driver {
	return &memDriver{objects: make(map[string]*memObject)}
}

type memDriver struct {
	mu      sync.RWMutex
	objects map[string]*memObject
	names   []string // sorted keys of objects
	closed  bool
}

// memObject is immutable once stored: readers and copies share data.
type memObject struct {
	data  []byte
	attrs Attrs
}

func (d *memDriver) Capabilities() Capabilities { return Capabilities{Name: "mem"} }

func (d *memDriver) get(name string) (*memObject, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, ErrClosed
	}
	o := d.objects[name]
	if o == nil {
		return nil, ErrNotExist
	}
	return o, nil
}

func (o *memObject) attrsCopy() *Attrs {
	a := o.attrs
	a.Metadata = maps.Clone(a.Metadata)
	return &a
}

func (d *memDriver) NewReader(ctx context.Context, name string, offset, length int64) (io.ReadCloser, *Attrs, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	o, err := d.get(name)
	if err != nil {
		return nil, nil, err
	}
	data := o.data[min(offset, int64(len(o.data))):]
	if length >= 0 && length < int64(len(data)) {
		data = data[:length]
	}
	return io.NopCloser(bytes.NewReader(data)), o.attrsCopy(), nil
}

func (d *memDriver) Stat(ctx context.Context, name string) (*Attrs, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o, err := d.get(name)
	if err != nil {
		return nil, err
	}
	return o.attrsCopy(), nil
}

func (d *memDriver) NewWriter(ctx context.Context, name string, opts *WriterOptions) (Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := &memWriter{d: d, ctx: ctx, name: name, opts: *opts}
	w.opts.Metadata = maps.Clone(opts.Metadata)
	if opts.Size > 0 && opts.Size < 1<<30 {
		w.buf.Grow(int(opts.Size))
	}
	return w, nil
}

type memWriter struct {
	d    *memDriver
	ctx  context.Context
	name string
	opts WriterOptions
	buf  bytes.Buffer
	done bool
}

func (w *memWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, ErrClosed
	}
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.buf.Write(p)
}

func (w *memWriter) Abort() error {
	w.done = true
	w.buf = bytes.Buffer{}
	return nil
}

func (w *memWriter) Close() error {
	if w.done {
		return ErrClosed
	}
	w.done = true
	if err := w.ctx.Err(); err != nil {
		return err
	}
	data := w.buf.Bytes()
	sum := sha256.Sum256(data)
	o := &memObject{data: data, attrs: Attrs{
		Name: w.name, Size: int64(len(data)), ModTime: time.Now(),
		ContentType: w.opts.ContentType, CacheControl: w.opts.CacheControl, Metadata: w.opts.Metadata,
		ETag: `"` + hex.EncodeToString(sum[:16]) + `"`,
	}}
	return w.d.put(w.name, o, w.opts.IfNotExist)
}

func (d *memDriver) put(name string, o *memObject, ifNotExist bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	if _, ok := d.objects[name]; ok {
		if ifNotExist {
			return ErrExist
		}
	} else {
		i, _ := slices.BinarySearch(d.names, name)
		d.names = slices.Insert(d.names, i, name)
	}
	d.objects[name] = o
	return nil
}

func (d *memDriver) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	if _, ok := d.objects[name]; ok {
		delete(d.objects, name)
		i, _ := slices.BinarySearch(d.names, name)
		d.names = slices.Delete(d.names, i, i+1)
	}
	return nil
}

func (d *memDriver) Copy(ctx context.Context, dst, src string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o, err := d.get(src)
	if err != nil {
		return err
	}
	c := &memObject{data: o.data, attrs: *o.attrsCopy()}
	c.attrs.Name, c.attrs.ModTime = dst, time.Now()
	return d.put(dst, c, false)
}

func (d *memDriver) List(ctx context.Context, opts *ListOptions) (*ListPage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, ErrClosed
	}
	start, _ := slices.BinarySearch(d.names, max(opts.Prefix, opts.Token))
	return Paginate(opts, func(yield func(ListObject) bool) {
		for _, name := range d.names[start:] {
			if len(name) < len(opts.Prefix) || name[:len(opts.Prefix)] != opts.Prefix {
				return
			}
			a := d.objects[name].attrs
			if !yield(ListObject{Name: name, Size: a.Size, ModTime: a.ModTime, ETag: a.ETag}) {
				return
			}
		}
	}), nil
}

func (d *memDriver) SignedURL(context.Context, string, *SignedURLOptions) (string, error) {
	return "", ErrNotSupported
}

func (d *memDriver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	d.objects, d.names = nil, nil
	return nil
}
