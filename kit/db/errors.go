package db

import (
	"database/sql"
	"errors"
	"fmt"
)

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// errorType is the error.type telemetry attribute: the Go type of the innermost error.
func errorType(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return fmt.Sprintf("%T", err)
		}
		err = next
	}
}
