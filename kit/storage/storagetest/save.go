package storagetest

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stackkit/stackkit/kit/storage"
)

func (s *suite) testSave(t *testing.T) {
	t.Parallel()
	st := s.open(t)
	ctx := ctxFor(t)
	cases := []struct {
		name    string
		pattern string
	}{
		{"photo.jpg", `^photo_[A-Za-z0-9]{7}\.jpg$`},
		{"dir/archive.tar.gz", `^dir/archive_[A-Za-z0-9]{7}\.tar\.gz$`},
		{"README", `^README_[A-Za-z0-9]{7}$`},
		{"dir/.env", `^dir/\.env_[A-Za-z0-9]{7}$`},
	}
	for _, c := range cases {
		got, err := st.Save(ctx, c.name, strings.NewReader("first"), nil)
		if err != nil || got != c.name {
			t.Fatalf("Save(%q) of a free name = %q, %v; want the name itself", c.name, got, err)
		}
		seen := map[string]bool{got: true}
		re := regexp.MustCompile(c.pattern)
		for i := range 3 {
			content := fmt.Sprintf("version %d", i)
			got, err := st.Save(ctx, c.name, strings.NewReader(content), nil)
			if err != nil {
				t.Fatalf("Save(%q) of a taken name: %v", c.name, err)
			}
			if !re.MatchString(got) || seen[got] {
				t.Errorf("Save(%q) of a taken name = %q, want a new name matching %s", c.name, got, c.pattern)
			}
			seen[got] = true
			wantContent(t, st, got, []byte(content))
		}
		wantContent(t, st, c.name, []byte("first"))
	}
	// A non-seekable reader is fine when there is no race.
	got, err := st.Save(ctx, "photo.jpg", onlyReader{strings.NewReader("streamed")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantContent(t, st, got, []byte("streamed"))
	// The longest name gets its stem shortened to fit the suffix.
	long := longName(st.ValidateName)
	long = long[:len(long)-4] + ".txt"
	put(t, st, long, []byte("long"))
	got, err = st.Save(ctx, long, strings.NewReader("longer"), nil)
	if err != nil {
		t.Fatalf("Save(longest name): %v", err)
	}
	if got == long || !strings.HasSuffix(got, ".txt") || st.ValidateName(got) != nil {
		t.Errorf("Save(longest name) = %q", got)
	}
	wantContent(t, st, got, []byte("longer"))
}

func (s *suite) testSaveConcurrent(t *testing.T) {
	t.Parallel()
	st := s.open(t)
	ctx := ctxFor(t)
	const n = 8
	var wg sync.WaitGroup
	saved := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			saved[i], errs[i] = st.Save(ctx, "race/upload.txt", bytes.NewReader([]byte(fmt.Sprintf("writer %d", i))), nil)
		})
	}
	close(start)
	wg.Wait()
	seen := map[string]int{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Save %d: %v", i, errs[i])
		}
		if j, dup := seen[saved[i]]; dup {
			t.Fatalf("Saves %d and %d both got %q: one overwrote the other", j, i, saved[i])
		}
		seen[saved[i]] = i
		wantContent(t, st, saved[i], []byte(fmt.Sprintf("writer %d", i)))
	}
	if _, ok := seen["race/upload.txt"]; !ok {
		t.Errorf("no Save got the free name: %q", saved)
	}
	if got := names(t, st, &storage.ListOptions{Prefix: "race/"}); len(got) != n {
		t.Errorf("List after %d Saves = %q", n, got)
	}
}
