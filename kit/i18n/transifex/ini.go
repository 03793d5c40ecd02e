package transifex

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// iniSection is one [section] of an INI file, keys in file order.
type iniSection struct {
	name string
	keys []string
	vals map[string]string
	line int
}

func (s *iniSection) get(k string) (string, bool) { v, ok := s.vals[k]; return v, ok }

// parseINI reads the INI dialect .tx/config and ~/.transifexrc are written in (Python's
// configparser, which the first tx wrote them with, and go-ini, which the current tx uses):
// "[section]" headers, "key = value" or "key: value" (split at the first of them), "#" and ";"
// comment lines, and indented continuation lines that append to the previous value (an indented
// "key = value" is a key, as go-ini reads it, except under lang_map, whose mappings contain ":"). Keys before
// any section are an error. Errors name the line, never its text: ~/.transifexrc holds tokens.
func parseINI(data []byte, name string) ([]*iniSection, error) {
	var out []*iniSection
	var cur *iniSection
	lastKey := ""
	sc := bufio.NewScanner(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			lastKey = "" // a blank or comment line ends a multi-line value
			continue
		}
		if (raw[0] == ' ' || raw[0] == '\t') && cur != nil && lastKey != "" && (lastKey == "lang_map" || !looksLikeKey(line)) {
			cur.vals[lastKey] += "\n" + line
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") || len(line) < 3 {
				return nil, fmt.Errorf("%s:%d: malformed section header", name, n)
			}
			cur = &iniSection{name: strings.TrimSpace(line[1 : len(line)-1]), vals: map[string]string{}, line: n}
			for _, s := range out {
				if s.name == cur.name {
					return nil, fmt.Errorf("%s:%d: section [%s] repeats the one on line %d", name, n, cur.name, s.line)
				}
			}
			out = append(out, cur)
			lastKey = ""
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i <= 0 {
			return nil, fmt.Errorf("%s:%d: want \"key = value\"", name, n)
		}
		if cur == nil {
			return nil, fmt.Errorf("%s:%d: key outside any [section]", name, n)
		}
		k, v := strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+1:])
		if _, dup := cur.vals[k]; !dup {
			cur.keys = append(cur.keys, k)
		}
		cur.vals[k] = v
		lastKey = k
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// looksLikeKey reports whether line starts "key =" or "key:" with a plain key.
func looksLikeKey(line string) bool {
	i := strings.IndexAny(line, "=:")
	if i <= 0 {
		return false
	}
	for _, r := range strings.TrimSpace(line[:i]) {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_.-@", r)) {
			return false
		}
	}
	return true
}
