package pagecache

import (
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"strings"
)

// Key kinds: a URL's Vary list, and a page variant.
const (
	kindVary = 'v'
	kindPage = 'p'
)

// key returns the cache key "<prefix>:<kind>:<64 hex digits>": printable, and under 140 bytes
// whatever the URL, so it suits Memcached as well.
func (hd *handler) key(kind byte, sum [32]byte) string {
	var b [64 + 3 + 64]byte
	k := append(b[:0], hd.cfg.prefix...)
	k = append(k, ':', kind, ':')
	k = hex.AppendEncode(k, sum[:])
	return string(k)
}

// appendURL appends what identifies the URL: the method every page is stored under (GET), the
// scheme, the host (lower-cased: host names are case-insensitive) and the request target as the
// client sent it. The target is taken from RequestURI, so that a router that rewrites r.URL
// (http.StripPrefix) cannot make two URLs share a key. Fields are length-prefixed: no
// concatenation of two different URLs hashes alike.
func (hd *handler) appendURL(dst []byte, r *http.Request) []byte {
	dst = append(dst, "GET"...)
	if hd.cfg.scheme != nil {
		dst = appendField(dst, hd.cfg.scheme(r))
	} else if r.TLS != nil {
		dst = appendField(dst, "https")
	} else {
		dst = appendField(dst, "http")
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	dst = binary.AppendUvarint(dst, uint64(len(host)))
	for i := 0; i < len(host); i++ {
		c := host[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	if target := r.RequestURI; strings.HasPrefix(target, "/") {
		return appendField(dst, target)
	}
	// A request built in process (no RequestURI), or an absolute-form target.
	path, query := r.URL.EscapedPath(), r.URL.RawQuery
	n := len(path)
	if query != "" || r.URL.ForceQuery {
		n += 1 + len(query)
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	dst = append(dst, path...)
	if query != "" || r.URL.ForceQuery {
		dst = append(dst, '?')
		dst = append(dst, query...)
	}
	return dst
}

// appendVariant appends, after the URL, what tells the URL's variants apart: the locale, the
// nonce of the URL's Vary list, and the request's values of the headers in that list.
func appendVariant(dst []byte, r *http.Request, locale string, v vary) []byte {
	dst = appendField(dst, locale)
	dst = binary.LittleEndian.AppendUint64(dst, v.nonce)
	for names := v.names; len(names) > 0; {
		var name []byte
		name, names = nextName(names)
		values := r.Header[string(name)] // names are stored canonical
		dst = appendBytesField(dst, name)
		dst = binary.AppendUvarint(dst, uint64(len(values)))
		for _, s := range values {
			dst = appendField(dst, s)
		}
	}
	return dst
}

func appendField(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBytesField(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}
