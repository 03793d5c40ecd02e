package cli_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/registry"
)

const mib = 1 << 20

// writePattern writes n bytes cycling through one random MiB to file and returns their hash.
func writePattern(t *testing.T, file string, n int64) [32]byte {
	t.Helper()
	block := make([]byte, mib)
	_, _ = rand.Read(block)
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	for left := n; left > 0; left -= int64(len(block)) {
		b := block[:min(left, int64(len(block)))]
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
		h.Write(b)
	}
	return [32]byte(h.Sum(nil))
}

func fileHash(t *testing.T, file string) [32]byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return [32]byte(h.Sum(nil))
}

// runPeakRSS runs cmd and returns its peak resident set (VmHWM), sampled from /proc every
// 10 ms while it runs: VmHWM only grows, and the transfer's peak lasts far longer than that.
// (The rusage of a child started by os/exec would not do: Linux carries the parent's high-water
// mark into a child started with vfork+exec.)
func runPeakRSS(t *testing.T, cmd *exec.Cmd) (int64, []byte) {
	t.Helper()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	var peak int64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(status); err == nil {
			if _, after, ok := strings.Cut(string(b), "VmHWM:"); ok {
				line, _, _ := strings.Cut(after, "\n")
				if kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(line), "kB")), 10, 64); err == nil {
					peak = max(peak, kb<<10)
				}
			}
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, registry.Redact(out.String()))
			}
			return peak, []byte(out.String())
		case <-tick.C:
		}
	}
}

// TestStoragePutGetFlatMemory runs "kitctl storage put" and "get" as processes on a small and a
// large file and checks that their peak memory does not grow with the file: the content streams.
// The large file is 256 MiB (KITCTL_TEST_STREAM_SIZE, e.g. 1GiB, for more); the memory of a put
// to s3:// is bounded by part_size × concurrency (20 MiB by default), whatever the size.
func TestStoragePutGetFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves hundreds of MiB")
	}
	large := int64(256 * mib)
	if v := os.Getenv("KITCTL_TEST_STREAM_SIZE"); v != "" {
		n, err := registry.ParseSize(v)
		if err != nil {
			t.Fatalf("KITCTL_TEST_STREAM_SIZE: %v", err)
		}
		large = n
	}
	backends := map[string]func(t *testing.T) string{
		"file": func(t *testing.T) string { return "file://" + filepath.ToSlash(t.TempDir()) },
		"s3":   func(t *testing.T) string { return s3TestEnv(t).url(t, "") },
	}
	for _, name := range []string{"file", "s3"} {
		t.Run(name, func(t *testing.T) {
			u := backends[name](t)
			dir := t.TempDir()
			peaks := map[string]map[int64]int64{"put": {}, "get": {}}
			for _, size := range []int64{32 * mib, large} {
				src := filepath.Join(dir, fmt.Sprintf("src-%d", size))
				sum := writePattern(t, src, size)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				start := time.Now()
				peaks["put"][size], _ = runPeakRSS(t, command(ctx, "storage", "put", src, "big.bin", "--storage-url", u))
				putTime := time.Since(start)
				_ = os.Remove(src) // keep the disk for the download
				dst := filepath.Join(dir, "dst")
				start = time.Now()
				peaks["get"][size], _ = runPeakRSS(t, command(ctx, "storage", "get", "big.bin", dst, "--storage-url", u))
				getTime := time.Since(start)
				if fileHash(t, dst) != sum {
					t.Fatalf("%d bytes: the downloaded file differs from the uploaded one", size)
				}
				_ = os.Remove(dst)
				t.Logf("%s %4d MiB: put peak RSS %5.1f MiB (%v), get peak RSS %5.1f MiB (%v)", name, size/mib,
					float64(peaks["put"][size])/mib, putTime.Round(time.Millisecond), float64(peaks["get"][size])/mib, getTime.Round(time.Millisecond))
			}
			// Growth from 32 MiB to the large size: the garbage collector's slack for a stream
			// (more under the race detector, whose shadow memory follows the heap), the whole
			// difference in size for anything that buffers.
			maxGrowth := int64(24 * mib)
			if raceEnabled {
				maxGrowth = 64 * mib
			}
			for op, p := range peaks {
				if grow := p[large] - p[32*mib]; grow > maxGrowth {
					t.Errorf("%s: peak RSS grew by %.1f MiB from a 32 MiB to a %d MiB file: not streaming", op, float64(grow)/mib, large/mib)
				}
				if !raceEnabled && p[large] > 64*mib {
					t.Errorf("%s of %d MiB: peak RSS %.1f MiB, want under 64 MiB", op, large/mib, float64(p[large])/mib)
				}
			}
		})
	}
}
