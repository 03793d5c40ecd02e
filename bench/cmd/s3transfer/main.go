// Command s3transfer moves 1 GiB through one of bench/internal/s3xfer's transfers and prints
// the process's peak resident set (VmHWM), for BenchmarkS3PeakRSS:
//
//	s3transfer -op put/kit -prefix bench/abc/
//	s3transfer -op idle     # nothing: the program's own footprint
//
// The server comes from the KIT_TEST_S3_* variables, the part size and concurrency from
// BENCH_S3_PART_SIZE and BENCH_S3_CONCURRENCY. It is a program of its own, importing only
// kit/storage, its s3:// backend and the SDK, so the figure is what such a process needs.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/stackkit/stackkit/bench/internal/s3xfer"
)

func main() {
	op := flag.String("op", "idle", "the transfer: idle, or one of "+strings.Join(s3xfer.Ops, ", "))
	prefix := flag.String("prefix", "", "the key prefix of the objects")
	flag.Parse()
	if err := run(*op, *prefix); err != nil {
		fmt.Fprintln(os.Stderr, "s3transfer:", err)
		os.Exit(1)
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Fprintln(os.Stderr, "s3transfer:", err)
		os.Exit(1)
	}
	for line := range strings.Lines(string(status)) {
		if strings.HasPrefix(line, "VmHWM:") {
			fmt.Print(line)
		}
	}
}

func run(op, prefix string) error {
	if op == "idle" {
		return nil
	}
	srv, missing := s3xfer.FromEnv(prefix)
	if missing != "" {
		return fmt.Errorf("%s is not set", missing)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ops, release, err := srv.Transfers(ctx)
	if err != nil {
		return err
	}
	defer release()
	transfer, ok := ops[op]
	if !ok {
		return fmt.Errorf("unknown -op %q", op)
	}
	return transfer(ctx)
}
