// Package problem writes HTTP errors as RFC 9457 problem details (application/problem+json), the
// one error format every kit/http middleware and handler uses.
//
//	problem.Write(w, r, problem.Details{Status: http.StatusConflict, Detail: "order 42 is already paid"})
//	problem.Error(w, r, http.StatusNotFound, "no such order")
//
// The body carries the request ID (as "request_id") when the request has one, so a user's bug
// report can be matched with the logs.
package problem

import (
	"encoding/json"
	"maps"
	"net/http"

	"github.com/stackkit/stackkit/kit/http/internal/reqctx"
)

// ContentType is the media type of a problem details document.
const ContentType = "application/problem+json"

// Details is an RFC 9457 problem details object.
type Details struct {
	// Type is a URI reference identifying the problem type; empty means "about:blank", whose title
	// is the HTTP status text.
	Type string
	// Title is a short, human-readable summary of the problem type; it defaults to the status text.
	Title string
	// Status is the HTTP status code; 0 means 500.
	Status int
	// Detail explains this occurrence. It is shown to the client: never put secrets or internal
	// error text here.
	Detail string
	// Instance is a URI reference identifying this occurrence.
	Instance string
	// Extensions are extra members, e.g. {"errors": [...]} for validation failures. They cannot
	// replace the standard members.
	Extensions map[string]any
}

// MarshalJSON writes the standard members and the extensions as one object.
func (d Details) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, 6+len(d.Extensions))
	maps.Copy(m, d.Extensions)
	if d.Type != "" {
		m["type"] = d.Type
	}
	m["title"] = d.Title
	m["status"] = d.Status
	if d.Detail != "" {
		m["detail"] = d.Detail
	}
	if d.Instance != "" {
		m["instance"] = d.Instance
	}
	return json.Marshal(m)
}

// Write sends d as the response, filling in the status (500 when unset), the title, and the
// request ID. It must be called before anything else is written to w.
func Write(w http.ResponseWriter, r *http.Request, d Details) {
	if d.Status == 0 {
		d.Status = http.StatusInternalServerError
	}
	if d.Title == "" {
		d.Title = http.StatusText(d.Status)
	}
	if id := reqctx.RequestID(r.Context()); id != "" {
		ext := make(map[string]any, len(d.Extensions)+1)
		maps.Copy(ext, d.Extensions)
		ext["request_id"] = id
		d.Extensions = ext
	}
	body, err := json.Marshal(d)
	if err != nil { // an extension that does not marshal: send the problem without extensions
		d.Extensions = nil
		body, _ = json.Marshal(d)
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	h.Del("Content-Encoding")
	w.WriteHeader(d.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(body, '\n'))
	}
}

// Error sends a problem with the given status and detail.
func Error(w http.ResponseWriter, r *http.Request, status int, detail string) {
	Write(w, r, Details{Status: status, Detail: detail})
}
