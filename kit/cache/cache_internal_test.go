package cache

import (
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
