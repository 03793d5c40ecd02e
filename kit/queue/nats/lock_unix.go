//go:build unix

package nats

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive lock on dir's lock file, so two servers never share a JetStream
// directory. flock locks belong to the open file, so a second server in the same process is
// refused too.
func lockDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, "kit-queue.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("embedded NATS: directory %s is %w (%v)", dir, errDirLocked, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
