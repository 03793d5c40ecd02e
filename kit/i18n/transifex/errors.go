package transifex

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sentinels for errors.Is. An [*APIError] matches the one its HTTP status stands for.
var (
	// ErrUnauthorized: the API refused the token (401). The message says where the token came from
	// to look at, never the token.
	ErrUnauthorized = errors.New("transifex: unauthorized")
	// ErrForbidden: the token's user may not do this (403).
	ErrForbidden = errors.New("transifex: forbidden")
	// ErrNotFound: no such organization, project, resource, language or job (404).
	ErrNotFound = errors.New("transifex: not found")
	// ErrThrottled: still throttled (429) after the retries, or the client is held by a 429 past
	// the operation's or the context's deadline.
	ErrThrottled = errors.New("transifex: throttled")
	// ErrUnavailable: the API could not be reached (connection refused or reset, a timeout, a TLS
	// failure) or answered 502, 503 or 504, after the retries.
	ErrUnavailable = errors.New("transifex: service unavailable")
	// ErrJobFailed: an asynchronous upload or download job ended with status "failed".
	ErrJobFailed = errors.New("transifex: job failed")
	// ErrTimeout: an operation (a download job with its polling, an upload job) did not finish
	// within the client's operation timeout. It also matches context.DeadlineExceeded.
	ErrTimeout = errors.New("transifex: operation timed out")
	// ErrInvalidFile: a downloaded file was refused (not 200, empty, or not a parsable file of
	// the resource's type); the previous local file is kept.
	ErrInvalidFile = errors.New("transifex: invalid file")
	// ErrConfig: .tx/config, ~/.transifexrc or the options are wrong or incomplete.
	ErrConfig = errors.New("transifex: configuration")
)

// ErrorObject is one entry of a JSON:API error document's "errors" array, and of an async job's
// "errors" attribute.
type ErrorObject struct {
	Status string       `json:"status,omitempty"`
	Code   string       `json:"code,omitempty"`
	Title  string       `json:"title,omitempty"`
	Detail string       `json:"detail,omitempty"`
	Source *ErrorSource `json:"source,omitempty"`
}

// ErrorSource points at the part of the request an error is about.
type ErrorSource struct {
	Pointer   string `json:"pointer,omitempty"`
	Parameter string `json:"parameter,omitempty"`
}

func (o ErrorObject) String() string {
	var b strings.Builder
	switch {
	case o.Title != "" && o.Detail != "" && o.Title != o.Detail:
		b.WriteString(o.Title + ": " + o.Detail)
	case o.Detail != "":
		b.WriteString(o.Detail)
	case o.Title != "":
		b.WriteString(o.Title)
	default:
		b.WriteString(o.Code)
	}
	if o.Source != nil {
		if p := o.Source.Pointer + o.Source.Parameter; p != "" {
			b.WriteString(" (" + p + ")")
		}
	}
	return b.String()
}

func joinErrorObjects(errs []ErrorObject) string {
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		if s := e.String(); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "; ")
}

// APIError is a non-2xx answer of the API, with the error document's entries. Its text never
// holds the token, and holds a URL only as its path.
type APIError struct {
	Method     string
	Path       string // request path without the query
	StatusCode int
	Errors     []ErrorObject
	// RetryAfter is the wait a 429 or 503 asked for (0 when it named none).
	RetryAfter time.Duration
	// Hint is added to the message (for 401: where the token came from).
	Hint string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("transifex: %s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if d := joinErrorObjects(e.Errors); d != "" {
		msg += ": " + d
	}
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

// Is maps the status to the package's sentinels.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrThrottled:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrUnavailable:
		return e.StatusCode == http.StatusBadGateway || e.StatusCode == http.StatusServiceUnavailable || e.StatusCode == http.StatusGatewayTimeout
	}
	return false
}

// JobError is an asynchronous job that ended with status "failed", with the errors it reported.
type JobError struct {
	Kind   string // "resource_translations_async_downloads", ...
	ID     string
	Errors []ErrorObject
}

func (e *JobError) Error() string {
	msg := fmt.Sprintf("transifex: %s job %s failed", strings.TrimSuffix(e.Kind, "s"), e.ID)
	if d := joinErrorObjects(e.Errors); d != "" {
		msg += ": " + d
	}
	return msg
}

// Is reports ErrJobFailed.
func (e *JobError) Is(target error) bool { return target == ErrJobFailed }

// timeoutError is ErrTimeout that also matches context.DeadlineExceeded, and ErrThrottled when
// the wait that would pass the deadline is a 429's hold.
type timeoutError struct {
	msg       string
	throttled bool
}

func (e *timeoutError) Error() string { return e.msg }
func (e *timeoutError) Is(target error) bool {
	return target == ErrTimeout || target == contextDeadlineExceeded || (e.throttled && target == ErrThrottled)
}

func configErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}
