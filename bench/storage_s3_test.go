package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stackkit/stackkit/bench/internal/s3xfer"
	"github.com/stackkit/stackkit/internal/testenv"
)

// The s3:// benchmarks move 1 GiB through kit/storage's s3:// backend beside the SDK's own
// transfer manager (feature/s3/manager's Uploader and Downloader) and a plain GetObject, on the
// same versitygw, in the same run, with the same part size and concurrency (kit/storage/s3's
// defaults unless BENCH_S3_PART_SIZE and BENCH_S3_CONCURRENCY say otherwise). The transfers are in
// internal/s3xfer. See docs/benchmarks.md, "Storage (s3://)".

func s3Server(b *testing.B) s3xfer.Server {
	b.Helper()
	for _, v := range []string{"KIT_TEST_S3_ENDPOINT", "KIT_TEST_S3_ACCESS_KEY", "KIT_TEST_S3_SECRET_KEY", "KIT_TEST_S3_REGION"} {
		testenv.Get(b, v)
	}
	r := make([]byte, 6)
	_, _ = rand.Read(r)
	srv, _ := s3xfer.FromEnv("bench/" + hex.EncodeToString(r) + "/")
	if err := srv.CreateBucket(context.Background()); err != nil {
		b.Fatalf("create bucket: %v", err)
	}
	b.Cleanup(func() {
		if err := srv.Clean(context.Background()); err != nil {
			b.Logf("cleanup: %v", err)
		}
	})
	return srv
}

// BenchmarkS3 moves 1 GiB per iteration; MB/s is the figure to compare.
func BenchmarkS3(b *testing.B) {
	srv := s3Server(b)
	ops, release, err := srv.Transfers(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer release()
	for _, name := range s3xfer.Ops {
		op, lib, _ := strings.Cut(name, "/")
		b.Run("op="+op+"/lib="+lib, func(b *testing.B) {
			b.SetBytes(s3xfer.Size)
			// Start with the server's disk written back, so a put does not pay for the
			// dirty pages the previous one left.
			syscall.Sync()
			for b.Loop() {
				if err := ops[name](context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkS3PeakRSS runs each 1 GiB transfer in a process of its own (cmd/s3transfer, built
// once) and reports its peak resident set, VmHWM, as the child reads it when it ends: the memory
// a process needs to move 1 GiB. op=idle is the program doing nothing, its own footprint.
// (getrusage's ru_maxrss would not do: Linux carries the parent's high-water mark into a child
// started with vfork+exec, as os/exec does.)
func BenchmarkS3PeakRSS(b *testing.B) {
	srv := s3Server(b)
	bin := filepath.Join(b.TempDir(), "s3transfer")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/s3transfer").CombinedOutput(); err != nil {
		b.Fatalf("build s3transfer: %v\n%s", err, out)
	}
	for _, name := range append([]string{"idle/none"}, s3xfer.Ops...) {
		op, lib, _ := strings.Cut(name, "/")
		b.Run("op="+op+"/lib="+lib, func(b *testing.B) {
			if op == "idle" {
				name = "idle"
			}
			var peak int64
			for b.Loop() {
				out, err := exec.Command(bin, "-op", name, "-prefix", srv.Prefix).CombinedOutput()
				if err != nil {
					b.Fatalf("s3transfer -op %s: %v\n%s", name, err, out)
				}
				_, after, ok := strings.Cut(string(out), "VmHWM:")
				line, _, _ := strings.Cut(after, "\n")
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(line), "kB")), 10, 64)
				if !ok || err != nil {
					b.Fatalf("s3transfer -op %s printed no VmHWM:\n%s", name, out)
				}
				peak = max(peak, kb<<10)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-rss-MiB")
		})
	}
}
