package queue

import (
	"errors"
	"fmt"
	"time"

	"github.com/stackkit/stackkit/kit/registry"
)

var (
	// ErrClosed means the queue was closed.
	ErrClosed = errors.New("queue: closed")
	// ErrInvalidMessage means a message cannot be published: no subject, a wildcard in its
	// subject, or a malformed header. Nothing was published.
	ErrInvalidMessage = errors.New("queue: invalid message")
	// ErrPermanent marks a handler error that retrying cannot fix: the message goes to the dead
	// letters at once. Make one with [Permanent].
	ErrPermanent = errors.New("queue: permanent failure")
	// ErrNotFound means a dead letter named by its sequence is not there (already re-driven or
	// purged, or another consumer's).
	ErrNotFound = errors.New("queue: not found")
	// ErrConflict means a consumer cannot be created as asked: its subject overlaps another
	// consumer's on a work-queue stream, or the backend keeps a setting that cannot change.
	ErrConflict = errors.New("queue: conflict")
	// ErrInvalidOption is wrapped by errors about a bad consume option or URL option; the error
	// names the option. It is registry.ErrInvalidOption, so either sentinel matches.
	ErrInvalidOption = registry.ErrInvalidOption
)

// Permanent marks err as permanent: returned by a handler, it sends the message straight to the
// dead letters, with err's text as the reason. errors.Is(Permanent(err), ErrPermanent) and
// errors.Is(Permanent(err), err) both hold. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string   { return e.err.Error() }
func (e *permanentError) Unwrap() []error { return []error{ErrPermanent, e.err} }

// RetryAfter asks for the message to be delivered again after d instead of the consumer's backoff
// (a rate limit's Retry-After, say). It still counts as a delivery toward MaxDeliveries.
// RetryAfter(nil, d) is nil.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryAfterError{err: err, after: max(d, 0)}
}

type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return fmt.Sprintf("%v (retry after %s)", e.err, e.after) }
func (e *retryAfterError) Unwrap() error { return e.err }

// retryDelay returns the delay RetryAfter asked for, if any.
func retryDelay(err error) (time.Duration, bool) {
	var ra *retryAfterError
	if errors.As(err, &ra) {
		return ra.after, true
	}
	return 0, false
}
