package storage

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// saveAttempts bounds Save's search for a free name; each attempt after the first uses a fresh
// random suffix, so running out means something other than bad luck is wrong.
const saveAttempts = 10

// Save stores r under name without overwriting anything, like Django's Storage.save: if name is
// taken it stores under an available name instead — a random suffix of seven letters and digits
// before the extension ("photo.jpg" -> "photo_a8Xk2Lq.jpg", "a.tar.gz" -> "a_a8Xk2Lq.tar.gz") —
// and returns the name it used. The name is claimed atomically (WriterOptions.IfNotExist), so
// concurrent Saves of one name never overwrite each other. A name too long for the backend once
// suffixed has its stem shortened, as Django's get_available_name does.
//
// Losing a race for a name means writing the content again under another name: r must then be
// an io.Seeker (files, multipart uploads, bytes and strings readers are); otherwise Save fails
// with an error wrapping ErrExist.
func (s *Storage) Save(ctx context.Context, name string, r io.Reader, opts *WriterOptions) (string, error) {
	if err := s.check(ctx, name); err != nil {
		return "", err
	}
	o := WriterOptions{}
	if opts != nil {
		o = *opts
	}
	o.IfNotExist = true
	if o.Size <= 0 {
		o.Size = readerSize(r)
	}
	seeker, _ := r.(io.Seeker)
	var start int64
	if seeker != nil {
		var err error
		if start, err = seeker.Seek(0, io.SeekCurrent); err != nil {
			seeker = nil
		}
	}
	candidate := name
	if ok, err := s.Exists(ctx, name); err != nil {
		return "", err
	} else if ok {
		if candidate, err = s.alternativeName(name); err != nil {
			return "", err
		}
	}
	for attempt := 1; ; attempt++ {
		err := s.Put(ctx, candidate, r, &o)
		if err == nil {
			return candidate, nil
		}
		if !errors.Is(err, ErrExist) {
			return "", err
		}
		if attempt == saveAttempts {
			return "", fmt.Errorf("storage: save %q: no available name after %d attempts: %w", shorten(name), attempt, err)
		}
		if seeker == nil {
			return "", fmt.Errorf("storage: save %q: %q was taken while writing, and the content cannot be written again under another name because the reader is not an io.Seeker: %w", shorten(name), shorten(candidate), err)
		}
		if _, serr := seeker.Seek(start, io.SeekStart); serr != nil {
			return "", fmt.Errorf("storage: save %q: rewind for another name: %w", shorten(name), serr)
		}
		if candidate, err = s.alternativeName(name); err != nil {
			return "", err
		}
	}
}

// AvailableName returns name if it is free, else name with a random suffix before its
// extension that was free when checked (Django's get_available_name). Save does this itself,
// atomically; AvailableName is for callers that need a name before they have content.
func (s *Storage) AvailableName(ctx context.Context, name string) (string, error) {
	if err := s.check(ctx, name); err != nil {
		return "", err
	}
	candidate := name
	for range saveAttempts {
		ok, err := s.Exists(ctx, candidate)
		if err != nil {
			return "", err
		}
		if !ok {
			return candidate, nil
		}
		if candidate, err = s.alternativeName(name); err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("storage: no available name for %q after %d attempts: %w", shorten(name), saveAttempts, ErrExist)
}

const suffixAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// alternativeName inserts "_" and seven random letters and digits before name's extensions,
// shortening the stem when the result would be too long.
func (s *Storage) alternativeName(name string) (string, error) {
	dir, file := path.Split(name)
	ext := extensions(file)
	stem := strings.TrimSuffix(file, ext)
	suffix := "_" + randomSuffix()
	over := max(len(dir)+len(stem)+len(suffix)+len(ext)-s.maxName, len(stem)+len(suffix)+len(ext)-MaxComponentLen)
	if over > 0 {
		if over >= len(stem) {
			return "", fmt.Errorf("%w %q: too long to add a suffix for an available name within %d bytes", ErrInvalidName, shorten(name), s.maxName)
		}
		stem = truncateUTF8(stem, len(stem)-over)
	}
	return dir + stem + suffix + ext, nil
}

func randomSuffix() string {
	out := make([]byte, 0, 7)
	var b [16]byte
	for len(out) < cap(out) {
		_, _ = rand.Read(b[:])
		for _, c := range b {
			// 248 = 4*62: rejecting the rest keeps every character equally likely.
			if c < 248 && len(out) < cap(out) {
				out = append(out, suffixAlphabet[c%62])
			}
		}
	}
	return string(out)
}

// extensions returns all of a file name's suffixes, as Python's pathlib does and Django uses:
// "a.tar.gz" -> ".tar.gz", ".bashrc" -> "", "a." -> "".
func extensions(file string) string {
	if strings.HasSuffix(file, ".") {
		return ""
	}
	body := strings.TrimLeft(file, ".")
	i := strings.IndexByte(body, '.')
	if i < 0 {
		return ""
	}
	return body[i:]
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
