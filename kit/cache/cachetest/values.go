package cachetest

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/cache"
)

func (s *suite) testValues(t *testing.T) {
	c, _ := s.cache(t)
	ctx := t.Context()

	t.Run("Miss", func(t *testing.T) {
		v, err := c.Get(ctx, "never-set")
		if !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Get of a key never set = %q, %v; want ErrNotFound", v, err)
		}
		if ok, err := c.Has(ctx, "never-set"); ok || err != nil {
			t.Errorf("Has of a key never set = %v, %v; want false, nil", ok, err)
		}
	})

	t.Run("RoundTrip", func(t *testing.T) {
		allBytes := make([]byte, 256)
		for i := range allBytes {
			allBytes[i] = byte(i)
		}
		large := make([]byte, 1<<20)
		rng := rand.NewChaCha8([32]byte{'k', 'i', 't'})
		_, _ = rng.Read(large)
		for _, tc := range []struct {
			name  string
			value []byte
		}{
			{"text", []byte("hello, world")},
			{"empty", []byte{}},
			{"nil", nil},
			{"all-bytes", allBytes},
			{"utf8", []byte("żółć – 日本語 – 🗝")},
			{"1MiB", large},
		} {
			key := "value-" + tc.name
			mustSet(t, c, key, tc.value, cache.DefaultTTL)
			got, err := c.Get(ctx, key)
			if err != nil {
				t.Errorf("%s: Get: %v", tc.name, err)
				continue
			}
			if !bytes.Equal(got, tc.value) {
				t.Errorf("%s: Get returned %d bytes %s, want the %d bytes set", tc.name, len(got), shorten(fmt.Sprintf("%q", got)), len(tc.value))
			}
			if ok, err := c.Has(ctx, key); !ok || err != nil {
				t.Errorf("%s: Has = %v, %v; want true", tc.name, ok, err)
			}
		}
	})

	t.Run("Overwrite", func(t *testing.T) {
		mustSet(t, c, "overwrite", []byte("first value, longer"), cache.DefaultTTL)
		mustSet(t, c, "overwrite", []byte("second"), cache.DefaultTTL)
		wantValue(t, c, "overwrite", "second")
	})

	t.Run("KeysAreDistinct", func(t *testing.T) {
		// Case, trailing separators and prefixes of one another: a backend that folds case (a
		// case-insensitive SQL collation) or trims keys would merge some of these.
		keys := []string{"Key", "key", "KEY", "key:", "key:a", "key/a", "key.a", "ключ", "Ключ"}
		for i, k := range keys {
			mustSet(t, c, k, []byte(fmt.Sprint("value ", i)), cache.DefaultTTL)
		}
		for i, k := range keys {
			wantValue(t, c, k, fmt.Sprint("value ", i))
		}
	})
}

func (s *suite) testConditional(t *testing.T) {
	c, _ := s.cache(t)
	ctx := t.Context()

	t.Run("AddAbsent", func(t *testing.T) {
		ok, err := c.Add(ctx, "add-absent", []byte("added"), cache.DefaultTTL)
		if !ok || err != nil {
			t.Fatalf("Add of an absent key = %v, %v; want true", ok, err)
		}
		wantValue(t, c, "add-absent", "added")
	})

	t.Run("AddPresent", func(t *testing.T) {
		mustSet(t, c, "add-present", []byte("old"), cache.DefaultTTL)
		ok, err := c.Add(ctx, "add-present", []byte("new"), cache.DefaultTTL)
		if ok || err != nil {
			t.Fatalf("Add of a present key = %v, %v; want false, nil", ok, err)
		}
		wantValue(t, c, "add-present", "old")
	})

	t.Run("ReplaceAbsent", func(t *testing.T) {
		ok, err := c.Replace(ctx, "replace-absent", []byte("new"), cache.DefaultTTL)
		if ok || err != nil {
			t.Fatalf("Replace of an absent key = %v, %v; want false, nil", ok, err)
		}
		wantMissing(t, c, "replace-absent")
	})

	t.Run("ReplacePresent", func(t *testing.T) {
		mustSet(t, c, "replace-present", []byte("old"), cache.DefaultTTL)
		ok, err := c.Replace(ctx, "replace-present", []byte("new"), cache.DefaultTTL)
		if !ok || err != nil {
			t.Fatalf("Replace of a present key = %v, %v; want true", ok, err)
		}
		wantValue(t, c, "replace-present", "new")
	})
}

func (s *suite) testDelete(t *testing.T) {
	c, _ := s.cache(t)
	ctx := t.Context()

	t.Run("Existed", func(t *testing.T) {
		mustSet(t, c, "delete-me", []byte("x"), cache.DefaultTTL)
		ok, err := c.Delete(ctx, "delete-me")
		if !ok || err != nil {
			t.Fatalf("Delete of a present key = %v, %v; want true", ok, err)
		}
		wantMissing(t, c, "delete-me")
		if ok, err := c.Has(ctx, "delete-me"); ok || err != nil {
			t.Errorf("Has after Delete = %v, %v; want false", ok, err)
		}
	})

	t.Run("Absent", func(t *testing.T) {
		ok, err := c.Delete(ctx, "never-set")
		if ok || err != nil {
			t.Fatalf("Delete of an absent key = %v, %v; want false, nil", ok, err)
		}
	})

	t.Run("Many", func(t *testing.T) {
		for _, k := range []string{"dm-a", "dm-b", "dm-c"} {
			mustSet(t, c, k, []byte(k), cache.DefaultTTL)
		}
		n, err := c.DeleteMany(ctx, "dm-a", "dm-b", "dm-missing", "dm-a")
		if err != nil || n != 2 {
			t.Fatalf("DeleteMany(2 present, 1 absent, 1 repeated) = %d, %v; want 2", n, err)
		}
		wantMissing(t, c, "dm-a")
		wantMissing(t, c, "dm-b")
		wantValue(t, c, "dm-c", "dm-c")
		if n, err := c.DeleteMany(ctx); n != 0 || err != nil {
			t.Errorf("DeleteMany() = %d, %v; want 0, nil", n, err)
		}
	})
}

func (s *suite) testMany(t *testing.T) {
	c, _ := s.cache(t)
	ctx := t.Context()

	t.Run("SomeMissing", func(t *testing.T) {
		mustSet(t, c, "gm-a", []byte("A"), cache.DefaultTTL)
		mustSet(t, c, "gm-b", []byte(""), cache.DefaultTTL)
		got, err := c.GetMany(ctx, "gm-a", "gm-missing", "gm-b", "gm-a")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]byte{"gm-a": []byte("A"), "gm-b": {}}
		if !maps.EqualFunc(got, want, bytes.Equal) {
			t.Errorf("GetMany(a, missing, b, a) = %q, want %q", got, want)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		got, err := c.GetMany(ctx)
		if err != nil || len(got) != 0 {
			t.Errorf("GetMany() = %q, %v; want an empty map", got, err)
		}
		if err := c.SetMany(ctx, nil, cache.DefaultTTL); err != nil {
			t.Errorf("SetMany(nil) = %v", err)
		}
	})

	t.Run("Hundred", func(t *testing.T) {
		items := make(map[string][]byte, 100)
		keys := make([]string, 0, 100)
		for i := range 100 {
			k := fmt.Sprintf("sm-%03d", i)
			items[k] = []byte(fmt.Sprintf("value %d", i))
			keys = append(keys, k)
		}
		if err := c.SetMany(ctx, items, time.Hour); err != nil {
			t.Fatalf("SetMany of 100: %v", err)
		}
		got, err := c.GetMany(ctx, keys...)
		if err != nil {
			t.Fatalf("GetMany of 100: %v", err)
		}
		if !maps.EqualFunc(got, items, bytes.Equal) {
			t.Errorf("GetMany of 100 returned %d entries, not the 100 set (keyed by the caller's keys)", len(got))
		}
		wantValue(t, c, "sm-042", "value 42")
		wantTTLNear(t, c, c.Driver().Capabilities(), "sm-099", time.Hour)
	})
}
