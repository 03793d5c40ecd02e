// Package s3xfer holds the 1 GiB transfers that bench/storage_s3_test.go times and that
// cmd/s3transfer runs in a process of its own to measure peak memory: kit/storage's s3://
// beside the SDK's transfer manager and a plain GetObject, on the same server with the same part
// size and concurrency.
package s3xfer

//lint:file-ignore SA1019 the baseline is feature/s3/manager, the SDK's stable (v1) transfer manager.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"
	"github.com/stackkit/stackkit/kit/storage"
	s3driver "github.com/stackkit/stackkit/kit/storage/s3"
)

// Size is what every transfer moves.
const Size = 1 << 30

// Bucket holds the benchmark's objects, under a prefix per run.
const Bucket = "kit-bench-s3"

// Ops lists the transfers as "op/lib", in the order the benchmarks run them: puts first, so the
// gets read what they wrote.
var Ops = []string{"put/kit", "put/sdk-manager", "get/kit", "get/sdk-manager", "get/sdk-getobject"}

// Server is the S3-compatible server and the part size and concurrency both sides use.
type Server struct {
	Endpoint, AccessKey, SecretKey, Region string
	Prefix                                 string
	PartSize, Concurrency                  int
}

// FromEnv reads the KIT_TEST_S3_* variables, and BENCH_S3_PART_SIZE and BENCH_S3_CONCURRENCY
// (default: kit/storage/s3's defaults). It returns the name of a missing variable.
func FromEnv(prefix string) (Server, string) {
	s := Server{
		Endpoint:    os.Getenv("KIT_TEST_S3_ENDPOINT"),
		AccessKey:   os.Getenv("KIT_TEST_S3_ACCESS_KEY"),
		SecretKey:   os.Getenv("KIT_TEST_S3_SECRET_KEY"),
		Region:      os.Getenv("KIT_TEST_S3_REGION"),
		Prefix:      prefix,
		PartSize:    envInt("BENCH_S3_PART_SIZE", s3driver.DefaultPartSize),
		Concurrency: envInt("BENCH_S3_CONCURRENCY", s3driver.DefaultConcurrency),
	}
	for name, v := range map[string]string{"KIT_TEST_S3_ENDPOINT": s.Endpoint, "KIT_TEST_S3_ACCESS_KEY": s.AccessKey,
		"KIT_TEST_S3_SECRET_KEY": s.SecretKey, "KIT_TEST_S3_REGION": s.Region} {
		if v == "" {
			return s, name
		}
	}
	return s, ""
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}

// Client is the SDK client of the baselines: the settings storage.Open derives from URL (path
// style, static credentials, the SDK's default HTTP client).
func (s Server) Client() *awss3.Client {
	return awss3.New(awss3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		Logger:       logging.Nop{},
	})
}

// URL is the s3:// URL of the prefix.
func (s Server) URL() string {
	q := url.Values{}
	q.Set("endpoint", s.Endpoint)
	q.Set("region", s.Region)
	q.Set("access_key_id", s.AccessKey)
	q.Set("secret_access_key", s.SecretKey)
	q.Set("part_size", strconv.Itoa(s.PartSize))
	q.Set("concurrency", strconv.Itoa(s.Concurrency))
	return "s3://" + Bucket + "/" + s.Prefix + "?" + q.Encode()
}

// CreateBucket creates the bucket unless it exists.
func (s Server) CreateBucket(ctx context.Context) error {
	_, err := s.Client().CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(Bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		return err
	}
	return nil
}

// Clean deletes every object under the prefix (1 GiB each on the server's disk).
func (s Server) Clean(ctx context.Context) error {
	c := s.Client()
	p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String(Bucket), Prefix: &s.Prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			if _, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(Bucket), Key: o.Key}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Transfers returns the transfers by "op/lib", and a function that releases them.
func (s Server) Transfers(ctx context.Context) (map[string]func(context.Context) error, func(), error) {
	st, err := storage.Open(ctx, s.URL())
	if err != nil {
		return nil, nil, err
	}
	c := s.Client()
	uploader := manager.NewUploader(c, func(u *manager.Uploader) {
		u.PartSize = int64(s.PartSize)
		u.Concurrency = s.Concurrency
	})
	downloader := manager.NewDownloader(c, func(d *manager.Downloader) {
		d.PartSize = int64(s.PartSize)
		d.Concurrency = s.Concurrency
	})
	key := func(name string) *string { return aws.String(s.Prefix + name) }
	ops := map[string]func(context.Context) error{
		"put/kit": func(ctx context.Context) error {
			return st.Put(ctx, "kit.bin", NewPatternReader(Size), &storage.WriterOptions{ContentType: "application/octet-stream"})
		},
		"put/sdk-manager": func(ctx context.Context) error {
			_, err := uploader.Upload(ctx, &awss3.PutObjectInput{
				Bucket: aws.String(Bucket), Key: key("sdk.bin"), Body: NewPatternReader(Size),
				ContentType: aws.String("application/octet-stream"),
			})
			return err
		},
		"get/kit": func(ctx context.Context) error {
			r, err := st.Open(ctx, "kit.bin")
			if err != nil {
				return err
			}
			defer r.Close()
			return copyAll(io.Discard, r)
		},
		"get/sdk-manager": func(ctx context.Context) error {
			n, err := downloader.Download(ctx, discardAt{}, &awss3.GetObjectInput{Bucket: aws.String(Bucket), Key: key("sdk.bin")})
			if err == nil && n != Size {
				err = fmt.Errorf("downloaded %d bytes", n)
			}
			return err
		},
		"get/sdk-getobject": func(ctx context.Context) error {
			out, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(Bucket), Key: key("sdk.bin")})
			if err != nil {
				return err
			}
			defer out.Body.Close()
			return copyAll(io.Discard, out.Body)
		},
	}
	return ops, func() { _ = st.Close() }, nil
}

func copyAll(w io.Writer, r io.Reader) error {
	n, err := io.Copy(w, r)
	if err == nil && n != Size {
		err = fmt.Errorf("read %d bytes, want %d", n, Size)
	}
	return err
}

// PatternReader yields n bytes cycling through one random MiB: incompressible, generated at
// memory speed, and never held whole. It has only Read, as a socket or a pipe.
type PatternReader struct {
	block []byte
	off   int64
	n     int64
}

// NewPatternReader returns a reader of n bytes.
func NewPatternReader(n int64) *PatternReader {
	block := make([]byte, 1<<20)
	_, _ = rand.Read(block)
	return &PatternReader{block: block, n: n}
}

func (r *PatternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n-r.off)]
	n := 0
	for n < len(p) {
		n += copy(p[n:], r.block[(r.off+int64(n))%int64(len(r.block)):])
	}
	r.off += int64(n)
	return n, nil
}

// discardAt is an io.WriterAt that drops what the downloader writes.
type discardAt struct{}

func (discardAt) WriteAt(p []byte, _ int64) (int, error) { return len(p), nil }
