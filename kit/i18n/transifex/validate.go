package transifex

import (
	"bytes"
	"fmt"
	"path"
	"strings"

	"github.com/stackkit/stackkit/kit/i18n"
)

// Validator checks a downloaded file before it replaces the local one; an error keeps the old
// file and fails the result.
type Validator func(r *ResourceConfig, language, name string, data []byte) error

// isPO reports whether a resource's files are gettext PO files: its type says PO (or POT), or it
// names no type and its file filter ends in .po.
func isPO(r *ResourceConfig) bool {
	switch strings.ToUpper(r.Type) {
	case "PO", "POT":
		return true
	case "":
		return strings.EqualFold(path.Ext(r.FileFilter), ".po")
	}
	return false
}

// ValidateFile is the default Validator: a PO resource's file must parse with kit/i18n and have
// the header entry Transifex always writes (so an HTML error page, a JSON error document or an
// empty body served with 200 is refused); any other type must be non-empty.
func ValidateFile(r *ResourceConfig, language, name string, data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("%w: %s is empty", ErrInvalidFile, name)
	}
	if !isPO(r) {
		return nil
	}
	f, err := i18n.ParsePOBytes(data, name)
	if err != nil {
		return fmt.Errorf("%w: not a parsable PO file: %w", ErrInvalidFile, err)
	}
	if f.Header == nil {
		return fmt.Errorf("%w: %s has no PO header entry (msgid \"\")", ErrInvalidFile, name)
	}
	return nil
}

// compilePO compiles a PO file to MO bytes with kit/i18n's checks (msgfmt --check-format
// --check-header).
func compilePO(name string, data []byte) ([]byte, error) {
	f, err := i18n.ParsePOBytes(data, name)
	if err != nil {
		return nil, err
	}
	c, err := i18n.Compile(f)
	if err != nil {
		return nil, err
	}
	return i18n.MOBytes(c)
}

// moName is the MO file beside a PO file ("x.po" -> "x.mo").
func moName(po string) string { return strings.TrimSuffix(po, path.Ext(po)) + ".mo" }

// IsPO reports whether the resource's files are gettext PO files: its type says PO (or POT), or
// it names no type and its file filter ends in .po.
func (r *ResourceConfig) IsPO() bool { return isPO(r) }
