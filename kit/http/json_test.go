package http_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	kithttp "github.com/stackkit/stackkit/kit/http"
)

type order struct {
	Item  string `json:"item"`
	Count int    `json:"count"`
}

func TestDecodeJSON(t *testing.T) {
	for _, tc := range []struct {
		name, ct, body string
		status         int
		detail         string
	}{
		{"ok", "application/json", `{"item":"tea","count":2}`, 0, ""},
		{"vendor json", "application/vnd.api+json; charset=utf-8", `{"item":"tea"}`, 0, ""},
		{"no content type", "", `{}`, 415, "missing content type"},
		{"wrong content type", "text/plain", `{}`, 415, `"text/plain" is not JSON`},
		{"unknown field", "application/json", `{"item":"tea","cuont":2}`, 400, `unknown field "cuont"`},
		{"wrong type", "application/json", `{"count":"two"}`, 400, `field "count": want int, got JSON string`},
		{"syntax", "application/json", `{"item":}`, 400, "malformed JSON at byte 9"},
		{"empty", "application/json", ``, 400, "body is empty"},
		{"truncated", "application/json", `{"item":"te`, 400, "ends in the middle"},
		{"trailing", "application/json", `{"item":"tea"} {"item":"x"}`, 400, "data after the JSON value"},
		{"too large", "application/json", `{"item":"` + strings.Repeat("x", 200) + `"}`, 413, "larger than 64 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/orders", strings.NewReader(tc.body))
			if tc.ct != "" {
				r.Header.Set("Content-Type", tc.ct)
			}
			if tc.name == "too large" {
				r.ContentLength = -1 // streamed: the limit must hold without a Content-Length
			}
			w := httptest.NewRecorder()
			var o order
			err := kithttp.DecodeJSON(w, r, &o, kithttp.JSONLimit(64))
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("DecodeJSON: %v", err)
				}
				return
			}
			var re *kithttp.RequestError
			if !asRequestError(err, &re) || re.Status != tc.status || !strings.Contains(re.Detail, tc.detail) {
				t.Fatalf("DecodeJSON = %v, want %d %q", err, tc.status, tc.detail)
			}
			kithttp.WriteError(w, r, err)
			var body map[string]any
			_ = json.Unmarshal(w.Body.Bytes(), &body)
			if w.Code != tc.status || body["detail"] != re.Detail || w.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("WriteError: %d %v", w.Code, body)
			}
		})
	}
}

func asRequestError(err error, target **kithttp.RequestError) bool {
	re, ok := err.(*kithttp.RequestError)
	*target = re
	return ok
}

func TestWriteErrorHidesInternalErrors(t *testing.T) {
	w := httptest.NewRecorder()
	kithttp.WriteError(w, httptest.NewRequest("GET", "/", nil), errSecret)
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "10.0.0.1") {
		t.Errorf("internal error exposed: %d %s", w.Code, w.Body.String())
	}
}

var errSecret = &json.UnsupportedValueError{Str: "dial 10.0.0.1"}
