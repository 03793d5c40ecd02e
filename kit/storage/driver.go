package storage

import (
	"context"
	"io"
	"time"
)

// Driver is what a storage backend implements. The portable [Storage] has already validated every
// name (see [ValidateName]) and joined it under the backend's prefix where that applies; it adds
// telemetry, content-type detection, Save's available-name search and the sentinel errors. A
// driver only does I/O.
//
// A missing object is reported with an error that wraps [ErrNotExist]. Every method honours ctx.
// Drivers must be safe for concurrent use.
type Driver interface {
	// NewReader opens name for reading bytes [offset, offset+length); length < 0 means to the
	// end. An offset at or past the end gives an empty reader (not an error) unless the object is
	// missing. The returned Attrs describe the whole object.
	NewReader(ctx context.Context, name string, offset, length int64) (io.ReadCloser, *Attrs, error)
	// NewWriter returns a writer whose content becomes visible under name only when Close
	// returns nil. If ctx is cancelled before Close, or Abort is called, nothing is written and
	// the previous content (if any) stays. opts is never nil.
	NewWriter(ctx context.Context, name string, opts *WriterOptions) (Writer, error)
	// Stat returns the attributes of name.
	Stat(ctx context.Context, name string) (*Attrs, error)
	// Delete removes name; a missing name is not an error.
	Delete(ctx context.Context, name string) error
	// List returns one page of the objects whose names start with opts.Prefix, in
	// lexicographic order. With a Delimiter, names containing it after the prefix are rolled up
	// into a single entry with IsDir set (S3's CommonPrefixes). An empty NextToken in the result
	// means the last page.
	List(ctx context.Context, opts *ListOptions) (*ListPage, error)
	// Copy copies src to dst on the server side where the backend can.
	Copy(ctx context.Context, dst, src string) error
	// SignedURL returns a URL that grants opts.Method on name until opts.Expiry without other
	// credentials. Backends that cannot sign return an error wrapping ErrNotSupported.
	SignedURL(ctx context.Context, name string, opts *SignedURLOptions) (string, error)
	// Capabilities describes the backend to the portable type.
	Capabilities() Capabilities
	// Close releases the backend's resources.
	Close() error
}

// Writer is the driver side of [Storage.Create].
type Writer interface {
	io.Writer
	// Close commits the content; after an error nothing is visible.
	Close() error
	// Abort discards everything written; the previous content under the name stays.
	Abort() error
}

// Attrs describe a stored object.
type Attrs struct {
	Name         string
	Size         int64
	ModTime      time.Time
	ContentType  string
	ETag         string // quoted, as in HTTP
	CacheControl string
	Metadata     map[string]string
}

// WriterOptions carry what Create knows about the object being written.
type WriterOptions struct {
	ContentType  string // already detected or given; never empty
	CacheControl string
	Metadata     map[string]string
	// Size is the final size if known (Put), or -1.
	Size int64
	// IfNotExist makes the write fail with ErrExist when name already exists at commit time
	// (used by Save). Backends that cannot do it atomically check before writing.
	IfNotExist bool
}

// ListOptions select a page of List.
type ListOptions struct {
	Prefix    string
	Delimiter string
	PageSize  int // 0: the backend's default (1000)
	Token     string
}

// ListPage is one page of List.
type ListPage struct {
	Objects   []ListObject
	NextToken string
}

// ListObject is one entry of a List page.
type ListObject struct {
	Name    string
	Size    int64
	ModTime time.Time
	ETag    string
	IsDir   bool // a common prefix rolled up by the delimiter; Name ends with the delimiter
}

// SignedURLOptions configure SignedURL.
type SignedURLOptions struct {
	Method      string // http.MethodGet or http.MethodPut
	Expiry      time.Duration
	ContentType string // for PUT: the content type the upload must carry, if any
	// MaxSize, for PUT, is the largest upload accepted in bytes; 0 means no limit. Backends that
	// presign (S3) cannot enforce it and fail with ErrNotSupported.
	MaxSize int64
}

// Capabilities tell the portable type how to treat a backend.
type Capabilities struct {
	// Name is the backend's name for telemetry and messages: "file", "mem", "s3".
	Name string
	// MaxNameLen is the longest name in bytes the backend accepts; 0 means the portable
	// default (1024, S3's limit).
	MaxNameLen int
}
