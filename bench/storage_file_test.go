package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/storage"
)

// The file:// benchmarks move 1 GiB through kit/storage's file:// backend beside a plain io.Copy
// between *os.File values on the same disk, in the same run. See docs/benchmarks.md, "Storage
// (file://)".
//
//   - put: Storage.Put from an open 1 GiB file (kit: temporary file, copy, xattr, rename)
//     beside os.Create + io.Copy + Close. Both reach copy_file_range.
//   - put-stream: the same from a reader that is not a file (a 1 MiB block repeated), so the
//     bytes pass through user space: Storage.Create + io.Copy beside os.Create + io.Copy.
//   - get: Storage.Open + io.Copy into a new file beside os.Open + io.Copy into a new file.
//   - get-stream: Storage.Open + io.Copy into io.Discard beside os.Open + io.Copy into io.Discard.

const fileBenchSize = 1 << 30

var fileBenchOps = []string{"put", "put-stream", "get", "get-stream"}

// fileBench is the benchmark's working directory: the 1 GiB source file, the storage's
// directory and the plain copies' directory, on the same file system.
type fileBench struct {
	dir, src string
	st       *storage.Storage
}

func newFileBench(ctx context.Context, dir string) (*fileBench, error) {
	fb := &fileBench{dir: dir, src: filepath.Join(dir, "source.bin")}
	if _, err := os.Stat(fb.src); err != nil {
		if err := writeSource(fb.src); err != nil {
			return nil, err
		}
	}
	st, err := storage.Open(ctx, "file://"+filepath.Join(dir, "storage"))
	if err != nil {
		return nil, err
	}
	fb.st = st
	if err := os.MkdirAll(filepath.Join(dir, "plain"), 0o755); err != nil {
		return nil, err
	}
	return fb, nil
}

// writeSource writes 1 GiB: one random MiB, repeated (ext4 neither compresses nor deduplicates).
func writeSource(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, io.LimitReader(newBlockReader(), fileBenchSize)); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// blockReader repeats one random MiB: a stream that is not a file.
type blockReader struct {
	block []byte
	off   int
}

func newBlockReader() *blockReader {
	b := make([]byte, 1<<20)
	_, _ = rand.Read(b)
	return &blockReader{block: b}
}

func (r *blockReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.block[r.off:])
		n += c
		r.off = (r.off + c) % len(r.block)
	}
	return n, nil
}

// run does one 1 GiB transfer, lib being "kit" or "iocopy".
func (fb *fileBench) run(ctx context.Context, op, lib string) error {
	plainDst := filepath.Join(fb.dir, "plain", "object.bin")
	switch op + "/" + lib {
	case "put/kit":
		src, err := os.Open(fb.src)
		if err != nil {
			return err
		}
		defer src.Close()
		return fb.st.Put(ctx, "object.bin", src, nil)
	case "put/iocopy":
		src, err := os.Open(fb.src)
		if err != nil {
			return err
		}
		defer src.Close()
		return copyToFile(plainDst, src)
	case "put-stream/kit":
		w, err := fb.st.Create(ctx, "object.bin", nil)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, io.LimitReader(newBlockReader(), fileBenchSize)); err != nil {
			_ = w.Abort()
			return err
		}
		return w.Close()
	case "put-stream/iocopy":
		return copyToFile(plainDst, io.LimitReader(newBlockReader(), fileBenchSize))
	case "get/kit", "get-stream/kit":
		if err := fb.ensureObject(ctx); err != nil {
			return err
		}
		r, err := fb.st.Open(ctx, "object.bin")
		if err != nil {
			return err
		}
		defer r.Close()
		return drain(op, filepath.Join(fb.dir, "plain", "got.bin"), r)
	case "get/iocopy", "get-stream/iocopy":
		src, err := os.Open(fb.src)
		if err != nil {
			return err
		}
		defer src.Close()
		return drain(op, filepath.Join(fb.dir, "plain", "got.bin"), src)
	}
	return fmt.Errorf("unknown transfer %s/%s", op, lib)
}

func (fb *fileBench) ensureObject(ctx context.Context) error {
	if a, err := fb.st.Stat(ctx, "object.bin"); err == nil && a.Size == fileBenchSize {
		return nil
	}
	return fb.run(ctx, "put", "kit")
}

func copyToFile(name string, r io.Reader) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != fileBenchSize {
		err = fmt.Errorf("copied %d bytes", n)
	}
	return err
}

func drain(op, dst string, r io.Reader) error {
	if op == "get-stream" {
		n, err := io.Copy(io.Discard, r)
		if err == nil && n != fileBenchSize {
			err = fmt.Errorf("read %d bytes", n)
		}
		return err
	}
	return copyToFile(dst, r)
}

// BenchmarkFile moves 1 GiB per iteration; MB/s is the figure to compare, lib=kit against
// lib=iocopy of the same op.
func BenchmarkFile(b *testing.B) {
	ctx := context.Background()
	fb, err := newFileBench(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer fb.st.Close()
	if err := fb.ensureObject(ctx); err != nil {
		b.Fatal(err)
	}
	for _, op := range fileBenchOps {
		for _, lib := range []string{"kit", "iocopy"} {
			b.Run("op="+op+"/lib="+lib, func(b *testing.B) {
				b.SetBytes(fileBenchSize)
				for b.Loop() {
					// Start each transfer with dirty pages written back, so a put does
					// not pay for the previous one's.
					b.StopTimer()
					syscall.Sync()
					b.StartTimer()
					if err := fb.run(ctx, op, lib); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkFileInterleaved runs kit and io.Copy alternately, each transfer after a sync, and
// reports both throughputs and their ratio: on a machine shared with other work, the ratio of
// neighbouring runs is steadier than two sub-benchmarks minutes apart.
func BenchmarkFileInterleaved(b *testing.B) {
	ctx := context.Background()
	fb, err := newFileBench(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer fb.st.Close()
	if err := fb.ensureObject(ctx); err != nil {
		b.Fatal(err)
	}
	for _, op := range fileBenchOps {
		b.Run("op="+op, func(b *testing.B) {
			var spent [2]time.Duration
			n := 0
			for b.Loop() {
				for i, lib := range []string{"kit", "iocopy"} {
					b.StopTimer()
					syscall.Sync()
					b.StartTimer()
					start := time.Now()
					if err := fb.run(ctx, op, lib); err != nil {
						b.Fatal(err)
					}
					spent[i] += time.Since(start)
				}
				n++
			}
			kit := float64(n) * fileBenchSize / 1e6 / spent[0].Seconds()
			plain := float64(n) * fileBenchSize / 1e6 / spent[1].Seconds()
			b.ReportMetric(kit, "kit-MB/s")
			b.ReportMetric(plain, "iocopy-MB/s")
			b.ReportMetric(kit/plain, "kit/iocopy")
		})
	}
}

// BenchmarkFilePeakRSS runs each 1 GiB transfer in a process of its own — this test binary,
// started again with BENCH_FILE_CHILD set, which makes init do the transfer, print VmHWM and
// exit — and reports that process's peak resident set. op=idle is the binary doing nothing: its
// own footprint. (VmHWM, not getrusage's ru_maxrss, which Linux carries over from the parent into
// a child started with vfork+exec.)
func BenchmarkFilePeakRSS(b *testing.B) {
	dir := b.TempDir()
	fb, err := newFileBench(context.Background(), dir)
	if err != nil {
		b.Fatal(err)
	}
	_ = fb.st.Close()
	for _, op := range append([]string{"idle"}, fileBenchOps...) {
		for _, lib := range []string{"kit", "iocopy"} {
			if op == "idle" && lib == "iocopy" {
				continue
			}
			b.Run("op="+op+"/lib="+lib, func(b *testing.B) {
				var peak int64
				for b.Loop() {
					cmd := exec.Command(os.Args[0])
					cmd.Env = append(os.Environ(), "BENCH_FILE_CHILD="+op+"/"+lib, "BENCH_FILE_DIR="+dir)
					out, err := cmd.CombinedOutput()
					if err != nil {
						b.Fatalf("child %s/%s: %v\n%s", op, lib, err, out)
					}
					_, after, ok := strings.Cut(string(out), "VmHWM:")
					line, _, _ := strings.Cut(after, "\n")
					kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(line), "kB")), 10, 64)
					if !ok || err != nil {
						b.Fatalf("child %s/%s printed no VmHWM:\n%s", op, lib, out)
					}
					peak = max(peak, kb<<10)
				}
				b.ReportMetric(float64(peak)/(1<<20), "peak-rss-MiB")
			})
		}
	}
}

// init is the child side of BenchmarkFilePeakRSS: with BENCH_FILE_CHILD set it does one
// transfer, prints the process's VmHWM and exits before any test runs.
func init() {
	transfer := os.Getenv("BENCH_FILE_CHILD")
	if transfer == "" {
		return
	}
	op, lib, _ := strings.Cut(transfer, "/")
	if op != "idle" {
		ctx := context.Background()
		fb, err := newFileBench(ctx, os.Getenv("BENCH_FILE_DIR"))
		if err == nil {
			err = fb.run(ctx, op, lib)
			_ = fb.st.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "file transfer:", err)
			os.Exit(1)
		}
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Fprintln(os.Stderr, "file transfer:", err)
		os.Exit(1)
	}
	for line := range strings.Lines(string(status)) {
		if strings.HasPrefix(line, "VmHWM:") {
			fmt.Print(line)
		}
	}
	os.Exit(0)
}
