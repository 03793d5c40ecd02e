package cache

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// plainKeyRef is the byte-wise definition plainKey must agree with.
func plainKeyRef(k string) bool {
	for i := 0; i < len(k); i++ {
		if b := k[i]; b <= ' ' || b == 0x7f {
			return false
		}
	}
	return true
}

func TestPlainKeyEveryByteEveryPosition(t *testing.T) {
	for n := 1; n <= 17; n++ {
		for pos := range n {
			for b := range 256 {
				k := []byte(strings.Repeat("a", n))
				k[pos] = byte(b)
				if got, want := plainKey(string(k)), plainKeyRef(string(k)); got != want {
					t.Fatalf("plainKey(%q) = %v, want %v", k, got, want)
				}
			}
		}
	}
}

func FuzzPlainKey(f *testing.F) {
	for _, s := range []string{"", "user:1", "a b", "tab\there", "del\x7f", "\x80\xff\xfe", "ü€😀", "12345678\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, k string) {
		if got, want := plainKey(k), plainKeyRef(k); got != want {
			t.Fatalf("plainKey(%q) = %v, want %v", k, got, want)
		}
	})
}

// TestMemoryGetChecksKeyOnMiss pins the memory:// read path that checks the key only on a miss:
// the answers are the ones checking first gives.
func TestMemoryGetChecksKeyOnMiss(t *testing.T) {
	ctx := t.Context()
	c, err := Open(ctx, "memory://")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.mem == nil || !c.plain {
		t.Fatal("memory:// without telemetry does not take the direct read path")
	}
	if err := c.Set(ctx, "k", []byte("v"), NoExpiry); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "k"); err != nil || string(v) != "v" {
		t.Fatalf("Get(k) = %q, %v", v, err)
	}
	if _, err := c.Get(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(missing) = %v, want ErrNotFound", err)
	}
	for _, k := range []string{"", "a b\x00", "a\nb", strings.Repeat("k", defaultMaxKeyLen+1)} {
		if _, err := c.Get(ctx, k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Get(%q) = %v, want ErrInvalidKey", shortKey(k), err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Get(cancelled, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context = %v, want context.Canceled", err)
	}
	c.Close()
	if _, err := c.Get(ctx, "k"); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
}
