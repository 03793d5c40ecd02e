package transifex

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// MediaType is the JSON:API media type the API speaks.
const MediaType = "application/vnd.api+json"

// Document is a JSON:API top-level document: primary data (one object or an array), links and
// errors.
type Document struct {
	Data   json.RawMessage `json:"data,omitempty"`
	Links  Links           `json:"links,omitzero"`
	Errors []ErrorObject   `json:"errors,omitempty"`
}

// Links are a document's or object's links. The API writes them as strings; JSON:API 1.1 link
// objects ({"href": ...}) are read too. "next" is followed as it is: a cursor is opaque.
type Links struct {
	Self     Link `json:"self,omitzero"`
	Next     Link `json:"next,omitzero"`
	Previous Link `json:"previous,omitzero"`
	First    Link `json:"first,omitzero"`
	Last     Link `json:"last,omitzero"`
	Related  Link `json:"related,omitzero"`
}

// Link is a URL, absolute or relative to the API's base.
type Link string

// UnmarshalJSON reads a string, null, or a link object.
func (l *Link) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*l = ""
		return nil
	case len(b) > 0 && b[0] == '{':
		var o struct {
			Href string `json:"href"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		*l = Link(o.Href)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*l = Link(s)
	return nil
}

// Object is a JSON:API resource object.
type Object struct {
	Type          string                  `json:"type"`
	ID            string                  `json:"id,omitempty"`
	Attributes    json.RawMessage         `json:"attributes,omitempty"`
	Relationships map[string]Relationship `json:"relationships,omitempty"`
	Links         Links                   `json:"links,omitzero"`
}

// Relationship is a to-one relationship (the API's are all to-one where this package reads them).
type Relationship struct {
	Data  *Identifier `json:"data"`
	Links Links       `json:"links,omitzero"`
}

// Identifier is a resource identifier object.
type Identifier struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

func rel(typ, id string) Relationship { return Relationship{Data: &Identifier{Type: typ, ID: id}} }

// related returns the ID of a to-one relationship, or "".
func (o *Object) related(name string) string {
	if r, ok := o.Relationships[name]; ok && r.Data != nil {
		return r.Data.ID
	}
	return ""
}

// decodeAttributes reads o's attributes into v.
func (o *Object) decodeAttributes(v any) error {
	if len(o.Attributes) == 0 {
		return fmt.Errorf("transifex: %s %s has no attributes", o.Type, o.ID)
	}
	if err := json.Unmarshal(o.Attributes, v); err != nil {
		return fmt.Errorf("transifex: attributes of %s %s: %w", o.Type, o.ID, err)
	}
	return nil
}

// one decodes a document's primary data as a single object of type typ.
func (d *Document) one(typ string) (*Object, error) {
	var o Object
	if len(d.Data) == 0 || bytes.Equal(bytes.TrimSpace(d.Data), []byte("null")) {
		return nil, fmt.Errorf("transifex: response has no data (want a %s object)", typ)
	}
	if err := json.Unmarshal(d.Data, &o); err != nil {
		return nil, fmt.Errorf("transifex: response data is not a %s object: %w", typ, err)
	}
	if o.Type != typ {
		return nil, fmt.Errorf("transifex: response data is a %q object, want %q", o.Type, typ)
	}
	return &o, nil
}

// many decodes a document's primary data as an array of objects.
func (d *Document) many() ([]Object, error) {
	var os []Object
	if err := json.Unmarshal(d.Data, &os); err != nil {
		return nil, fmt.Errorf("transifex: response data is not an array of objects: %w", err)
	}
	return os, nil
}

// isJSONAPI reports whether a Content-Type is JSON (the API's media type, or plain JSON that some
// proxies and error pages use).
func isJSONAPI(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == MediaType || mt == "application/json"
}

// languageID makes the API's language identifier from a code ("de" -> "l:de").
func languageID(code string) string {
	if strings.HasPrefix(code, "l:") {
		return code
	}
	return "l:" + code
}

// languageCode strips "l:".
func languageCode(id string) string { return strings.TrimPrefix(id, "l:") }
