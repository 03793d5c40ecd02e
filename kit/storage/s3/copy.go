package s3

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// copyPartSize is the part size of a multipart server-side copy: large, since no bytes pass
// through the client, and within S3's 5 GiB part limit.
const copyPartSize = 1 << 30

// Copy implements storage.Driver with a server-side CopyObject, or UploadPartCopy parts for
// objects over CopyObject's 5 GiB limit. The copy keeps the source's content type, cache
// control and metadata, and gets the driver's encryption, storage class and ACL.
func (d *Driver) Copy(ctx context.Context, dst, src string) error {
	head, err := d.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &d.bucket, Key: aws.String(d.key(src))})
	if err != nil {
		return mapError("copy", src, err)
	}
	if dst == src {
		// S3 refuses to copy an object onto itself without a metadata change; the result
		// would be the object as it is.
		return nil
	}
	size := aws.ToInt64(head.ContentLength)
	if size > d.maxCopySize {
		return d.copyMultipart(ctx, dst, src, head)
	}
	in := &awss3.CopyObjectInput{
		Bucket:       &d.bucket,
		Key:          aws.String(d.key(dst)),
		CopySource:   aws.String(copySource(d.bucket, d.key(src))),
		ACL:          d.cfg.acl,
		StorageClass: d.cfg.storageClass,
	}
	d.setEncryption(&in.ServerSideEncryption, &in.SSEKMSKeyId)
	if _, err := d.client.CopyObject(ctx, in); err != nil {
		return mapError("copy", src, err)
	}
	return nil
}

// copyMultipart copies an object larger than CopyObject allows, copyPartSize at a time,
// concurrency parts at once. A failure aborts the upload.
func (d *Driver) copyMultipart(ctx context.Context, dst, src string, head *awss3.HeadObjectOutput) error {
	key := d.key(dst)
	create := &awss3.CreateMultipartUploadInput{
		Bucket:             &d.bucket,
		Key:                aws.String(key),
		ContentType:        head.ContentType,
		CacheControl:       head.CacheControl,
		ContentEncoding:    head.ContentEncoding,
		ContentDisposition: head.ContentDisposition,
		ContentLanguage:    head.ContentLanguage,
		Metadata:           head.Metadata,
		ACL:                d.cfg.acl,
		StorageClass:       d.cfg.storageClass,
	}
	d.setEncryption(&create.ServerSideEncryption, &create.SSEKMSKeyId)
	mu, err := d.client.CreateMultipartUpload(ctx, create)
	if err != nil {
		return mapError("copy", src, err)
	}
	size := aws.ToInt64(head.ContentLength)
	partSize := max(int64(copyPartSize), (size+maxUploadParts-1)/maxUploadParts)
	if partSize > d.maxCopySize {
		partSize = max(d.maxCopySize, minPartSize) // tests lower maxCopySize to copy small objects in parts
	}
	parts := make([]types.CompletedPart, (size+partSize-1)/partSize)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(d.cfg.concurrency)
	source := aws.String(copySource(d.bucket, d.key(src)))
	for i := range parts {
		first := int64(i) * partSize
		last := min(first+partSize, size) - 1
		g.Go(func() error {
			out, err := d.client.UploadPartCopy(gctx, &awss3.UploadPartCopyInput{
				Bucket:            &d.bucket,
				Key:               aws.String(key),
				UploadId:          mu.UploadId,
				PartNumber:        aws.Int32(int32(i + 1)),
				CopySource:        source,
				CopySourceRange:   aws.String(fmt.Sprintf("bytes=%d-%d", first, last)),
				CopySourceIfMatch: head.ETag,
			})
			if err != nil {
				return err
			}
			parts[i] = types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(int32(i + 1))}
			return nil
		})
	}
	err = g.Wait()
	if err == nil {
		_, err = d.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
			Bucket:          &d.bucket,
			Key:             aws.String(key),
			UploadId:        mu.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		})
	}
	if err != nil {
		if isCode(err, "PreconditionFailed") {
			// CopySourceIfMatch: parts of two versions must not be stitched together.
			err = fmt.Errorf("source %q changed during the copy: %w", src, err)
		}
		return errors.Join(fmt.Errorf("s3: copy %q: %w", src, err), d.abortUpload(ctx, key, aws.ToString(mu.UploadId)))
	}
	return nil
}

// copySource is the x-amz-copy-source value for key: bucket/key, URI-encoded as SigV4 encodes
// paths (every byte but unreserved characters and "/"), so spaces, "+", "%", "?" and non-ASCII
// names reach the server intact.
func copySource(bucket, key string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.WriteString(bucket)
	b.WriteByte('/')
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// setEncryption fills an input's server-side encryption fields from the driver's settings.
func (d *Driver) setEncryption(sse *types.ServerSideEncryption, kmsKeyID **string) {
	*sse = d.cfg.sse
	if d.cfg.kmsKeyID != "" {
		*kmsKeyID = aws.String(d.cfg.kmsKeyID)
	}
}
