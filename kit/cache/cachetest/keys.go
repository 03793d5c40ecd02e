package cachetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/cache"
)

func (s *suite) testKeys(t *testing.T) {
	c, caps := s.cache(t)
	ctx := t.Context()
	maxLen := maxKeyLen(caps)

	t.Run("Valid", func(t *testing.T) {
		// Half the limit leaves room for any prefix and version the portable type adds.
		keys := []string{
			strings.Repeat("k", maxLen/2),
			"user:42:profile",
			"a/b/c?d=e&f#g",
			"{hash-tag}:x",
			"%2F..%00",
			"日本語のキー",
			"~!@$^*()_+-=[]|;'\",.<>`",
		}
		if !caps.NoSpaceInKeys {
			keys = append(keys, "with space", " ")
		}
		for _, k := range keys {
			mustSet(t, c, k, []byte("v:"+k), cache.DefaultTTL)
		}
		for _, k := range keys {
			v, err := c.Get(ctx, k)
			if err != nil || string(v) != "v:"+k {
				t.Errorf("Get(%q) = %q, %v; want the value set", shorten(k), shorten(string(v)), err)
			}
		}
	})

	invalid := []struct{ name, key string }{
		{"empty", ""},
		{"newline", "\n"},
		{"embedded newline", "a\nb"},
		{"carriage return", "a\rb"},
		{"tab", "a\tb"},
		{"NUL", "a\x00b"},
		{"DEL", "a\x7fb"},
		{"too long", strings.Repeat("k", maxLen+1)},
	}
	if caps.NoSpaceInKeys {
		invalid = append(invalid, struct{ name, key string }{"space", "a b"}, struct{ name, key string }{"only a space", " "})
	}
	for _, tc := range invalid {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			key := tc.key
			check := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, cache.ErrInvalidKey) {
					t.Errorf("%s(%q): %v, want ErrInvalidKey", op, shorten(key), err)
				} else if err.Error() == cache.ErrInvalidKey.Error() {
					t.Errorf("%s(%q): error %q does not say what is wrong with the key", op, shorten(key), err)
				}
			}
			value := []byte("must not be stored")
			check("Set", c.Set(ctx, key, value, time.Hour))
			check("SetMany", c.SetMany(ctx, map[string][]byte{"valid-companion": value, key: value}, time.Hour))
			_, err := c.Add(ctx, key, value, time.Hour)
			check("Add", err)
			_, err = c.Replace(ctx, key, value, time.Hour)
			check("Replace", err)
			_, err = c.Get(ctx, key)
			check("Get", err)
			_, err = c.GetMany(ctx, "valid-companion", key)
			check("GetMany", err)
			_, err = c.Has(ctx, key)
			check("Has", err)
			_, err = c.Delete(ctx, key)
			check("Delete", err)
			_, err = c.DeleteMany(ctx, "valid-companion", key)
			check("DeleteMany", err)
			_, err = c.Incr(ctx, key, 1)
			check("Incr", err)
			_, err = c.Touch(ctx, key, time.Hour)
			check("Touch", err)
			_, err = c.TTL(ctx, key)
			check("TTL", err)

			// Nothing stored, under the key or a mangled form of it: the rejected SetMany
			// stored none of its items.
			wantMissing(t, c, "valid-companion")
			for _, mangled := range mangle(key, maxLen) {
				wantMissing(t, c, mangled)
			}
		})
	}
}

// mangle returns the forms a backend that "fixes" keys might have stored key under, among those
// that are valid keys themselves.
func mangle(key string, maxLen int) []string {
	var forms []string
	add := func(k string) {
		if k != "" && k != key && len(k) <= maxLen/2 {
			forms = append(forms, k)
		}
	}
	strip := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == ' ' {
			return -1
		}
		return r
	}, key)
	add(strip)
	add(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == ' ' {
			return '_'
		}
		return r
	}, key))
	return forms
}
