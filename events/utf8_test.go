package events

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestValidUTF8IsValidString: validUTF8 answers as utf8.ValidString for
// every length around its word size, with a byte of each kind at each
// place.
func TestValidUTF8IsValidString(t *testing.T) {
	bad := []string{"\x80", "\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80"}
	good := []string{"é", "€", "𝄞", "\u00a0", "\x7f", "\x00"}
	for n := 0; n <= 40; n++ {
		base := strings.Repeat("a", n)
		if !validUTF8(base) {
			t.Fatalf("validUTF8(%q) = false", base)
		}
		for i := 0; i <= n; i++ {
			for _, x := range append(append([]string{}, bad...), good...) {
				s := base[:i] + x + base[i:]
				if got, want := validUTF8(s), utf8.ValidString(s); got != want {
					t.Fatalf("validUTF8(%q) = %v, utf8.ValidString %v", s, got, want)
				}
			}
		}
	}
}

func FuzzValidUTF8(f *testing.F) {
	f.Add("user@example.com")
	f.Add("\xe2\x82\xacabcdefgh")
	f.Fuzz(func(t *testing.T, s string) {
		if validUTF8(s) != utf8.ValidString(s) {
			t.Fatalf("validUTF8(%q) differs from utf8.ValidString", s)
		}
	})
}
