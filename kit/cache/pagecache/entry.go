package pagecache

import (
	"encoding/binary"
	"errors"
	"net/http"
)

// Stored values start with a kind byte and a format version. A value whose version this code
// does not know (written by a newer release sharing the cache) is a miss, and is overwritten
// when the page is stored again.
const (
	formatVersion = 1
	pageMagic     = 'P'
	varyMagic     = 'V'
)

var errFormat = errors.New("pagecache: stored value has an unknown format or is corrupt")

// A page is a stored response:
//
//	'P' version
//	stored   uint64 LE   Unix nanoseconds, when it was stored
//	expires  uint64 LE   Unix nanoseconds, when it stops being fresh
//	status   uvarint
//	age      uvarint     seconds old it already was when stored (its Age field)
//	fields   uvarint     number of header fields
//	values   uvarint     number of header values, all fields together
//	size     uvarint     length of the header block
//	header block: per field  uvarint len, name, uvarint count, per value  uvarint len, value
//	body     the rest
type page struct {
	stored, expires int64
	status          int
	age             int64
	fields, values  int
	header          []byte
	body            []byte
}

// encodePage encodes a response. h is filtered by keep, called twice per field.
func encodePage(p *page, h http.Header, keep func(string, []string) bool) []byte {
	fields, values, size := 0, 0, 0
	for name, vs := range h {
		if !keep(name, vs) {
			continue
		}
		fields++
		values += len(vs)
		size += uvarintLen(len(name)) + len(name) + uvarintLen(len(vs))
		for _, v := range vs {
			size += uvarintLen(len(v)) + len(v)
		}
	}
	n := 2 + 16 + uvarintLen(p.status) + uvarintLen(int(p.age)) + uvarintLen(fields) + uvarintLen(values) + uvarintLen(size)
	b := make([]byte, 0, n+size+len(p.body)) // exactly: memory:// keeps this slice as it is
	b = append(b, pageMagic, formatVersion)
	b = binary.LittleEndian.AppendUint64(b, uint64(p.stored))
	b = binary.LittleEndian.AppendUint64(b, uint64(p.expires))
	b = binary.AppendUvarint(b, uint64(p.status))
	b = binary.AppendUvarint(b, uint64(p.age))
	b = binary.AppendUvarint(b, uint64(fields))
	b = binary.AppendUvarint(b, uint64(values))
	b = binary.AppendUvarint(b, uint64(size))
	for name, vs := range h {
		if !keep(name, vs) {
			continue
		}
		b = appendField(b, name)
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendField(b, v)
		}
	}
	return append(b, p.body...)
}

// decodePage decodes and validates a stored page; p.body and p.header alias b.
func decodePage(b []byte) (page, error) {
	var p page
	if len(b) < 18 || b[0] != pageMagic || b[1] != formatVersion {
		return p, errFormat
	}
	p.stored = int64(binary.LittleEndian.Uint64(b[2:]))
	p.expires = int64(binary.LittleEndian.Uint64(b[10:]))
	d := decoder{b: b[18:]}
	status, age := d.uvarint(), d.uvarint()
	fields, values, size := d.uvarint(), d.uvarint(), d.uvarint()
	if d.bad || status < 200 || status > 599 || age > 1<<31 || size > uint64(len(d.b)) {
		return p, errFormat
	}
	p.status, p.age = int(status), int64(age)
	p.header, p.body = d.b[:size], d.b[size:]
	// Check the header block against the counts, so that apply cannot fail.
	h := decoder{b: p.header}
	var nf, nv uint64
	for len(h.b) > 0 && !h.bad {
		h.bytes()
		n := h.uvarint()
		for i := uint64(0); i < n && !h.bad; i++ {
			h.bytes()
			nv++
		}
		nf++
	}
	if h.bad || nf != fields || nv != values {
		return p, errFormat
	}
	p.fields, p.values = int(fields), int(values)
	return p, nil
}

// apply sets the stored header fields in h: one string for the whole block, one slice for all
// the values, and spare more slots at the end of it, returned for the caller's own fields.
func (p *page) apply(h http.Header, spare int) []string {
	s := string(p.header)
	all := make([]string, p.values+spare)
	vals := all[:0:p.values]
	for off := 0; off < len(s); {
		var name string
		name, off = stringField(s, off)
		var n uint64
		n, off = stringUvarint(s, off)
		start := len(vals)
		for i := uint64(0); i < n; i++ {
			var v string
			v, off = stringField(s, off)
			vals = append(vals, v)
		}
		h[name] = vals[start:len(vals):len(vals)]
	}
	return all[p.values:]
}

// A vary is a URL's stored Vary list, the request header names its variants are keyed on:
//
//	'V' version
//	nonce    uint64 LE   a random number in every page key of the URL: a new list orphans the old pages
//	expires  uint64 LE   Unix nanoseconds, when the list's own TTL ends
//	names    per name: uvarint len, canonical header name
type vary struct {
	nonce   uint64
	expires int64
	names   []byte
}

func encodeVary(v vary, names []string) []byte {
	n := 18
	for _, name := range names {
		n += uvarintLen(len(name)) + len(name)
	}
	b := make([]byte, 0, n)
	b = append(b, varyMagic, formatVersion)
	b = binary.LittleEndian.AppendUint64(b, v.nonce)
	b = binary.LittleEndian.AppendUint64(b, uint64(v.expires))
	for _, name := range names {
		b = appendField(b, name)
	}
	return b
}

func decodeVary(b []byte) (vary, error) {
	if len(b) < 18 || b[0] != varyMagic || b[1] != formatVersion {
		return vary{}, errFormat
	}
	v := vary{nonce: binary.LittleEndian.Uint64(b[2:]), expires: int64(binary.LittleEndian.Uint64(b[10:])), names: b[18:]}
	d := decoder{b: v.names}
	for len(d.b) > 0 && !d.bad {
		d.bytes()
	}
	if d.bad {
		return vary{}, errFormat
	}
	return v, nil
}

// sameNames reports whether the encoded list equals names.
func (v vary) sameNames(names []string) bool {
	rest := v.names
	for _, name := range names {
		if len(rest) == 0 {
			return false
		}
		var got []byte
		got, rest = nextName(rest)
		if string(got) != name {
			return false
		}
	}
	return len(rest) == 0
}

// nextName splits the first name off a validated list.
func nextName(b []byte) (name, rest []byte) {
	n, k := binary.Uvarint(b)
	return b[k : k+int(n)], b[k+int(n):]
}

// decoder reads uvarints and length-prefixed byte strings, noting rather than returning errors.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) uvarint() uint64 {
	if d.bad {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// stringUvarint and stringField read a validated block converted to a string, so that the
// names and values it holds are substrings of one allocation.
func stringUvarint(s string, off int) (uint64, int) {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		c := s[off]
		off++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, off
		}
	}
}

func stringField(s string, off int) (string, int) {
	n, off := stringUvarint(s, off)
	end := off + int(n)
	return s[off:end], end
}

func uvarintLen(n int) int {
	k := 1
	for ; n >= 0x80; n >>= 7 {
		k++
	}
	return k
}
