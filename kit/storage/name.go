package storage

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultMaxNameLen is the longest name, in bytes, that a backend accepts unless its
// Capabilities say otherwise: S3's limit.
const DefaultMaxNameLen = 1024

// MaxComponentLen is the longest path component ("a" in "a/b"), in bytes, on every backend: a
// file system's limit (NAME_MAX), enforced on S3 too so that names work everywhere.
const MaxComponentLen = 255

// ValidateName reports whether name is a valid object name, with the default length limit. A
// Storage checks every name with its backend's limit before the backend sees it, so the rules
// are the same on every backend:
//
//   - slash-separated, relative ("a/b.txt", never "/a" or "a/"), with no empty, "." or ".."
//     component ("a//b", "a/./b", "../b");
//   - valid UTF-8 without control characters (NUL included) or backslashes;
//   - at most DefaultMaxNameLen bytes (or the backend's MaxNameLen), and at most
//     MaxComponentLen bytes between slashes.
//
// The error wraps [ErrInvalidName] and names the name and what is wrong with it.
func ValidateName(name string) error { return validateName(name, DefaultMaxNameLen) }

// ValidateName is the package's [ValidateName] with this Storage's backend limit.
func (s *Storage) ValidateName(name string) error { return validateName(name, s.maxName) }

func validateName(name string, maxLen int) error {
	if reason := nameProblem(name, maxLen); reason != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidName, shorten(name), reason)
	}
	return nil
}

func shorten(name string) string {
	if len(name) > 80 {
		return name[:77] + "..."
	}
	return name
}

// nameProblem says what is wrong with name, or "" when nothing is.
func nameProblem(name string, maxLen int) string {
	if name == "" {
		return "empty name"
	}
	if len(name) > maxLen {
		return fmt.Sprintf("%d bytes long; the limit is %d", len(name), maxLen)
	}
	if !utf8.ValidString(name) {
		return "not valid UTF-8"
	}
	for i, r := range name {
		switch {
		case r == 0:
			return fmt.Sprintf("NUL byte at byte %d", i)
		case unicode.IsControl(r):
			return fmt.Sprintf("control character %U at byte %d", r, i)
		case r == '\\':
			return fmt.Sprintf("backslash at byte %d (use / to separate path components)", i)
		}
	}
	if name[0] == '/' {
		return "absolute path (names are relative, without a leading slash)"
	}
	if name[len(name)-1] == '/' {
		return "ends with a slash (a name is an object, not a directory)"
	}
	for part := range strings.SplitSeq(name, "/") {
		switch part {
		case "":
			return "empty path component (double slash)"
		case ".":
			return `"." path component`
		case "..":
			return `".." path component`
		}
		if len(part) > MaxComponentLen {
			return fmt.Sprintf("a path component is %d bytes long; the limit is %d", len(part), MaxComponentLen)
		}
	}
	return ""
}

// validatePrefix checks a List prefix: "" or the start of a valid name ("img/", "img/ph").
func validatePrefix(prefix string, maxLen int) error {
	if prefix == "" {
		return nil
	}
	// Any name starting with prefix must be able to be valid: check prefix plus one character.
	if reason := nameProblem(prefix+"x", maxLen+1); reason != "" {
		return fmt.Errorf("%w: prefix %q cannot start a valid name: %s", ErrInvalidName, shorten(prefix), reason)
	}
	return nil
}
