package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stackkit/stackkit/kit/storage"
)

// errAborted is the cause given to the part uploads an Abort cancels.
var errAborted = errors.New("s3: write aborted")

// writer streams an object in parts. Write copies into the current part buffer; a full buffer
// is handed to a goroutine that uploads it (UploadPart) while the caller fills the next one.
// A writer holds at most concurrency buffers of part_size bytes, the one being filled and the
// ones being sent, however large the object: when the source is faster than the network, all
// concurrency parts are in flight while Write waits for one to finish. An object that fits in one part is sent with
// one PutObject at Close; a larger one is a multipart upload that Close completes and that
// Abort, a failed part or Close, or a cancelled context aborts.
//
// The SDK's upload manager (feature/s3/manager) does the same work but reads the first part
// with io.ReadAll, which leaves a part's worth or more of garbage behind, and aborts with the
// caller's context, which fails once that context is cancelled; see README.md.
type writer struct {
	ctx      context.Context // the caller's
	upCtx    context.Context // ctx, also cancelled by Abort and by a failed part
	cancel   context.CancelCauseFunc
	stop     func() bool // unregisters the context.AfterFunc watching ctx
	d        *Driver
	name     string
	key      string
	in       *awss3.PutObjectInput // the object's settings (no body)
	partSize int64
	checksum types.ChecksumAlgorithm // for parts of a multipart upload

	buf   []byte        // the part being filled
	slots chan struct{} // one token per buffer: the one being filled and those in flight
	free  chan []byte   // part buffers whose upload is done, for the next parts
	wg    sync.WaitGroup

	mu        sync.Mutex
	uploadID  string                // "" until the first part is sent
	parts     []types.CompletedPart // by part number - 1
	err       error                 // the first failure (sticky)
	closed    bool                  // Close or Abort was called
	aborted   bool                  // the upload is aborted: no more parts may start
	abortOnce sync.Once
	abortErr  error // failure to abort the multipart upload
}

// NewWriter implements storage.Driver.
func (d *Driver) NewWriter(ctx context.Context, name string, opts *storage.WriterOptions) (storage.Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3: write %q: %w", name, err)
	}
	key := d.key(name)
	if opts.IfNotExist && d.cfg.checkThenWrite {
		switch _, err := d.Stat(ctx, name); {
		case err == nil:
			return nil, fmt.Errorf("s3: write %q: %w", name, storage.ErrExist)
		case !errors.Is(err, storage.ErrNotExist):
			return nil, err
		}
	}
	in := &awss3.PutObjectInput{
		Bucket:       &d.bucket,
		Key:          aws.String(key),
		ContentType:  aws.String(opts.ContentType),
		Metadata:     opts.Metadata,
		ACL:          d.cfg.acl,
		StorageClass: d.cfg.storageClass,
	}
	if cc := opts.CacheControl; cc != "" {
		in.CacheControl = aws.String(cc)
	} else if d.cfg.cacheControl != "" {
		in.CacheControl = aws.String(d.cfg.cacheControl)
	}
	d.setEncryption(&in.ServerSideEncryption, &in.SSEKMSKeyId)
	if opts.IfNotExist && !d.cfg.checkThenWrite {
		// Sent with PutObject, or with CompleteMultipartUpload: the server refuses to commit
		// over an existing object (412), atomically.
		in.IfNoneMatch = aws.String("*")
	}
	partSize := d.cfg.partSize
	if opts.Size > partSize*maxUploadParts {
		// A known size beyond part_size × 10,000 parts: grow this upload's parts to fit.
		partSize = (opts.Size + maxUploadParts - 1) / maxUploadParts
	}
	upCtx, cancel := context.WithCancelCause(ctx)
	w := &writer{
		ctx: ctx, upCtx: upCtx, cancel: cancel, d: d, name: name, key: key, in: in,
		partSize: partSize,
		slots:    make(chan struct{}, d.cfg.concurrency),
		free:     make(chan []byte, d.cfg.concurrency),
	}
	if d.cfg.checksums {
		w.checksum = types.ChecksumAlgorithmCrc32
	}
	if opts.Size >= 0 && opts.Size < partSize {
		// A small object of known size: a buffer of its size, not a whole part.
		w.slots <- struct{}{}
		w.buf = make([]byte, 0, opts.Size)
	}
	// A cancelled context aborts the upload even if the caller never comes back to the writer.
	w.stop = context.AfterFunc(ctx, func() { w.abort(context.Cause(ctx)) })
	return w, nil
}

func (w *writer) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if err := w.failed(); err != nil {
			return n, err
		}
		if len(w.buf) == cap(w.buf) {
			// Full (or none yet), and more to come.
			if err := w.next(); err != nil {
				return n, err
			}
		}
		k := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
		n += k
	}
	return n, nil
}

// ReadFrom reads r into the part buffers directly, without the copy through io.Copy's buffer.
// kit/storage's ObjectWriter.ReadFrom (and so Put) uses it. A failure of r leaves the writer
// open (the caller aborts it).
func (w *writer) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for {
		if err := w.failed(); err != nil {
			return total, err
		}
		if w.buf != nil && len(w.buf) == cap(w.buf) {
			// Full: read one byte to learn whether there is more before sending the part
			// (the last part is Close's, which so knows whether one PutObject will do).
			var probe [1]byte
			n, err := r.Read(probe[:])
			if n == 1 {
				if err := w.next(); err != nil {
					return total, err
				}
				w.buf = append(w.buf, probe[0])
				total++
			}
			switch {
			case err == io.EOF:
				return total, nil
			case err != nil:
				return total, err
			}
			continue
		}
		if w.buf == nil {
			if err := w.next(); err != nil {
				return total, err
			}
		}
		n, err := r.Read(w.buf[len(w.buf):cap(w.buf)])
		w.buf = w.buf[:len(w.buf)+n]
		total += int64(n)
		switch {
		case err == io.EOF:
			return total, nil
		case err != nil:
			return total, err
		}
	}
}

// next makes room for more content: a first buffer, a whole part buffer in place of a small
// one that turned out too small, or, when the part buffer is full, sends it and starts the next.
func (w *writer) next() error {
	switch {
	case w.buf == nil:
		select {
		case w.slots <- struct{}{}:
		case <-w.upCtx.Done():
			return w.fail(fmt.Errorf("s3: write %q: %w", w.name, context.Cause(w.upCtx)))
		}
		w.buf = w.getBuffer()
	case int64(cap(w.buf)) < w.partSize:
		// More than the announced size: continue in a whole part buffer (same slot).
		w.buf = append(w.getBuffer(), w.buf...)
	default:
		if err := w.sendPart(); err != nil {
			return err
		}
		return w.next()
	}
	return nil
}

// failed returns why the writer can take no more: closed, its context done, a part failed.
func (w *writer) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failedLocked()
}

func (w *writer) failedLocked() error {
	switch {
	case w.closed:
		return fmt.Errorf("s3: write %q: writer already closed", w.name)
	case w.err != nil:
		return w.err
	case w.ctx.Err() != nil:
		return fmt.Errorf("s3: write %q: %w", w.name, context.Cause(w.ctx))
	case w.aborted:
		return fmt.Errorf("s3: write %q: %w", w.name, errAborted)
	}
	return nil
}

// sendPart starts the upload of w.buf as the next part, creating the multipart upload first
// if this is the first part. The upload takes over w.buf and its slot.
func (w *writer) sendPart() error {
	w.mu.Lock()
	id := w.uploadID
	w.mu.Unlock()
	if id == "" {
		create := &awss3.CreateMultipartUploadInput{
			Bucket:               w.in.Bucket,
			Key:                  w.in.Key,
			ContentType:          w.in.ContentType,
			CacheControl:         w.in.CacheControl,
			Metadata:             w.in.Metadata,
			ACL:                  w.in.ACL,
			StorageClass:         w.in.StorageClass,
			ServerSideEncryption: w.in.ServerSideEncryption,
			SSEKMSKeyId:          w.in.SSEKMSKeyId,
			ChecksumAlgorithm:    w.checksum,
		}
		out, err := w.d.client.CreateMultipartUpload(w.upCtx, create)
		if err != nil {
			return w.fail(mapError("write", w.name, err))
		}
		id = aws.ToString(out.UploadId)
		w.mu.Lock()
		w.uploadID = id
		aborted := w.aborted
		w.mu.Unlock()
		if aborted {
			// Aborted (the context ended) while the upload was being created, too late for
			// abort to see it: abort it here.
			w.setAbortErr(w.d.abortUpload(w.ctx, w.key, id))
			return w.failed()
		}
	}
	w.mu.Lock()
	if w.aborted {
		// abort is waiting for the parts in flight; start no more.
		err := w.failedLocked()
		w.mu.Unlock()
		return err
	}
	if len(w.parts) == w.d.maxParts {
		w.mu.Unlock()
		return w.fail(fmt.Errorf("s3: write %q: more than %d parts of %d bytes, S3's limit: give the size (WriterOptions.Size) or a larger part_size", w.name, w.d.maxParts, w.partSize))
	}
	w.parts = append(w.parts, types.CompletedPart{})
	num := int32(len(w.parts))
	w.wg.Add(1) // under mu, so it happens before abort's Wait or not at all
	w.mu.Unlock()
	buf := w.buf
	w.buf = nil
	go func() {
		defer w.wg.Done()
		defer func() {
			w.putBuffer(buf)
			<-w.slots
		}()
		out, err := w.d.client.UploadPart(w.upCtx, &awss3.UploadPartInput{
			Bucket:            w.in.Bucket,
			Key:               w.in.Key,
			UploadId:          aws.String(id),
			PartNumber:        aws.Int32(num),
			Body:              bytes.NewReader(buf),
			ChecksumAlgorithm: w.checksum,
		})
		if err != nil {
			_ = w.fail(fmt.Errorf("s3: write %q: part %d: %w", w.name, num, err))
			return
		}
		w.mu.Lock()
		w.parts[num-1] = types.CompletedPart{
			PartNumber:    aws.Int32(num),
			ETag:          out.ETag,
			ChecksumCRC32: out.ChecksumCRC32,
		}
		w.mu.Unlock()
	}()
	return nil
}

// fail records the first failure and cancels the other part uploads; it returns the failure
// that stands.
func (w *writer) fail(err error) error {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	err = w.err
	w.mu.Unlock()
	w.cancel(err)
	return err
}

// Close sends what is left and commits: one PutObject for an object that fits in a part,
// else the last part and CompleteMultipartUpload. After any failure the upload is aborted.
func (w *writer) Close() error {
	w.mu.Lock()
	err := w.failedLocked()
	w.closed = true
	w.mu.Unlock()
	if err == nil {
		err = w.commit()
	}
	w.stop()
	w.release()
	if err != nil {
		w.abort(err)
		return errors.Join(err, w.abortFailure())
	}
	w.cancel(nil)
	return nil
}

func (w *writer) commit() error {
	w.mu.Lock()
	id := w.uploadID
	w.mu.Unlock()
	if id == "" {
		in := *w.in
		in.Body = bytes.NewReader(w.buf)
		in.ContentLength = aws.Int64(int64(len(w.buf)))
		if _, err := w.d.client.PutObject(w.upCtx, &in); err != nil {
			return mapError("write", w.name, err)
		}
		return nil
	}
	if len(w.buf) > 0 {
		if err := w.sendPart(); err != nil {
			return err
		}
	}
	w.wg.Wait()
	w.mu.Lock()
	parts, err := w.parts, w.err
	w.mu.Unlock()
	if err != nil {
		return err
	}
	_, err = w.d.client.CompleteMultipartUpload(w.upCtx, &awss3.CompleteMultipartUploadInput{
		Bucket:          w.in.Bucket,
		Key:             w.in.Key,
		UploadId:        aws.String(id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		IfNoneMatch:     w.in.IfNoneMatch,
	})
	if err != nil {
		return mapError("write", w.name, err)
	}
	return nil
}

// Abort discards the object: it cancels the part uploads in flight and aborts the multipart
// upload. It returns only a failure to abort it (the parts then stay stored until a lifecycle
// rule or a later abort removes them).
func (w *writer) Abort() error {
	w.mu.Lock()
	closed := w.closed
	w.closed = true
	w.mu.Unlock()
	if closed {
		return nil
	}
	w.stop()
	w.abort(errAborted)
	w.release()
	return w.abortFailure()
}

// abort stops the upload with cause: no part starts after it, the parts in flight are
// cancelled and waited for, and the multipart upload, if any, is aborted. Only the first call
// does anything; later ones return once it is done. It runs on the caller's goroutine or on the context's AfterFunc, so it leaves
// w.buf to the caller (see release).
func (w *writer) abort(cause error) {
	// Once, not the aborted flag: a second caller (Abort while the context's AfterFunc is
	// aborting) must wait until the upload is aborted, not return while it still exists.
	w.abortOnce.Do(func() {
		w.mu.Lock()
		w.aborted = true
		w.mu.Unlock()
		w.cancel(cause)
		w.wg.Wait()
		w.mu.Lock()
		id := w.uploadID
		w.mu.Unlock()
		if id != "" {
			w.setAbortErr(w.d.abortUpload(w.ctx, w.key, id))
		}
	})
}

// release gives up the buffer being filled and its slot; the caller's goroutine only.
func (w *writer) release() {
	if w.buf != nil {
		w.buf = nil
		<-w.slots
	}
}

func (w *writer) setAbortErr(err error) {
	if err != nil {
		w.mu.Lock()
		w.abortErr = err
		w.mu.Unlock()
	}
}

func (w *writer) abortFailure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.abortErr
}

// abortUpload aborts an unfinished multipart upload with a context that survives the caller's
// cancellation, so no parts are left stored (and billed) behind an invisible upload.
func (d *Driver) abortUpload(ctx context.Context, key, uploadID string) error {
	actx, cancel := detached(ctx)
	defer cancel()
	_, err := d.client.AbortMultipartUpload(actx, &awss3.AbortMultipartUploadInput{
		Bucket: &d.bucket, Key: aws.String(key), UploadId: aws.String(uploadID),
	})
	if err != nil && !isCode(err, "NoSuchUpload") {
		return fmt.Errorf("s3: abort multipart upload %s of %q (its parts stay stored until it is aborted or a lifecycle rule removes it): %w", uploadID, key, err)
	}
	return nil
}

// getBuffer returns an empty part buffer: one whose upload is done, or a new one. With the
// slots, a writer so allocates at most concurrency buffers and reuses them for every part. They
// are not pooled across writers: a sync.Pool drops its buffers at garbage collections (and,
// under the race detector, at random), and the new allocations would let the heap grow.
func (w *writer) getBuffer() []byte {
	select {
	case b := <-w.free:
		return b
	default:
		return make([]byte, 0, w.partSize)
	}
}

func (w *writer) putBuffer(b []byte) {
	if int64(cap(b)) != w.partSize {
		return
	}
	select {
	case w.free <- b[:0]:
	default:
	}
}
