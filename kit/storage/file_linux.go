package storage

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// openNonblock keeps opening a FIFO from blocking; regular files ignore it.
const openNonblock = syscall.O_NONBLOCK

const attrsXattr = "user.kit.attrs"

// setAttrs stores the object attributes on the open file, so they travel with its inode
// through the commit's rename or link.
func setAttrs(f *os.File, raw []byte) error {
	conn, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := conn.Control(func(fd uintptr) { serr = unix.Fsetxattr(int(fd), attrsXattr, raw, 0) }); err != nil {
		return err
	}
	return serr
}

// getAttrs reads the object attributes of the open file.
func getAttrs(f *os.File) ([]byte, error) {
	conn, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, maxAttrsLen+64)
	var n int
	var gerr error
	if err := conn.Control(func(fd uintptr) { n, gerr = unix.Fgetxattr(int(fd), attrsXattr, buf) }); err != nil {
		return nil, err
	}
	if gerr != nil {
		return nil, gerr
	}
	return buf[:n], nil
}
