//go:build unix

package cache

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// On Unix, file:// serialises changes to an entry across processes with flock(2) on its stripe's
// lock file, which makes Incr atomic across processes (Capabilities.AtomicIncr).
func init() { crossProcessLock = flock }

func flock(ctx context.Context, path string, perm fs.FileMode) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, perm)
	if err != nil {
		return nil, err
	}
	fd := int(f.Fd())
	release := func() {
		_ = syscall.Flock(fd, syscall.LOCK_UN)
		_ = f.Close()
	}
	err = flockRetry(fd, syscall.LOCK_EX|syscall.LOCK_NB)
	if err == nil {
		return release, nil
	}
	if !errors.Is(err, syscall.EWOULDBLOCK) {
		_ = f.Close()
		return nil, &fs.PathError{Op: "flock", Path: path, Err: err}
	}
	// Another process holds the stripe, normally for microseconds. Wait in a goroutine so that
	// ctx can end the wait; if it does, the goroutine releases the lock once it gets it.
	got := make(chan error) // unbuffered: a send succeeds only if the waiter still wants the lock
	abandoned := make(chan struct{})
	go func() {
		err := flockRetry(fd, syscall.LOCK_EX)
		select {
		case got <- err:
		case <-abandoned:
			if err == nil {
				release()
			} else {
				_ = f.Close()
			}
		}
	}()
	select {
	case err := <-got:
		if err != nil {
			_ = f.Close()
			return nil, &fs.PathError{Op: "flock", Path: path, Err: err}
		}
		return release, nil
	case <-ctx.Done():
		close(abandoned)
		return nil, ctx.Err()
	}
}

func flockRetry(fd, how int) error {
	for {
		if err := syscall.Flock(fd, how); !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
