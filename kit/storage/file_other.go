//go:build !linux

package storage

import (
	"errors"
	"os"
)

// openNonblock is 0 where the driver does not rely on it.
const openNonblock = 0

var errNoXattrs = errors.New("extended attributes are only used on Linux")

// setAttrs and getAttrs: outside Linux, content types come from extensions and content, and
// cache control and metadata are not supported on file://.
func setAttrs(*os.File, []byte) error   { return errNoXattrs }
func getAttrs(*os.File) ([]byte, error) { return nil, errNoXattrs }
