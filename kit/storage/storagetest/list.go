package storagetest

import (
	"slices"
	"strconv"
	"testing"

	"github.com/stackkit/stackkit/kit/storage"
)

// names lists with opts and returns the names, directories with their trailing delimiter.
func names(t *testing.T, st *storage.Storage, opts *storage.ListOptions) []string {
	t.Helper()
	var out []string
	for obj, err := range st.List(ctxFor(t), opts) {
		if err != nil {
			t.Fatalf("List(%+v): %v", opts, err)
		}
		out = append(out, obj.Name)
	}
	return out
}

var listNames = []string{
	"a.txt", "b-x.txt", "b/1.txt", "b/2.txt", "b/c/3.txt", "b/c/d/4.txt", "c.txt", "ca/5.txt", "ü/6.txt",
}

func (s *suite) testList(t *testing.T) {
	t.Parallel()
	st := s.open(t)
	if got := names(t, st, nil); len(got) != 0 {
		t.Fatalf("List of an empty storage = %q", got)
	}
	for i, n := range slices.Backward(listNames) {
		put(t, st, n, []byte(n+strconv.Itoa(i)))
	}
	cases := []struct {
		prefix, delim string
		want          []string
	}{
		{"", "", listNames},
		{"b/", "", []string{"b/1.txt", "b/2.txt", "b/c/3.txt", "b/c/d/4.txt"}},
		{"b", "", []string{"b-x.txt", "b/1.txt", "b/2.txt", "b/c/3.txt", "b/c/d/4.txt"}},
		{"b/c", "", []string{"b/c/3.txt", "b/c/d/4.txt"}},
		{"", "/", []string{"a.txt", "b-x.txt", "b/", "c.txt", "ca/", "ü/"}},
		{"b/", "/", []string{"b/1.txt", "b/2.txt", "b/c/"}},
		{"b", "/", []string{"b-x.txt", "b/"}},
		{"b/c/", "/", []string{"b/c/3.txt", "b/c/d/"}},
		{"c", "/", []string{"c.txt", "ca/"}},
		{"zzz", "", nil},
		{"a.txt", "", []string{"a.txt"}},
		{"a.txt/", "", nil},
		{"", ".", []string{"a.", "b-x.", "b/1.", "b/2.", "b/c/3.", "b/c/d/4.", "c.", "ca/5.", "ü/6."}},
	}
	for _, c := range cases {
		got := names(t, st, &storage.ListOptions{Prefix: c.prefix, Delimiter: c.delim})
		if !slices.Equal(got, c.want) {
			t.Errorf("List(prefix %q, delimiter %q) = %q, want %q", c.prefix, c.delim, got, c.want)
		}
	}
	// Entries carry sizes; rolled-up prefixes are marked.
	for obj, err := range st.List(ctxFor(t), &storage.ListOptions{Delimiter: "/"}) {
		if err != nil {
			t.Fatal(err)
		}
		wantDir := obj.Name[len(obj.Name)-1] == '/'
		if obj.IsDir != wantDir {
			t.Errorf("%q: IsDir = %v", obj.Name, obj.IsDir)
		}
		if !obj.IsDir && obj.Size != int64(len(obj.Name)+1) {
			t.Errorf("%q: Size = %d, want %d", obj.Name, obj.Size, len(obj.Name)+1)
		}
	}
	// Breaking out of the loop early is fine.
	for range st.List(ctxFor(t), nil) {
		break
	}
}

func (s *suite) testListPaging(t *testing.T) {
	t.Parallel()
	st := s.open(t)
	var all []string
	for i := range 23 {
		all = append(all, "p/"+strconv.Itoa(100+i)+".txt")
	}
	all = append(all, "p/dir1/a", "p/dir1/b", "p/dir2/a", "p/z")
	slices.Sort(all)
	for _, n := range all {
		put(t, st, n, []byte("x"))
	}
	rolled := []string{}
	for _, n := range all {
		if len(n) > 6 && n[:6] == "p/dir1" {
			if !slices.Contains(rolled, "p/dir1/") {
				rolled = append(rolled, "p/dir1/")
			}
			continue
		}
		if len(n) > 6 && n[:6] == "p/dir2" {
			if !slices.Contains(rolled, "p/dir2/") {
				rolled = append(rolled, "p/dir2/")
			}
			continue
		}
		rolled = append(rolled, n)
	}
	for _, size := range []int{1, 2, 5, 26, 27, 100} {
		for _, delim := range []string{"", "/"} {
			want := all
			if delim != "" {
				want = rolled
			}
			opts := &storage.ListOptions{Prefix: "p/", Delimiter: delim, PageSize: size}
			if got := names(t, st, opts); !slices.Equal(got, want) {
				t.Errorf("List(page size %d, delimiter %q) = %q, want %q", size, delim, got, want)
			}
			var pages int
			var got []string
			for page, err := range st.ListPages(ctxFor(t), opts) {
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if len(page.Objects) > size {
					t.Errorf("page of %d objects with page size %d", len(page.Objects), size)
				}
				for _, o := range page.Objects {
					got = append(got, o.Name)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("ListPages(page size %d, delimiter %q) = %q, want %q", size, delim, got, want)
			}
			if wantPages := max(1, (len(want)+size-1)/size); pages != wantPages && pages != wantPages+1 {
				t.Errorf("ListPages(page size %d, delimiter %q): %d pages for %d entries", size, delim, pages, len(want))
			}
		}
	}
	// Resuming from a page's token, as an HTTP API paging through a listing does.
	opts := &storage.ListOptions{Prefix: "p/", Delimiter: "/", PageSize: 4}
	var got []string
	for {
		var next string
		for page, err := range st.ListPages(ctxFor(t), opts) {
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page.Objects {
				got = append(got, o.Name)
			}
			next = page.NextToken
			break // one request per "HTTP call"
		}
		if next == "" {
			break
		}
		opts.Token = next
	}
	if !slices.Equal(got, rolled) {
		t.Errorf("paging by token = %q, want %q", got, rolled)
	}
}
