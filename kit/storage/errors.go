package storage

import "errors"

var (
	// ErrNotExist means the object does not exist.
	ErrNotExist = errors.New("storage: object does not exist")
	// ErrExist means the object exists where a write required it not to (WriterOptions.IfNotExist).
	ErrExist = errors.New("storage: object already exists")
	// ErrInvalidName means a name breaks the naming rules (see [ValidateName]). The name is never
	// silently changed to fit.
	ErrInvalidName = errors.New("storage: invalid name")
	// ErrNotSupported means the backend or the Storage's configuration cannot do the operation
	// (a signed URL without a signing key, a public URL without a base URL).
	ErrNotSupported = errors.New("storage: not supported")
	// ErrClosed means the Storage, Reader or Writer was closed.
	ErrClosed = errors.New("storage: closed")
)
