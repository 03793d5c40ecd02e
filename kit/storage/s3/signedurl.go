package s3

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stackkit/stackkit/kit/storage"
)

// maxSignedURLExpiry is SigV4's limit on a presigned URL's lifetime.
const maxSignedURLExpiry = 7 * 24 * time.Hour

// SignedURL implements storage.Driver with SigV4 query-string signing: the URL is computed
// locally, and the server checks the signature and the expiry.
//
// A signed PUT carries the content type it was signed for, if any; the uploader must send that
// Content-Type. It does not carry sse, storage_class or acl (the uploader would have to send
// those headers too): objects uploaded through it get the bucket's defaults. It cannot limit the
// upload's size: MaxSize fails with an error wrapping storage.ErrNotSupported.
func (d *Driver) SignedURL(ctx context.Context, name string, opts *storage.SignedURLOptions) (string, error) {
	if opts.Expiry <= 0 || opts.Expiry > maxSignedURLExpiry {
		return "", fmt.Errorf("s3: signed URL for %q: expiry %s outside (0, 7 days], SigV4's limit", name, opts.Expiry)
	}
	if opts.MaxSize > 0 {
		// A presigned PUT can bind an exact Content-Length but not an upper bound (only POST
		// policies can).
		return "", fmt.Errorf("s3: signed URL for %q: a presigned PUT cannot limit the upload's size; give the Storage a signing key and serve its URLs with SignedURLHandler to use MaxSize: %w", name, storage.ErrNotSupported)
	}
	expires := awss3.WithPresignExpires(opts.Expiry)
	key := aws.String(d.key(name))
	var (
		req *v4.PresignedHTTPRequest
		err error
	)
	switch opts.Method {
	case http.MethodGet, "":
		req, err = d.presigner.PresignGetObject(ctx, &awss3.GetObjectInput{Bucket: &d.bucket, Key: key}, expires)
	case http.MethodPut:
		in := &awss3.PutObjectInput{Bucket: &d.bucket, Key: key}
		if opts.ContentType != "" {
			in.ContentType = aws.String(opts.ContentType)
		}
		req, err = d.presigner.PresignPutObject(ctx, in, expires)
	default:
		return "", fmt.Errorf("s3: signed URL for %q: method %q: %w (want GET or PUT)", name, opts.Method, storage.ErrNotSupported)
	}
	if err != nil {
		return "", fmt.Errorf("s3: signed URL for %q: %w", name, err)
	}
	return req.URL, nil
}
