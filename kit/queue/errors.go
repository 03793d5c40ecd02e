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
	// ErrNotFound means what an operation names is not there: a dead letter named by its
	// sequence (already re-driven or purged, or another consumer's), a consumer that does not
	// exist, or, opened with WithCreate(false), a stream that does not exist.
	ErrNotFound = errors.New("queue: not found")
	// ErrConflict means a consumer cannot be created as asked: its subject overlaps another
	// consumer's on a work-queue stream, or the backend keeps a setting that cannot change.
	ErrConflict = errors.New("queue: conflict")
	// ErrInvalidOption is wrapped by errors about a bad consume option or URL option; the error
	// names the option. It is registry.ErrInvalidOption, so either sentinel matches.
	ErrInvalidOption = registry.ErrInvalidOption
	// ErrUnavailable marks a handler error caused by what the handler talks to (a mail server
	// that refuses connections, an API answering 503), not by the message. Make one with
	// [Unavailable]: the consumer pauses instead of spending the message's deliveries.
	ErrUnavailable = errors.New("queue: downstream unavailable")
)

// Unavailable marks err as an outage of the handler's downstream, not a failure of the message.
// Returned by a handler, it pauses the consumer: it stops fetching, hands the message back
// without counting the attempt toward MaxDeliveries, probes the downstream (see [Probe]) with a
// backoff, and resumes once it answers. A message is never dead-lettered on an Unavailable
// error. errors.Is(Unavailable(err), ErrUnavailable) and errors.Is(Unavailable(err), err) both
// hold. Unavailable(nil) is nil.
func Unavailable(err error) error {
	if err == nil {
		return nil
	}
	return &unavailableError{err: err}
}

type unavailableError struct{ err error }

func (e *unavailableError) Error() string   { return e.err.Error() }
func (e *unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.err} }

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
