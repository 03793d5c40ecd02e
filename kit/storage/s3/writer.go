// The upload manager (feature/s3/manager) is deprecated in favour of feature/s3/transfermanager,
// which is not yet stable (v0.x); README.md says why this module stays on the stable v1 API.
//lint:file-ignore SA1019 feature/s3/transfermanager is not yet stable; see README.md.

package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stackkit/stackkit/kit/storage"
)

// uploader is the SDK's upload manager.
type uploader = manager.Uploader

func newUploader(client *awss3.Client, s settings) *uploader {
	return manager.NewUploader(client, func(u *manager.Uploader) {
		u.PartSize = s.partSize
		u.Concurrency = s.concurrency
		// The writer aborts itself, with a context that outlives the caller's cancellation:
		// the uploader would abort with the cancelled one and leave the upload behind.
		u.LeavePartsOnError = true
		if !s.checksums {
			u.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		}
	})
}

// errAborted ends an upload whose writer was aborted.
var errAborted = errors.New("s3: write aborted")

// writer streams into the SDK's upload manager through a pipe: Write hands bytes to the
// uploader, which fills part buffers (part_size each, concurrency+1 of them at most) and sends
// them while the caller goes on writing. Nothing is visible until the uploader completes, which
// it can only do after Close closes the pipe.
type writer struct {
	ctx    context.Context // the caller's
	d      *Driver
	name   string
	key    string
	pw     *io.PipeWriter
	cancel context.CancelCauseFunc
	stop   func() bool // unregisters the context.AfterFunc watching the caller's ctx
	done   chan struct{}

	// Set by the upload goroutine before done is closed.
	err      error // the upload's failure, if any
	abortErr error // failure to abort the multipart upload it left

	mu    sync.Mutex
	ended bool // Close or Abort was called
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
		// Sent with PutObject, or with CompleteMultipartUpload for a multipart upload: the
		// server refuses to commit over an existing object (412), atomically.
		in.IfNoneMatch = aws.String("*")
	}

	pr, pw := io.Pipe()
	in.Body = pr
	uctx, cancel := context.WithCancelCause(ctx)
	w := &writer{ctx: ctx, d: d, name: name, key: key, pw: pw, cancel: cancel, done: make(chan struct{})}
	// A cancelled context ends the upload even while the caller is not writing.
	w.stop = context.AfterFunc(ctx, func() { pw.CloseWithError(context.Cause(ctx)) })

	var perCall []func(*manager.Uploader)
	if opts.Size > d.cfg.partSize*maxUploadParts {
		// A known size beyond part_size × 10,000 parts: grow this upload's parts to fit.
		partSize := (opts.Size + maxUploadParts - 1) / maxUploadParts
		perCall = append(perCall, func(u *manager.Uploader) { u.PartSize = partSize })
	}
	go w.upload(uctx, pr, in, perCall)
	return w, nil
}

func (w *writer) upload(ctx context.Context, pr *io.PipeReader, in *awss3.PutObjectInput, perCall []func(*manager.Uploader)) {
	defer close(w.done)
	_, err := w.d.uploader.Upload(ctx, in, perCall...)
	if err != nil {
		var mf manager.MultiUploadFailure
		if errors.As(err, &mf) && mf.UploadID() != "" {
			w.abortErr = w.d.abortUpload(ctx, w.key, mf.UploadID())
		}
		if c := context.Cause(ctx); c != nil && errors.Is(err, context.Canceled) {
			err = fmt.Errorf("%w (%w)", err, c)
		}
	}
	w.err = err
	// Unblock a Write waiting on a failed upload; after a success every byte has been read.
	pr.CloseWithError(err)
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

func (w *writer) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		// The upload is ending (context.AfterFunc closes the pipe); say why now.
		return 0, fmt.Errorf("s3: write %q: %w", w.name, context.Cause(w.ctx))
	}
	n, err := w.pw.Write(p)
	if err != nil {
		w.mu.Lock()
		ended := w.ended
		w.mu.Unlock()
		if ended {
			return n, fmt.Errorf("s3: write %q: writer already closed", w.name)
		}
		return n, mapError("write", w.name, err)
	}
	return n, nil
}

// Close ends the stream and waits for the upload to complete.
func (w *writer) Close() error {
	if !w.end() {
		return fmt.Errorf("s3: close %q: writer already closed", w.name)
	}
	_ = w.pw.Close()
	<-w.done
	w.stop()
	w.cancel(nil)
	if w.err != nil {
		return errors.Join(mapError("write", w.name, w.err), w.abortErr)
	}
	return nil
}

// Abort stops the upload, cancelling the part uploads in flight, and aborts the multipart
// upload if one was started. It returns only a failure to abort it.
func (w *writer) Abort() error {
	if !w.end() {
		return nil
	}
	_ = w.pw.CloseWithError(errAborted)
	w.cancel(errAborted)
	<-w.done
	w.stop()
	return w.abortErr
}

// end marks the writer closed and reports whether it was still open.
func (w *writer) end() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended {
		return false
	}
	w.ended = true
	return true
}
