package queue

import (
	"fmt"
	"net/textproto"
	"strings"
)

// Header holds a message's headers. Keys are case-insensitive: the methods use the canonical form
// ("Content-Type"), as net/http's Header does, and delivered headers arrive canonicalised.
type Header map[string][]string

// Headers the queue itself writes. Dead letters carry the Dead ones; the original headers and ID
// are kept beside them.
const (
	HeaderDeadReason     = "Kit-Dead-Reason"     // the handler's error text, or why the queue gave up
	HeaderDeadDeliveries = "Kit-Dead-Deliveries" // how many times the message was delivered
	HeaderDeadSubject    = "Kit-Dead-Subject"    // the subject it was published to
	HeaderDeadTime       = "Kit-Dead-Time"       // when it was dead-lettered, RFC 3339 with nanoseconds
	HeaderDeadConsumer   = "Kit-Dead-Consumer"   // the consumer that gave up on it
	HeaderRedrivenFrom   = "Kit-Redriven-From"   // on a re-driven message: the ID it had before
)

// Get returns the first value of key, or "".
func (h Header) Get(key string) string {
	if v := h[textproto.CanonicalMIMEHeaderKey(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Values returns every value of key.
func (h Header) Values(key string) []string { return h[textproto.CanonicalMIMEHeaderKey(key)] }

// Set replaces the values of key with value.
func (h Header) Set(key, value string) { h[textproto.CanonicalMIMEHeaderKey(key)] = []string{value} }

// Add appends value to the values of key.
func (h Header) Add(key, value string) {
	k := textproto.CanonicalMIMEHeaderKey(key)
	h[k] = append(h[k], value)
}

// Del removes key.
func (h Header) Del(key string) { delete(h, textproto.CanonicalMIMEHeaderKey(key)) }

// Clone returns a deep copy; nil stays nil.
func (h Header) Clone() Header {
	if h == nil {
		return nil
	}
	c := make(Header, len(h))
	for k, v := range h {
		c[k] = append([]string(nil), v...)
	}
	return c
}

// Canonical returns h with every key in canonical form, merging keys that differ only in case.
// Drivers call it on delivered headers, which other publishers may have written in any case.
func (h Header) Canonical() Header {
	if h == nil {
		return nil
	}
	c := make(Header, len(h))
	for k, v := range h {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		c[ck] = append(c[ck], v...)
	}
	return c
}

// validate rejects what no backend can carry: keys that are empty or hold spaces, colons or
// control characters, and values with line breaks or other control characters.
func (h Header) validate() error {
	for k, vs := range h {
		if k == "" {
			return fmt.Errorf("empty header key")
		}
		if strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r == ':' || r >= 0x7f }) {
			return fmt.Errorf("header key %q has a space, colon or non-ASCII character", k)
		}
		if strings.EqualFold(k, "Nats-Msg-Id") {
			return fmt.Errorf("header %q: set Message.ID instead", k)
		}
		for _, v := range vs {
			if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
				return fmt.Errorf("header %q has a line break or control character in its value", k)
			}
		}
	}
	return nil
}

// carrier adapts Header to OpenTelemetry's TextMapCarrier.
type carrier Header

func (c carrier) Get(key string) string { return Header(c).Get(key) }
func (c carrier) Set(key, value string) { Header(c).Set(key, value) }
func (c carrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
