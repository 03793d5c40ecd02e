package http

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/stackkit/stackkit/kit/http/problem"
)

// DefaultJSONLimit bounds a JSON request body that sets no limit.
const DefaultJSONLimit = 1 << 20

// RequestError is a client mistake found while reading a request, with the status to answer.
// Its Error text is safe to show to the client.
type RequestError struct {
	Status int
	Detail string
	Err    error
}

func (e *RequestError) Error() string { return e.Detail }
func (e *RequestError) Unwrap() error { return e.Err }

// JSONOption configures DecodeJSON.
type JSONOption func(*jsonConfig)

type jsonConfig struct {
	limit        int64
	allowUnknown bool
}

// JSONLimit bounds the body (default 1 MiB); a larger body is a 413.
func JSONLimit(n int64) JSONOption { return func(c *jsonConfig) { c.limit = n } }

// AllowUnknownFields accepts fields v does not have; by default they are a 400, since a typo in a
// field name must not be silently dropped.
func AllowUnknownFields() JSONOption { return func(c *jsonConfig) { c.allowUnknown = true } }

// DecodeJSON reads one JSON value from the request body into v. It requires a JSON content type
// (415 otherwise), limits the body (413), rejects unknown fields, syntax errors, wrong types,
// an empty body and trailing data (400). Errors are *RequestError, naming the field and offset
// where possible; write them with [WriteError]:
//
//	var in CreateOrder
//	if err := kithttp.DecodeJSON(w, r, &in); err != nil {
//		kithttp.WriteError(w, r, err)
//		return
//	}
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any, opts ...JSONOption) error {
	cfg := jsonConfig{limit: DefaultJSONLimit}
	for _, o := range opts {
		o(&cfg)
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return &RequestError{Status: http.StatusUnsupportedMediaType, Detail: fmt.Sprintf("content type %q is not JSON", ct)}
		}
	} else {
		return &RequestError{Status: http.StatusUnsupportedMediaType, Detail: "missing content type; want application/json"}
	}
	if r.ContentLength > cfg.limit {
		return &RequestError{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("body is larger than %d bytes", cfg.limit)}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, cfg.limit))
	if !cfg.allowUnknown {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return jsonError(err, cfg.limit)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return jsonError(err, cfg.limit)
		}
		return &RequestError{Status: http.StatusBadRequest, Detail: "body has data after the JSON value"}
	}
	return nil
}

func jsonError(err error, limit int64) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooLarge *http.MaxBytesError
	bad := func(format string, args ...any) error {
		return &RequestError{Status: http.StatusBadRequest, Detail: fmt.Sprintf(format, args...), Err: err}
	}
	switch {
	case errors.As(err, &tooLarge):
		return &RequestError{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("body is larger than %d bytes", limit), Err: err}
	case errors.Is(err, io.EOF):
		return bad("body is empty; want a JSON value")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return bad("body ends in the middle of the JSON value")
	case errors.As(err, &syntax):
		return bad("malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return bad("field %q: want %s, got JSON %s", typ.Field, typ.Type, typ.Value)
		}
		return bad("want %s, got JSON %s", typ.Type, typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return bad("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return bad("invalid JSON body")
}

// WriteError answers with err as a problem: a *RequestError with its status and detail, anything
// else as a 500 whose detail reveals nothing of the error.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var re *RequestError
	if errors.As(err, &re) {
		problem.Error(w, r, re.Status, re.Detail)
		return
	}
	problem.Error(w, r, http.StatusInternalServerError, "")
}
