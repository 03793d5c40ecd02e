package i18n

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strings"
)

const (
	moMagic        = 0x950412de
	moHeaderSize   = 28
	maxMOFileBytes = 1 << 30
)

// ReadMO decodes a GNU MO file (either byte order, revision 0 or 1) into a [POFile], as
// msgunfmt does: the header entry and the messages in the file's (sorted) order. name labels
// errors, which wrap [ErrSyntax].
func ReadMO(data []byte, name string) (*POFile, error) { return readMO(data, name, nil) }

// readMO decodes; with emit, entries other than the header go to emit in one reused Message
// (emit copies what it keeps) instead of into the file.
func readMO(data []byte, name string, emit func(*Message) error) (*POFile, error) {
	bad := func(format string, args ...any) error {
		return syntaxErrorf("%s: not a valid MO file: %s", name, fmt.Sprintf(format, args...))
	}
	if len(data) < moHeaderSize {
		return nil, bad("%d bytes, shorter than the header", len(data))
	}
	var bo binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint32(data) == moMagic:
		bo = binary.LittleEndian
	case binary.BigEndian.Uint32(data) == moMagic:
		bo = binary.BigEndian
	default:
		return nil, bad("bad magic number")
	}
	if rev := bo.Uint32(data[4:]); rev>>16 > 1 {
		return nil, bad("unsupported major revision %d", rev>>16)
	}
	n := int(bo.Uint32(data[8:]))
	origTab := int(bo.Uint32(data[12:]))
	transTab := int(bo.Uint32(data[16:]))
	if n < 0 || n > len(data)/8 || origTab < 0 || transTab < 0 ||
		origTab+8*n > len(data) || transTab+8*n > len(data) {
		return nil, bad("string tables out of bounds")
	}
	// One string for the file: every message is a substring of it, not an allocation.
	text := string(data)
	str := func(tab, i int) (string, error) {
		l := int(bo.Uint32(data[tab+8*i:]))
		off := int(bo.Uint32(data[tab+8*i+4:]))
		if l < 0 || off < 0 || off+l >= len(data) || off+l < off {
			return "", bad("string %d out of bounds", i)
		}
		return text[off : off+l], nil
	}
	f := &POFile{Name: name}
	var reuse Message
	for i := 0; i < n; i++ {
		orig, err := str(origTab, i)
		if err != nil {
			return nil, err
		}
		trans, err := str(transTab, i)
		if err != nil {
			return nil, err
		}
		m := &Message{}
		if emit != nil {
			reuse = Message{Str: reuse.Str[:0]}
			m = &reuse
		}
		if ctx, id, ok := strings.Cut(orig, "\x04"); ok {
			m.Context, m.HasContext, orig = ctx, true, id
		}
		if id, plural, ok := strings.Cut(orig, "\x00"); ok {
			m.ID, m.IDPlural, m.Plural = id, plural, true
			m.Str = strings.Split(trans, "\x00")
		} else {
			m.ID = orig
			m.Str = append(m.Str, trans)
		}
		if !m.HasContext && m.ID == "" && f.Header == nil {
			h := *m
			h.Str = append([]string(nil), m.Str...)
			f.Header = &h
			continue
		}
		if emit != nil {
			if err := emit(m); err != nil {
				return nil, err
			}
			if m.Plural {
				reuse.Str = nil // the catalog kept the forms
			}
			continue
		}
		f.Messages = append(f.Messages, m)
	}
	return f, nil
}

// WriteMO writes the non-obsolete entries of f (the header included) as a GNU MO file,
// little-endian, revision 0, sorted by key with the hash table, byte for byte as msgfmt does.
// It writes every entry it is given: [Compile] first to drop fuzzy and untranslated ones.
func WriteMO(w io.Writer, f *POFile) error {
	type pair struct{ orig, trans string }
	pairs := make([]pair, 0, len(f.Messages)+1)
	add := func(m *Message) {
		orig := m.Key()
		trans := ""
		if m.Plural {
			orig += "\x00" + m.IDPlural
			trans = strings.Join(m.Str, "\x00")
		} else if len(m.Str) > 0 {
			trans = m.Str[0]
		}
		pairs = append(pairs, pair{orig, trans})
	}
	if f.Header != nil {
		add(f.Header)
	}
	for _, m := range f.Messages {
		if !m.Obsolete {
			add(m)
		}
	}
	// Sort as strcmp does, on the key up to the first NUL.
	key := func(p pair) string {
		k, _, _ := strings.Cut(p.orig, "\x00")
		return k
	}
	slices.SortStableFunc(pairs, func(a, b pair) int { return strings.Compare(key(a), key(b)) })
	for i := 1; i < len(pairs); i++ {
		if key(pairs[i]) == key(pairs[i-1]) {
			return syntaxErrorf("i18n: write MO %s: duplicate message %q", f.Name, key(pairs[i]))
		}
	}
	n := len(pairs)
	hashSize := nextPrime(n * 4 / 3)
	if hashSize <= 2 {
		hashSize = 3
	}
	origTab := moHeaderSize
	transTab := origTab + 8*n
	hashTab := transTab + 8*n
	strOff := hashTab + 4*hashSize
	total := strOff
	for _, p := range pairs {
		total += len(p.orig) + 1 + len(p.trans) + 1
	}
	if total > maxMOFileBytes {
		return fmt.Errorf("i18n: write MO %s: %d bytes is too large", f.Name, total)
	}
	buf := make([]byte, total)
	le := binary.LittleEndian
	le.PutUint32(buf[0:], moMagic)
	le.PutUint32(buf[4:], 0)
	le.PutUint32(buf[8:], uint32(n))
	le.PutUint32(buf[12:], uint32(origTab))
	le.PutUint32(buf[16:], uint32(transTab))
	le.PutUint32(buf[20:], uint32(hashSize))
	le.PutUint32(buf[24:], uint32(hashTab))
	off := strOff
	for i, p := range pairs {
		le.PutUint32(buf[origTab+8*i:], uint32(len(p.orig)))
		le.PutUint32(buf[origTab+8*i+4:], uint32(off))
		off += copy(buf[off:], p.orig) + 1
	}
	for i, p := range pairs {
		le.PutUint32(buf[transTab+8*i:], uint32(len(p.trans)))
		le.PutUint32(buf[transTab+8*i+4:], uint32(off))
		off += copy(buf[off:], p.trans) + 1
	}
	for i, p := range pairs {
		h := hashPJW(key(p))
		idx := h % uint32(hashSize)
		if le.Uint32(buf[hashTab+4*int(idx):]) != 0 {
			incr := 1 + h%uint32(hashSize-2)
			for {
				if idx >= uint32(hashSize)-incr {
					idx -= uint32(hashSize) - incr
				} else {
					idx += incr
				}
				if le.Uint32(buf[hashTab+4*int(idx):]) == 0 {
					break
				}
			}
		}
		le.PutUint32(buf[hashTab+4*int(idx):], uint32(i+1))
	}
	bw := bufio.NewWriter(w)
	if _, err := bw.Write(buf); err != nil {
		return err
	}
	return bw.Flush()
}

// MOBytes returns f as [WriteMO] writes it.
func MOBytes(f *POFile) ([]byte, error) {
	var b bytes.Buffer
	if err := WriteMO(&b, f); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// hashPJW is gettext's hash_string (the PJW hash on 32 bits).
func hashPJW(s string) uint32 {
	var h uint32
	for i := 0; i < len(s); i++ {
		h = h<<4 + uint32(s[i])
		if g := h & 0xf0000000; g != 0 {
			h ^= g >> 24
			h ^= g
		}
	}
	return h
}

// nextPrime is gettext's next_prime, quirks included (it never returns 3), so hash tables have
// msgfmt's size.
func nextPrime(seed int) int {
	seed |= 1
	for {
		d, sq := 3, 9
		for sq < seed && seed%d != 0 {
			d++
			sq += 4 * d
			d++
		}
		if seed%d != 0 {
			return seed
		}
		seed += 2
	}
}
