package s3_test

import (
	"testing"

	"github.com/stackkit/stackkit/kit/storage"
	"github.com/stackkit/stackkit/kit/storage/storagetest"
)

// TestConformance runs kit/storage's conformance suite against the S3-compatible test server,
// each Storage under a prefix of its own in the shared test bucket. The part size is the
// minimum, so the suite's large objects go through multipart uploads.
func TestConformance(t *testing.T) {
	srv := testServer(t)
	srv.ensureBucket(t, testBucket)
	storagetest.Run(t, func(t *testing.T) *storage.Storage {
		prefix := "conformance/" + storagetest.UniquePrefix()
		t.Cleanup(func() { srv.clean(t, testBucket, prefix) })
		return storagetest.Open(t, srv.url(testBucket, prefix, "part_size", "5MiB"))
	})
}
