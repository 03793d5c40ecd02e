package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
)

// sniffLen is how much content http.DetectContentType looks at.
const sniffLen = 512

// ObjectWriter streams content into an object (the name Writer is the driver's interface). The
// content becomes visible under the name only when Close returns nil; until then readers see the
// previous content (or nothing). A failed Write or ReadFrom (io.Copy into it), Abort, or the
// Create context being cancelled discards what was written, and Close then returns the error. It
// is not safe for concurrent use.
type ObjectWriter struct {
	s     *Storage
	ctx   context.Context
	name  string
	opts  WriterOptions
	w     Writer // the backend's; nil until the content type is known
	sniff []byte // the first bytes, held while the content type is being detected
	n     int64
	op    opState
	done  bool
	err   error // sticky write error
}

// Create opens name for writing. opts may be nil. When opts.ContentType is empty it is
// detected: from the name's extension (mime.TypeByExtension), else from the first 512 bytes
// (http.DetectContentType) — the backend's writer is created once it is known, so nothing
// reaches the backend before then. With opts.IfNotExist, Close fails with ErrExist if the name
// exists by then, atomically on every built-in backend. A positive opts.Size announces the
// final size.
func (s *Storage) Create(ctx context.Context, name string, opts *WriterOptions) (*ObjectWriter, error) {
	o := WriterOptions{}
	if opts != nil {
		o = *opts
	}
	if o.Size <= 0 {
		o.Size = -1
	}
	return s.create(ctx, name, &o)
}

// create is Create with opts.Size already settled: -1 when unknown, else exact (0 included).
func (s *Storage) create(ctx context.Context, name string, opts *WriterOptions) (*ObjectWriter, error) {
	if err := s.check(ctx, name); err != nil {
		return nil, err
	}
	w := &ObjectWriter{s: s, ctx: ctx, name: name, opts: *opts}
	w.op = s.start(ctx, opWrite)
	if w.opts.ContentType == "" {
		w.opts.ContentType = mime.TypeByExtension(path.Ext(name))
	}
	if w.opts.ContentType == "" {
		w.sniff = make([]byte, 0, sniffLen)
		return w, nil
	}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

// open creates the driver's writer once the content type is known.
func (w *ObjectWriter) open() error {
	if w.opts.ContentType == "" {
		w.opts.ContentType = http.DetectContentType(w.sniff)
	}
	dw, err := w.s.d.NewWriter(w.ctx, w.name, &w.opts)
	if err != nil {
		w.fail(err)
		return w.err
	}
	w.w = dw
	if len(w.sniff) > 0 {
		buf := w.sniff
		w.sniff = nil
		if _, err := dw.Write(buf); err != nil {
			_ = dw.Abort()
			w.fail(err)
			return w.err
		}
	}
	w.sniff = nil
	return nil
}

// fail ends the operation with err.
func (w *ObjectWriter) fail(err error) {
	if w.done {
		return
	}
	w.done = true
	w.err = w.s.wrap("write", w.name, err)
	w.s.finish(w.ctx, w.op, err, w.n)
}

// Write writes p.
func (w *ObjectWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.done {
		return 0, ErrClosed
	}
	if err := w.ctx.Err(); err != nil {
		w.abort(err)
		return 0, w.err
	}
	written := 0
	if w.w == nil {
		k := min(len(p), sniffLen-len(w.sniff))
		w.sniff = append(w.sniff, p[:k]...)
		written, p = k, p[k:]
		w.n += int64(k)
		if len(w.sniff) < sniffLen {
			return written, nil
		}
		if err := w.open(); err != nil {
			return 0, err
		}
	}
	n, err := w.w.Write(p)
	w.n += int64(n)
	if err != nil {
		w.abort(err)
		return written + n, w.err
	}
	return written + n, nil
}

// ReadFrom copies r into the object, letting the backend use its fastest path (for file://,
// copy_file_range when r is a file). When it fails — r failing included — the writer fails as a
// failed Write does: what was copied is discarded, the previous content stays, and Close returns
// the error (wrapping r's).
func (w *ObjectWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.done {
		return 0, ErrClosed
	}
	var total int64
	if w.w == nil {
		for len(w.sniff) < sniffLen {
			n, err := r.Read(w.sniff[len(w.sniff):sniffLen])
			w.sniff = w.sniff[:len(w.sniff)+n]
			w.n += int64(n)
			total += int64(n)
			if err == io.EOF {
				return total, nil // Close opens the backend writer with what was sniffed
			}
			if err != nil {
				w.abort(err)
				return total, w.err
			}
		}
		if err := w.open(); err != nil {
			return total, err
		}
	}
	if err := w.ctx.Err(); err != nil {
		w.abort(err)
		return total, w.err
	}
	var n int64
	var err error
	if rf, ok := w.w.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(writerOnly{w.w}, r)
	}
	w.n += n
	total += n
	if err != nil {
		if cerr := w.ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = errors.Join(cerr, err)
		}
		w.abort(err)
		return total, w.err
	}
	return total, nil
}

// writerOnly hides a ReadFrom method, so io.Copy does not loop back into it.
type writerOnly struct{ io.Writer }

// Close commits the content. After an error nothing was written and the previous content
// stays. Closing again returns the first Close's result.
func (w *ObjectWriter) Close() error {
	if w.done {
		if w.err != nil {
			return w.err
		}
		return nil
	}
	if err := w.ctx.Err(); err != nil {
		w.abort(err)
		return w.err
	}
	if w.w == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	err := w.w.Close()
	if err == nil && w.ctx.Err() != nil {
		// The backend committed while the context was being cancelled: that is a success.
		err = nil
	}
	w.done = true
	if err != nil {
		w.err = w.s.wrap("write", w.name, err)
	}
	w.s.finish(w.ctx, w.op, err, w.n)
	return w.err
}

// Abort discards everything written; the previous content stays. Abort after a successful
// Close does nothing and returns an error wrapping ErrClosed.
func (w *ObjectWriter) Abort() error {
	if w.done {
		if w.err == nil {
			return fmt.Errorf("storage: abort %q: already committed: %w", shorten(w.name), ErrClosed)
		}
		return nil
	}
	w.abort(errAborted)
	return nil
}

var errAborted = errors.New("write aborted")

func (w *ObjectWriter) abort(cause error) {
	if w.w != nil {
		_ = w.w.Abort()
	}
	w.fail(cause)
}
