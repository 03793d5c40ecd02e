package storagetest

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/kit/storage"
)

// odd but valid names, which every backend must store and list as given.
var validNames = []string{
	"with space.txt",
	"ünïcødé/文件.txt",
	"a/.hidden",
	"a..b",
	"-dash",
	"x%20y.txt",
	"q?.txt",
	"h#a.txt",
	"plus+sign",
	"semi;colon",
	"quote'and\"double",
	"tilde~",
	"emoji-😀.txt",
	"..dots-at-start",
	"trailing.",
	"UPPER/lower",
	"upper/lower",
}

func (s *suite) testNames(t *testing.T) {
	t.Parallel()
	st := s.open(t)
	for _, n := range validNames {
		put(t, st, n, []byte(n))
	}
	for _, n := range validNames {
		wantContent(t, st, n, []byte(n))
	}
	want := slices.Clone(validNames)
	slices.Sort(want)
	if got := names(t, st, nil); !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
	// The longest name the backend accepts, in components a file system allows.
	long := longName(st.ValidateName)
	put(t, st, long, []byte("long"))
	wantContent(t, st, long, []byte("long"))
}

// longName builds the longest valid name: components of 200 bytes.
func longName(validate func(string) error) string {
	name := ""
	for {
		next := name + strings.Repeat("n", 199) + "/"
		if validate(next+"x") != nil {
			break
		}
		name = next
	}
	for validate(name+"x") == nil {
		name += "x"
	}
	return name
}

var invalidNames = []struct{ name, why string }{
	{"", "empty"},
	{".", `"."`},
	{"..", `".."`},
	{"/abs.txt", "absolute"},
	{"a/../b", `".."`},
	{"../escape", `".."`},
	{"a/./b", `"."`},
	{"a//b", "empty path component"},
	{"dir/", "slash"},
	{`back\slash`, "backslash"},
	{"nul\x00byte", "NUL"},
	{"new\nline", "control"},
	{"tab\there", "control"},
	{"del\x7f", "control"},
	{"c1\u0085", "control"},
	{"bad\xffutf8", "UTF-8"},
	{strings.Repeat("x", 256), "limit"},
}

func (s *suite) testInvalidNames(t *testing.T) {
	t.Parallel()
	st := s.open(t)
	ctx := ctxFor(t)
	put(t, st, "valid.txt", []byte("v"))
	cases := append(slices.Clone(invalidNames), struct{ name, why string }{longName(st.ValidateName) + "y", "limit"})
	for _, c := range cases {
		ops := map[string]error{}
		ops["Put"] = st.Put(ctx, c.name, strings.NewReader("x"), nil)
		_, ops["Get"] = st.Get(ctx, c.name)
		_, ops["Open"] = st.Open(ctx, c.name)
		_, ops["OpenRange"] = st.OpenRange(ctx, c.name, 1, 2)
		_, ops["Stat"] = st.Stat(ctx, c.name)
		_, ops["Exists"] = st.Exists(ctx, c.name)
		ops["Delete"] = st.Delete(ctx, c.name)
		_, ops["Create"] = st.Create(ctx, c.name, nil)
		ops["Copy to"] = st.Copy(ctx, c.name, "valid.txt")
		ops["Copy from"] = st.Copy(ctx, "valid2.txt", c.name)
		_, ops["Save"] = st.Save(ctx, c.name, bytes.NewReader([]byte("x")), nil)
		_, ops["SignedURL"] = st.SignedURL(ctx, c.name, nil)
		_, ops["URL"] = st.URL(c.name)
		ops["ValidateName"] = st.ValidateName(c.name)
		for op, err := range ops {
			if !errors.Is(err, storage.ErrInvalidName) {
				t.Errorf("%s(%q) = %v, want ErrInvalidName", op, c.name, err)
				continue
			}
			quoted := strconv.Quote(c.name)
			if len(c.name) > 60 {
				quoted = quoted[:11]
			}
			if msg := err.Error(); !strings.Contains(msg, c.why) || !strings.Contains(msg, quoted) {
				t.Errorf("%s(%q) error %q does not name the name (%s) and say %q", op, c.name, msg, quoted, c.why)
			}
		}
	}
	for _, c := range invalidNames { // the package's own check, with the default limit
		if err := storage.ValidateName(c.name); !errors.Is(err, storage.ErrInvalidName) {
			t.Errorf("storage.ValidateName(%q) = %v, want ErrInvalidName", c.name, err)
		}
	}
	if got := names(t, st, nil); !slices.Equal(got, []string{"valid.txt"}) {
		t.Errorf("after rejected writes List = %q, want only valid.txt", got)
	}
	// A List prefix that no valid name can start with is rejected too.
	for _, p := range []string{"/abs", "../", "a//", `b\`, "x\x00"} {
		for _, err := range st.List(ctx, &storage.ListOptions{Prefix: p}) {
			if !errors.Is(err, storage.ErrInvalidName) {
				t.Errorf("List(prefix %q) = %v, want ErrInvalidName", p, err)
			}
			break
		}
	}
}
