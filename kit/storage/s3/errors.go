package s3

import (
	"errors"
	"fmt"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	"github.com/stackkit/stackkit/kit/storage"
)

// mapError wraps an SDK error with the portable sentinel it stands for, keeping the SDK error
// reachable with errors.As (for its request ID, say):
//
//	NoSuchKey, NotFound (HeadObject's 404)              -> storage.ErrNotExist
//	PreconditionFailed, ConditionalRequestConflict       -> storage.ErrExist (an IfNotExist write lost)
func mapError(op, name string, err error) error {
	switch {
	case isCode(err, "NoSuchKey", "NotFound"):
		return fmt.Errorf("s3: %s %q: %w: %w", op, name, storage.ErrNotExist, err)
	case isCode(err, "PreconditionFailed", "ConditionalRequestConflict"),
		httpStatus(err) == http.StatusPreconditionFailed:
		return fmt.Errorf("s3: %s %q: %w: %w", op, name, storage.ErrExist, err)
	}
	return fmt.Errorf("s3: %s %q: %w", op, name, err)
}

// isCode reports whether err is an S3 API error with one of the codes.
func isCode(err error, codes ...string) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.ErrorCode() == c {
			return true
		}
	}
	return false
}

// httpStatus returns the HTTP status of a failed request, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
