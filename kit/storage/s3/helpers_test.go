package s3_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"
	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/kit/storage"
	s3 "github.com/stackkit/stackkit/kit/storage/s3"
)

// testBucket is shared by the tests; each test works under a prefix of its own and removes its
// objects when done, so runs can overlap.
const testBucket = "kit-storage-s3-test"

// server describes the S3-compatible test server (versitygw under `make services`).
type server struct {
	endpoint, accessKey, secretKey, region string
}

func testServer(t testing.TB) server {
	t.Helper()
	return server{
		endpoint:  testenv.Get(t, "KIT_TEST_S3_ENDPOINT"),
		accessKey: testenv.Get(t, "KIT_TEST_S3_ACCESS_KEY"),
		secretKey: testenv.Get(t, "KIT_TEST_S3_SECRET_KEY"),
		region:    testenv.Get(t, "KIT_TEST_S3_REGION"),
	}
}

// client returns a plain SDK client for the test server, to look behind the driver's back.
func (s server) client() *awss3.Client {
	return awss3.New(awss3.Options{
		Region:       s.region,
		BaseEndpoint: aws.String(s.endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.accessKey, s.secretKey, ""),
		Logger:       logging.Nop{},
	})
}

// url returns an s3:// URL for bucket/prefix on the test server with extra options (name,
// value, ...).
func (s server) url(bucket, prefix string, kv ...string) string {
	q := url.Values{}
	q.Set("endpoint", s.endpoint)
	q.Set("region", s.region)
	q.Set("access_key_id", s.accessKey)
	q.Set("secret_access_key", s.secretKey)
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return (&url.URL{Scheme: "s3", Host: bucket, Path: "/" + prefix, RawQuery: q.Encode()}).String()
}

// ensureBucket creates bucket unless it exists.
func (s server) ensureBucket(t testing.TB, bucket string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.client().CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
}

// testPrefix returns a prefix no other test uses in the test bucket, and deletes everything
// under it, objects and unfinished multipart uploads, when the test ends.
func (s server) testPrefix(t testing.TB) string {
	t.Helper()
	s.ensureBucket(t, testBucket)
	prefix := "t/" + randomHex(6) + "/"
	t.Cleanup(func() { s.clean(t, testBucket, prefix) })
	return prefix
}

func (s server) clean(t testing.TB, bucket, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := s.client()
	p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Logf("cleanup list %s: %v", prefix, err)
			return
		}
		for _, o := range page.Contents {
			if _, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &bucket, Key: o.Key}); err != nil {
				t.Logf("cleanup delete %s: %v", aws.ToString(o.Key), err)
			}
		}
	}
	for _, u := range s.uploads(t, bucket, prefix) {
		_, _ = c.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: &bucket, Key: u.Key, UploadId: u.UploadId})
	}
}

// uploads lists the unfinished multipart uploads under prefix.
func (s server) uploads(t testing.TB, bucket, prefix string) []types.MultipartUpload {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := s.client().ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: &bucket, Prefix: &prefix})
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	return out.Uploads
}

// openDriver opens rawURL through storage.Open and returns the S3 driver behind it.
func openDriver(t testing.TB, rawURL string) (*storage.Storage, *s3.Driver) {
	t.Helper()
	st, err := storage.Open(context.Background(), rawURL)
	if err != nil {
		t.Fatalf("storage.Open: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	d, ok := st.Driver().(*s3.Driver)
	if !ok {
		t.Fatalf("driver is %T, not *s3.Driver", st.Driver())
	}
	return st, d
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// randomBytes returns n random bytes (incompressible, so nothing flatters the transfer).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
