// Package s3 is the Amazon S3 backend of kit/storage, for AWS and any S3-compatible server
// (MinIO, versitygw, Ceph RGW, Cloudflare R2, Backblaze B2, ...), on aws-sdk-go-v2.
//
// Importing the package registers the s3:// scheme:
//
//	import _ "github.com/stackkit/stackkit/kit/storage/s3"
//
//	st, err := storage.Open(ctx, "s3://my-bucket/media?region=eu-west-1")
//	err = st.Put(ctx, "avatars/42.png", bytes.NewReader(png))
//	u, err := st.SignedURL(ctx, "avatars/42.png", ...)
//
// The URL is s3://BUCKET/PREFIX?OPTIONS; every object is stored under PREFIX/ in BUCKET.
// Credentials come from the standard AWS chain (environment, shared files, SSO, web identity,
// container and instance roles) unless the URL carries an access key, either as userinfo
// (s3://ID:SECRET@bucket) or as access_key_id and secret_access_key; the secret is redacted
// from every error and log line. Options:
//
//	region             the bucket's region (default from the AWS chain; us-east-1 with an endpoint)
//	endpoint           an S3-compatible server, e.g. http://127.0.0.1:9000
//	path_style         address buckets by path (default true with an endpoint, false on AWS)
//	profile            the shared-config profile to use
//	access_key_id, secret_access_key, session_token
//	part_size          multipart part size, 5MiB to 5GiB (default 5MiB)
//	concurrency        parts uploaded at once per writer, 1 to 64 (default 4)
//	sse                server-side encryption: AES256, aws:kms or aws:kms:dsse
//	sse_kms_key_id     the KMS key for sse=aws:kms
//	storage_class      e.g. STANDARD_IA, INTELLIGENT_TIERING
//	cache_control      Cache-Control for objects written without one
//	acl                a canned ACL, e.g. public-read
//	conditional_write  header (If-None-Match: *, atomic; default) or check (HEAD, then write)
//	checksums          when_supported (default) or when_required, for servers that reject
//	                   the SDK's CRC32 request checksums
//
// A writer streams: it holds at most part_size × concurrency bytes of buffers, whatever the
// object's size. Objects up to part_size are written with one PutObject, larger ones with a
// multipart upload that Abort, a failed Close or a cancelled context aborts, leaving neither an
// object nor an unfinished upload behind.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stackkit/stackkit/kit/storage"
)

// Driver is the s3:// storage driver. Create it with [NewDriver] to bring your own
// *s3.Client, or let storage.Open build one from a URL.
type Driver struct {
	client    *awss3.Client
	presigner *awss3.PresignClient
	bucket    string
	prefix    string // "" or ends with "/"
	cfg       settings

	// maxCopySize is the largest object CopyObject copies in one request; larger ones are copied
	// part by part. S3's limit; tests lower it.
	maxCopySize int64
	// maxParts is S3's limit on the parts of an upload; tests lower it.
	maxParts int

	closeOnce sync.Once
}

type settings struct {
	prefix         string
	partSize       int64
	concurrency    int
	sse            types.ServerSideEncryption
	kmsKeyID       string
	storageClass   types.StorageClass
	cacheControl   string
	acl            types.ObjectCannedACL
	checkThenWrite bool
	checksums      bool
}

// Option configures a [Driver].
type Option func(*settings)

// WithPrefix stores every object under prefix (a "/" is added when it has none).
func WithPrefix(prefix string) Option { return func(s *settings) { s.prefix = prefix } }

// WithPartSize sets the multipart part size (5MiB to 5GiB; default 5MiB).
func WithPartSize(n int64) Option { return func(s *settings) { s.partSize = n } }

// WithConcurrency sets how many parts a writer uploads at once (default 4).
func WithConcurrency(n int) Option { return func(s *settings) { s.concurrency = n } }

// WithServerSideEncryption sets the server-side encryption of written objects: "AES256",
// "aws:kms" or "aws:kms:dsse", with an optional KMS key ID for the latter two.
func WithServerSideEncryption(sse, kmsKeyID string) Option {
	return func(s *settings) { s.sse, s.kmsKeyID = types.ServerSideEncryption(sse), kmsKeyID }
}

// WithStorageClass sets the storage class of written objects ("" for the bucket's default).
func WithStorageClass(class string) Option {
	return func(s *settings) { s.storageClass = types.StorageClass(class) }
}

// WithCacheControl sets the Cache-Control of objects written without one.
func WithCacheControl(v string) Option { return func(s *settings) { s.cacheControl = v } }

// WithACL sets a canned ACL on written objects ("" for none, the bucket's default).
func WithACL(acl string) Option { return func(s *settings) { s.acl = types.ObjectCannedACL(acl) } }

// WithCheckThenWrite makes IfNotExist writes check with HeadObject before writing instead of
// sending If-None-Match: *, for servers without conditional writes. The check is not atomic.
func WithCheckThenWrite(on bool) Option { return func(s *settings) { s.checkThenWrite = on } }

// WithRequestChecksums turns CRC32 checksums of multipart parts on (the default) or off; the
// client's own RequestChecksumCalculation governs single PutObject requests.
func WithRequestChecksums(on bool) Option { return func(s *settings) { s.checksums = on } }

// NewDriver returns a driver storing objects in bucket through client. Wrap it with
// storage.New to get the portable type.
func NewDriver(client *awss3.Client, bucket string, opts ...Option) (*Driver, error) {
	s := settings{partSize: DefaultPartSize, concurrency: DefaultConcurrency, checksums: true}
	for _, o := range opts {
		o(&s)
	}
	if client == nil {
		return nil, errors.New("s3: NewDriver needs a client")
	}
	if bucket == "" {
		return nil, errors.New("s3: NewDriver needs a bucket")
	}
	if s.partSize < minPartSize || s.partSize > maxPartSize {
		return nil, fmt.Errorf("s3: part size %d is outside S3's limits (5MiB to 5GiB)", s.partSize)
	}
	if s.concurrency < 1 {
		return nil, fmt.Errorf("s3: concurrency %d must be at least 1", s.concurrency)
	}
	prefix := strings.Trim(s.prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	d := &Driver{
		client:      client,
		presigner:   awss3.NewPresignClient(client),
		bucket:      bucket,
		prefix:      prefix,
		cfg:         s,
		maxCopySize: maxPartSize,
		maxParts:    maxUploadParts,
	}
	return d, nil
}

// Client returns the S3 client, for what the portable API does not cover.
func (d *Driver) Client() *awss3.Client { return d.client }

// Bucket returns the bucket and the key prefix ("" or ending in "/") the driver stores under.
func (d *Driver) Bucket() (bucket, prefix string) { return d.bucket, d.prefix }

func (d *Driver) key(name string) string { return d.prefix + name }

func (d *Driver) name(key string) string { return strings.TrimPrefix(key, d.prefix) }

// Capabilities implements storage.Driver.
func (d *Driver) Capabilities() storage.Capabilities {
	return storage.Capabilities{Name: "s3", MaxNameLen: 1024 - len(d.prefix)}
}

// Close implements storage.Driver: it closes the idle connections of the client's transport.
func (d *Driver) Close() error {
	d.closeOnce.Do(func() {
		if c, ok := d.client.Options().HTTPClient.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	})
	return nil
}

// NewReader implements storage.Driver with one GetObject, ranged when only part is wanted.
func (d *Driver) NewReader(ctx context.Context, name string, offset, length int64) (io.ReadCloser, *storage.Attrs, error) {
	if length == 0 {
		attrs, err := d.Stat(ctx, name)
		if err != nil {
			return nil, nil, err
		}
		return http.NoBody, attrs, nil
	}
	in := &awss3.GetObjectInput{Bucket: &d.bucket, Key: aws.String(d.key(name))}
	switch {
	case length > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	case offset > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := d.client.GetObject(ctx, in)
	if err != nil {
		if isCode(err, "InvalidRange") || httpStatus(err) == http.StatusRequestedRangeNotSatisfiable {
			// The offset is at or past the end (or the object is empty): an empty read, if
			// the object exists.
			attrs, err := d.Stat(ctx, name)
			if err != nil {
				return nil, nil, err
			}
			return http.NoBody, attrs, nil
		}
		return nil, nil, mapError("get", name, err)
	}
	size := aws.ToInt64(out.ContentLength)
	if total, ok := totalFromContentRange(aws.ToString(out.ContentRange)); ok {
		size = total
	}
	attrs := &storage.Attrs{
		Name:         name,
		Size:         size,
		ModTime:      aws.ToTime(out.LastModified),
		ContentType:  aws.ToString(out.ContentType),
		ETag:         aws.ToString(out.ETag),
		CacheControl: aws.ToString(out.CacheControl),
		Metadata:     out.Metadata,
	}
	return out.Body, attrs, nil
}

// totalFromContentRange returns the complete length from "bytes 0-9/100".
func totalFromContentRange(cr string) (int64, bool) {
	_, total, ok := strings.Cut(cr, "/")
	if !ok || total == "*" {
		return 0, false
	}
	n, err := strconv.ParseInt(total, 10, 64)
	return n, err == nil
}

// Stat implements storage.Driver with HeadObject.
func (d *Driver) Stat(ctx context.Context, name string) (*storage.Attrs, error) {
	out, err := d.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &d.bucket, Key: aws.String(d.key(name))})
	if err != nil {
		return nil, mapError("stat", name, err)
	}
	return &storage.Attrs{
		Name:         name,
		Size:         aws.ToInt64(out.ContentLength),
		ModTime:      aws.ToTime(out.LastModified),
		ContentType:  aws.ToString(out.ContentType),
		ETag:         aws.ToString(out.ETag),
		CacheControl: aws.ToString(out.CacheControl),
		Metadata:     out.Metadata,
	}, nil
}

// Delete implements storage.Driver. S3 answers 204 for a missing key too.
func (d *Driver) Delete(ctx context.Context, name string) error {
	_, err := d.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &d.bucket, Key: aws.String(d.key(name))})
	if err != nil {
		if err := mapError("delete", name, err); errors.Is(err, storage.ErrNotExist) {
			return nil
		}
		return mapError("delete", name, err)
	}
	return nil
}

// List implements storage.Driver with one ListObjectsV2 call.
func (d *Driver) List(ctx context.Context, opts *storage.ListOptions) (*storage.ListPage, error) {
	pageSize := opts.PageSize
	if pageSize <= 0 || pageSize > 1000 {
		pageSize = 1000
	}
	in := &awss3.ListObjectsV2Input{
		Bucket:  &d.bucket,
		Prefix:  aws.String(d.key(opts.Prefix)),
		MaxKeys: aws.Int32(int32(pageSize)),
	}
	if opts.Delimiter != "" {
		in.Delimiter = aws.String(opts.Delimiter)
	}
	if opts.Token != "" {
		in.ContinuationToken = aws.String(opts.Token)
	}
	out, err := d.client.ListObjectsV2(ctx, in)
	if err != nil {
		return nil, mapError("list", opts.Prefix, err)
	}
	page := &storage.ListPage{Objects: make([]storage.ListObject, 0, len(out.Contents)+len(out.CommonPrefixes))}
	for _, o := range out.Contents {
		page.Objects = append(page.Objects, storage.ListObject{
			Name:    d.name(aws.ToString(o.Key)),
			Size:    aws.ToInt64(o.Size),
			ModTime: aws.ToTime(o.LastModified),
			ETag:    aws.ToString(o.ETag),
		})
	}
	for _, p := range out.CommonPrefixes {
		page.Objects = append(page.Objects, storage.ListObject{Name: d.name(aws.ToString(p.Prefix)), IsDir: true})
	}
	// S3 returns keys and common prefixes in two lists, each sorted; the contract wants one.
	slices.SortFunc(page.Objects, func(a, b storage.ListObject) int { return strings.Compare(a.Name, b.Name) })
	if aws.ToBool(out.IsTruncated) {
		page.NextToken = aws.ToString(out.NextContinuationToken)
		if page.NextToken == "" {
			return nil, fmt.Errorf("s3: list %q: the server truncated the listing without a continuation token", opts.Prefix)
		}
	}
	return page, nil
}

// deadline bounds the clean-up requests (aborting an upload) that run after the caller's
// context is cancelled.
const cleanupTimeout = 30 * time.Second

// detached returns a context for clean-up that keeps ctx's values but not its cancellation.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}
