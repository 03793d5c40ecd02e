package storage

import (
	"context"
	"fmt"
	"io"
)

// Reader streams an object's content. It is not safe for concurrent use; Close it when done.
type Reader struct {
	s      *Storage
	ctx    context.Context
	name   string
	rc     io.ReadCloser
	attrs  *Attrs
	op     opState
	n      int64
	closed bool
}

// Open opens name for reading its whole content. A missing name is an error wrapping
// ErrNotExist.
func (s *Storage) Open(ctx context.Context, name string) (*Reader, error) {
	return s.OpenRange(ctx, name, 0, -1)
}

// OpenRange opens bytes [offset, offset+length) of name; length < 0 reads to the end. A range
// past the end is cut at the end (an offset at or past it gives an empty reader), as in HTTP
// range requests. The Reader's Attrs describe the whole object.
func (s *Storage) OpenRange(ctx context.Context, name string, offset, length int64) (*Reader, error) {
	if err := s.check(ctx, name); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("storage: read %q: negative offset %d", shorten(name), offset)
	}
	op := s.start(ctx, opRead)
	if length == 0 {
		// Nothing to read, but the object must exist and the attributes are still wanted.
		a, err := s.d.Stat(ctx, name)
		if err != nil {
			s.finish(ctx, op, err, 0)
			return nil, s.wrap("read", name, err)
		}
		return &Reader{s: s, ctx: ctx, name: name, rc: io.NopCloser(eofReader{}), attrs: a, op: op}, nil
	}
	if length < 0 {
		length = -1
	}
	rc, a, err := s.d.NewReader(ctx, name, offset, length)
	if err != nil {
		s.finish(ctx, op, err, 0)
		return nil, s.wrap("read", name, err)
	}
	return &Reader{s: s, ctx: ctx, name: name, rc: rc, attrs: a, op: op}, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// Attrs describes the whole object (its size, not the range's). Do not modify it.
func (r *Reader) Attrs() *Attrs { return r.attrs }

// Read reads the next bytes of the object or range.
func (r *Reader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	n, err := r.rc.Read(p)
	r.n += int64(n)
	if err != nil && err != io.EOF {
		err = r.s.wrap("read", r.name, err)
	}
	return n, err
}

// WriteTo streams the rest of the content to w, letting the backend use the fastest path it has
// (for file://, copy_file_range or sendfile when w is a file or a socket).
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	if r.closed {
		return 0, ErrClosed
	}
	n, err := io.Copy(w, r.rc)
	r.n += n
	if err != nil {
		err = r.s.wrap("read", r.name, err)
	}
	return n, err
}

// Close releases the reader. Closing twice returns nil.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.rc.Close()
	r.s.finish(r.ctx, r.op, err, r.n)
	return r.s.wrap("read", r.name, err)
}
